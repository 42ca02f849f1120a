"""Training callbacks and logs: early stopping and the best checkpoint decide the same in
both backends (the same epoch, the same restored weights), resume keeps their state, the
learning rate is in the history, history.csv and TensorBoard event files read back, files
share one mode, a missing plotter is said, and Keras' --amp stays within its bound."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

import specc
from specc.train import TrainError, TrainOptions, train
from specc.weights import load as load_weights

ROOT = Path(__file__).resolve().parents[1]

OVERFIT = """
model over {
  input x: float32[20]
  dense(64, activation=relu)
  dense(3, activation=softmax)
  train {
    loss sparse_categorical_crossentropy
    optimizer adam(lr=3e-2)
    schedule step(step_size=16, gamma=0.5)
    metrics [accuracy]
    batch 16
    epochs 30
    callbacks [early_stopping(monitor=val_loss, patience=2, min_delta=1e-3, restore_best=true)]
  }
}
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> str:
    """Random labels: the training loss falls, the validation loss soon rises."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((240, 20)).astype(np.float32)
    y = rng.integers(0, 3, 240)
    path = tmp_path_factory.mktemp("data") / "over.npz"
    np.savez(path, x=x[:120], y=y[:120], x_val=x[120:], y_val=y[120:])
    return str(path)


def run(spec, backend, out, data, **kw):
    return train(TrainOptions(spec, backend, data=data, out=out, quiet=kw.pop("quiet", True), plot=kw.pop("plot", False), **kw))


def max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float(np.max(np.abs(a[k] - b[k]))) for k in a)


@pytest.fixture(scope="module")
def stopped(tmp_path_factory, data):
    root = tmp_path_factory.mktemp("stop")
    return {b: run(OVERFIT, b, root / b, data) for b in ("torch", "keras")}


def test_both_backends_stop_at_the_same_epoch_and_restore_the_best(stopped):
    t, k = stopped["torch"], stopped["keras"]
    # Keras' rule, by hand: an epoch improves when it beats the best by more than
    # min_delta; stop after `patience` epochs in a row without one
    best_v, best, wait, stop = None, None, 0, None
    for h in t.history:
        v = h["val"]["loss"]
        if best_v is None or v < best_v - 1e-3:
            best_v, best, wait = v, h["epoch"], 0
        else:
            wait += 1
        if wait == 2:
            stop = h["epoch"]
            break
    assert stop is not None and best is not None
    assert t.stopped_epoch == k.stopped_epoch == len(t.history) == len(k.history) == stop < 30
    assert t.best_epoch == k.best_epoch == best and t.restored_best and k.restored_best
    for r in (t, k):
        kept = load_weights(r.out / "checkpoints" / f"epoch-{best:04d}" / "weights.safetensors")
        assert max_diff(r.weights, kept) == 0.0  # the run ends with the best epoch's weights …
        assert max_diff(load_weights(r.out / "weights.safetensors"), kept) == 0.0
        assert max_diff(load_weights(r.out / "best.safetensors"), kept) == 0.0
        last = load_weights(r.out / "checkpoints" / f"epoch-{r.stopped_epoch:04d}" / "weights.safetensors")
        assert max_diff(last, kept) > 1e-3  # … not the last epoch's
        doc = json.loads((r.out / "history.json").read_text())
        assert (doc["best_epoch"], doc["stopped_epoch"]) == (best, r.stopped_epoch)
    assert max_diff(t.weights, k.weights) < 1e-4  # and both backends trained the same weights


def test_without_restore_the_run_ends_with_its_last_weights_and_keeps_the_best(tmp_path, data):
    spec = OVERFIT.replace(", restore_best=true", "").replace("patience=2", "patience=4")
    r = run(spec, "torch", tmp_path / "run", data)
    assert not r.restored_best and r.stopped_epoch == len(r.history)
    ckpts = sorted(p.name for p in (r.out / "checkpoints").iterdir())
    # the two newest checkpoints and the best one, however old
    assert ckpts == [f"epoch-{r.best_epoch:04d}", f"epoch-{r.stopped_epoch - 1:04d}", f"epoch-{r.stopped_epoch:04d}"]
    best = load_weights(r.out / "checkpoints" / ckpts[0] / "weights.safetensors")
    assert max_diff(load_weights(r.out / "best.safetensors"), best) == 0.0
    assert max_diff(r.weights, load_weights(r.out / "checkpoints" / ckpts[-1] / "weights.safetensors")) == 0.0


def test_resume_keeps_the_callbacks_state(tmp_path, data, stopped):
    ref = stopped["torch"]
    part = run(OVERFIT, "torch", tmp_path / "run", data, epochs=ref.best_epoch + 1)  # stopped by --epochs, not yet by patience
    assert part.stopped_epoch is None
    resumed = run(OVERFIT, "torch", tmp_path / "run", data, resume=True)
    assert (resumed.stopped_epoch, resumed.best_epoch) == (ref.stopped_epoch, ref.best_epoch)
    assert resumed.restored_best  # the best epoch was before the resume: read from its kept checkpoint
    assert max_diff(resumed.weights, ref.weights) == 0.0
    again = run(OVERFIT, "torch", tmp_path / "run", data, resume=True)  # nothing left to do
    assert again.stopped_epoch == ref.stopped_epoch and len(again.history) == len(ref.history)


TWO_MONITORS = """
model two {
  input x: float32[5]
  dense(32, activation=tanh)
  dense(2, activation=softmax)
  train {
    loss sparse_categorical_crossentropy
    optimizer sgd(lr=0.5, momentum=0.9)
    schedule step(step_size=3, gamma=0.5)
    metrics [accuracy]
    batch 16
    epochs 40
    seed 3
    validation_split 0.5
    callbacks [early_stopping(monitor=val_accuracy, patience=2, min_delta=0.01, restore_best=true), best_checkpoint(monitor=val_loss)]
  }
}
"""


@pytest.mark.parametrize("backend", ["torch", "keras"])
def test_restore_best_follows_early_stoppings_monitor_not_the_best_checkpoints(tmp_path, backend):
    """restore_best ends with the best epoch by early stopping's own monitor (Keras'
    restore_best_weights), even when best_checkpoint watches another one; that epoch's
    checkpoint is kept, and best.safetensors stays best_checkpoint's."""
    pytest.importorskip(backend)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((80, 5)).astype(np.float32)
    np.savez(tmp_path / "d.npz", x=x, y=(x[:, 0] + 0.8 * rng.standard_normal(80) > 0).astype(np.int64))
    r = run(TWO_MONITORS, backend, tmp_path / "run", str(tmp_path / "d.npz"))
    acc = [h["val"]["accuracy"] for h in r.history]
    es_best = 1 + acc.index(max(acc))  # min_delta 0.01: the first epoch of the highest accuracy here
    assert r.stopped_epoch == len(r.history) and es_best < r.best_epoch  # the two monitors disagree
    assert r.restored_best
    kept = load_weights(r.out / "checkpoints" / f"epoch-{es_best:04d}" / "weights.safetensors")
    assert max_diff(r.weights, kept) == 0.0
    assert max_diff(load_weights(r.out / "weights.safetensors"), kept) == 0.0
    best = load_weights(r.out / "checkpoints" / f"epoch-{r.best_epoch:04d}" / "weights.safetensors")
    assert max_diff(load_weights(r.out / "best.safetensors"), best) == 0.0 and max_diff(best, kept) > 1e-3
    doc = json.loads((r.out / "history.json").read_text())
    assert (doc["best_epoch"], doc["restored_epoch"], doc["stopped_epoch"]) == (r.best_epoch, es_best, r.stopped_epoch)


def test_history_has_the_learning_rate_and_the_csv_reads_back(stopped):
    r = stopped["keras"]
    steps_per_epoch = 120 // 16 + 1
    for h in r.history:  # step(step_size=16, gamma=0.5) at the epoch's last step
        assert h["step"] == h["epoch"] * steps_per_epoch
        assert h["lr"] == pytest.approx(3e-2 * 0.5 ** ((h["step"] - 1) // 16))
    rows = list(csv.DictReader(io.StringIO((r.out / "history.csv").read_text())))
    assert list(rows[0]) == ["epoch", "step", "seconds", "lr", "loss", "accuracy", "val_loss", "val_accuracy"]
    assert [int(row["epoch"]) for row in rows] == [h["epoch"] for h in r.history]
    for row, h in zip(rows, r.history, strict=True):
        assert float(row["val_loss"]) == h["val"]["loss"] and float(row["lr"]) == h["lr"]


@pytest.mark.parametrize("width", [80, 120])
def test_the_progress_bar_keeps_the_time_left_and_speed_readable(width):
    """On an 80-column terminal the bar's time left, examples/s and lr stay whole on one
    line (the running metrics are cut instead)."""
    import re
    import time

    from specc.train.report import Progressbar

    console = Console(width=width, file=io.StringIO(), force_terminal=True, color_system=None)
    bar = Progressbar(console)
    bar.begin(0, 15, 23, batch=64, examples=1438)
    try:
        for _ in range(3):
            time.sleep(0.02)
            bar.advance(2.40331, {"accuracy": 0.1172, "f1": 0.1}, lr=0.002)
        lines = console.render_lines(bar.progress.make_tasks_table(bar.progress.tasks), console.options)
    finally:
        bar.end()
    assert len(lines) == 1
    text = "".join(s.text for s in lines[0])
    assert re.search(r"epoch 1/15 .* 3/23 ETA \d:\d\d:\d\d [\d,]+ ex/s  lr 0\.002 loss 2\.4", text), text


def test_tensorboard_event_files_read_back(tmp_path, data):
    pytest.importorskip("tensorboardX")
    tf = pytest.importorskip("tensorflow")
    spec = OVERFIT.replace("epochs 30", "epochs 3")
    r = run(spec, "keras", tmp_path / "run", data, tensorboard=True)
    files = list((r.out / "tensorboard").glob("events.out.tfevents.*"))
    assert len(files) == 1
    scalars: dict[str, list[tuple[int, float]]] = {}
    for event in tf.compat.v1.train.summary_iterator(str(files[0])):  # TensorFlow's own reader
        for v in event.summary.value:
            scalars.setdefault(v.tag, []).append((event.step, v.simple_value))
    assert {"loss/train", "loss/val", "accuracy/train", "accuracy/val", "lr", "examples_per_second"} <= set(scalars)
    assert [s for s, _ in scalars["loss/val"]] == [h["step"] for h in r.history]
    assert [v for _, v in scalars["loss/val"]] == pytest.approx([h["val"]["loss"] for h in r.history], rel=1e-6)


def test_tensorboard_without_its_writer_is_a_clear_error(tmp_path, data, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # as if not installed
    from specc.extras import MissingDependency

    with pytest.raises(MissingDependency, match=r"--tensorboard needs tensorboardX, which is not installed") as e:
        run(OVERFIT, "torch", tmp_path / "run", data, tensorboard=True)
    assert "specc[tensorboard]" in e.value.render() and e.value.exit_code == 2  # an environment, not the input


def test_an_unwritable_tensorboard_folder_is_an_environment_error(tmp_path, data):
    pytest.importorskip("tensorboardX")
    from specc.extras import EnvError

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "tensorboard").write_text("")  # a file where the folder goes
    with pytest.raises(EnvError, match="cannot write TensorBoard logs") as e:
        run(OVERFIT, "torch", tmp_path / "run", data, tensorboard=True)
    assert e.value.exit_code == 2  # the environment, not the input (README: exit status)


def test_files_of_a_run_share_one_mode_and_a_missing_plotter_is_said(tmp_path, data, monkeypatch):
    spec = OVERFIT.replace("epochs 30", "epochs 1")
    run(spec, "torch", tmp_path / "plot", data, plot=True)
    out = tmp_path / "plot"
    expected = 0o666 & ~_umask()
    for name in ("weights.safetensors", "best.safetensors", "history.json", "history.csv", "learning_curve.png"):
        assert (out / name).stat().st_mode & 0o777 == expected, name
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    buf = io.StringIO()
    train(TrainOptions(spec, "torch", data=data, out=tmp_path / "noplot", console=Console(file=buf, width=300)))
    assert "note: no learning curve drawn: matplotlib is not installed" in buf.getvalue()
    assert not (tmp_path / "noplot" / "learning_curve.png").exists()


@pytest.mark.parametrize("mask", [0o002, 0o077])
def test_every_file_and_folder_of_a_run_honours_the_umask(tmp_path, data, mask):
    """Checkpoint folders (made by mkdtemp, 0700), the optimizer state (safetensors'
    writer, 0600), the lock (0644) and everything else: 0666 / 0777 & ~umask."""
    spec = OVERFIT.replace("epochs 30", "epochs 3")
    old = os.umask(mask)
    try:
        r = run(spec, "torch", tmp_path / "run", data, tensorboard=importlib.util.find_spec("tensorboardX") is not None)
    finally:
        os.umask(old)
    modes = {p.relative_to(r.out).as_posix(): p.stat().st_mode & 0o777 for p in r.out.rglob("*")}
    assert "checkpoints/epoch-0003/state.safetensors" in modes and ".lock" in modes
    want = {p: (0o777 if (r.out / p).is_dir() else 0o666) & ~mask for p in modes}
    assert modes == want


def test_an_exported_folder_honours_the_umask(tmp_path):
    """TensorFlow writes a SavedModel's folders 0755 whatever the umask."""
    from specc.export.atomic import atomic_target

    old = os.umask(0o002)
    try:
        with atomic_target(tmp_path / "sm", directory=True) as tmp:
            os.mkdir(tmp, 0o755)
            os.mkdir(tmp / "variables", 0o755)
            (tmp / "variables" / "v.data").write_bytes(b"x")
            os.chmod(tmp / "variables" / "v.data", 0o600)
    finally:
        os.umask(old)
    assert [(tmp_path / "sm" / p).stat().st_mode & 0o777 for p in ("", "variables", "variables/v.data")] == [0o775, 0o775, 0o664]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_monitors_are_checked_against_the_spec_and_the_data(tmp_path):
    bad = OVERFIT.replace("monitor=val_loss", "monitor=val_f1")
    with pytest.raises(specc.SpecError) as e:
        specc.loads(bad, "over.spec")
    (d,) = e.value.diagnostics
    assert "cannot monitor 'val_f1'" in d.message and "val_accuracy" in d.message and d.span.line == 13
    twice = OVERFIT.replace("restore_best=true)]", "restore_best=true), early_stopping(loss)]")
    with pytest.raises(specc.SpecError, match="early_stopping is given 2 times"):
        specc.loads(twice)
    no_val = OVERFIT.replace("epochs 30", "epochs 2\n    validation_split 0")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "train_only.npz", x=rng.standard_normal((32, 20)).astype(np.float32), y=rng.integers(0, 3, 32))
    with pytest.raises(TrainError, match="monitors val_loss, but this run has no validation data"):
        train(TrainOptions(no_val, "torch", data=str(tmp_path / "train_only.npz"), out=tmp_path / "r", quiet=True, plot=False))
    # the IR keeps the callbacks and reads them back from JSON
    m = specc.loads(OVERFIT)
    assert specc.ir.graph.Model.from_json(m.to_json()).train.callbacks == m.train.callbacks


def test_keras_amp_stays_within_its_bound_of_float32():
    """--amp for Keras (mixed_bfloat16): outputs within 2⁻⁵ of float32's, relative to
    the largest output (README: each weighted layer rounds inputs and weights to
    bfloat16, 2⁻⁹ each, accumulating in float32; 8 layers at 2⁻⁸ each give 2⁻⁵).  A model
    whose last layer really differs (noise of 0.3 of its weights' spread) falls outside it."""
    pytest.importorskip("keras")
    from specc.weights import init_weights

    bound = 2.0**-5
    for name in ("digits_cnn", "transformer_classifier"):
        m = specc.load(ROOT / "specs" / f"{name}.spec")
        w = init_weights(m, 0)
        rng = np.random.default_rng(1)
        i = m.inputs[0]
        x = rng.random((64, *i.type.shape)).astype(np.float32) if i.type.is_float else rng.integers(0, 2000, (64, *i.type.shape)).astype(np.int32)
        ref = np.asarray(specc.build(m, "keras", weights=w)(x, training=False), np.float64)
        amp = np.asarray(specc.build(m, "keras", weights=w, mixed_precision="mixed_bfloat16")(x, training=False), np.float64)
        scale = np.max(np.abs(ref))
        assert 0 < np.max(np.abs(amp - ref)) / scale <= bound, name
        last = [k for k in w if k.endswith(".kernel")][-1]
        noise = np.random.default_rng(2).standard_normal(w[last].shape).astype(np.float32)
        off = {**w, last: w[last] + 0.3 * w[last].std() * noise}
        other = np.asarray(specc.build(m, "keras", weights=off, mixed_precision="mixed_bfloat16")(x, training=False), np.float64)
        assert np.max(np.abs(other - ref)) / scale > bound, name
