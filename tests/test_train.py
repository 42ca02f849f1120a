"""``specc train``: resume equals an uninterrupted run, a killed run leaves a valid
checkpoint, EMA, --init-from with frozen layers, both backends on the same batches,
DDP with 2 processes equals 1 process, and the command line."""

from __future__ import annotations

import json
import os
import socket
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import specc
from specc.train import TrainError, TrainOptions, train
from specc.train.batches import epoch_batches
from specc.train.data import load_data
from specc.train.run import make_trainer
from specc.weights import init_weights
from specc.weights import load as load_weights

ROOT = Path(__file__).resolve().parents[1]

TINY = """
model tiny {
  input x: float32[6]
  dense(16, activation=relu)
  dropout(0.2)
  dense(3, activation=softmax)
  train {
    loss sparse_categorical_crossentropy
    optimizer adam(lr=1e-2)
    schedule step(step_size=20, gamma=0.5)
    metrics [accuracy, f1]
    batch 64
    epochs 3
    ema 0.8
  }
}
"""
PLAIN = TINY.replace("  dropout(0.2)\n", "").replace("    ema 0.8\n", "")


def run(spec=TINY, backend="torch", out=None, **kw):
    return train(TrainOptions(spec, backend, data=kw.pop("data", "synthetic"), out=out, quiet=True, plot=kw.pop("plot", False), **kw))


def strip(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


def max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float(np.max(np.abs(a[k] - b[k]))) for k in a)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted 3-epoch torch run of TINY."""
    return run(out=tmp_path_factory.mktemp("ref") / "run")


@pytest.mark.parametrize("backend", ["torch", "keras"])
def test_resume_equals_uninterrupted(tmp_path, reference, backend):
    full = reference if backend == "torch" else run(backend=backend, out=tmp_path / "full")
    part = run(backend=backend, out=tmp_path / "part", epochs=2)
    assert part.final["epoch"] == 2
    resumed = run(backend=backend, out=tmp_path / "part", resume=True)
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3]
    # dropout, Adam moments, the schedule's step count and the EMA all carry over exactly
    assert max_diff(full.weights, resumed.weights) == 0.0
    assert max_diff(full.ema, resumed.ema) == 0.0
    assert strip(resumed.history) == strip(full.history)
    again = run(backend=backend, out=tmp_path / "part", resume=True)  # nothing left to do
    assert again.history[-1]["epoch"] == 3


def test_checkpoint_mismatch_is_reported(tmp_path, reference):
    with pytest.raises(TrainError, match="no checkpoint to resume"):
        run(out=tmp_path / "empty", resume=True)
    with pytest.raises(TrainError, match="another model"):
        run(spec=PLAIN.replace("dense(16", "dense(8"), out=reference.out, resume=True)
    with pytest.raises(TrainError, match="written by the torch backend"):
        run(backend="keras", out=reference.out, resume=True)
    with pytest.raises(TrainError, match="already holds a training run"):
        run(out=reference.out)


KILLER = """
import os, signal, sys
import specc.train.checkpoint as ck
from specc.train import TrainOptions, train

real = ck.save

def dying(weights, path, metadata=None):
    if ".epoch-0002" in str(path):  # half a file, then a hard kill: no handler runs
        with open(path, "wb") as f:
            f.write(b"half a checkpoint")
        os.kill(os.getpid(), signal.SIGKILL)
    return real(weights, path, metadata)

ck.save = dying
train(TrainOptions(sys.argv[1], "torch", data="synthetic", out=sys.argv[2], quiet=True, plot=False))
"""


def test_killed_mid_save_leaves_the_previous_checkpoint(tmp_path, reference):
    (tmp_path / "tiny.spec").write_text(TINY)
    (tmp_path / "killer.py").write_text(KILLER)
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "killer.py", "tiny.spec", str(out)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == -signal.SIGKILL, r.stderr
    ckpts = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert ckpts[0].startswith(".epoch-0002.tmp") and ckpts[1:] == ["epoch-0001"]
    assert load_weights(out / "weights.safetensors").keys() == reference.weights.keys()
    resumed = run(out=out, resume=True)
    assert not any(p.name.startswith(".") for p in (out / "checkpoints").iterdir())  # leftovers cleaned
    assert max_diff(reference.weights, resumed.weights) == 0.0


def test_damaged_newest_checkpoint_falls_back(tmp_path, reference):
    out = tmp_path / "run"
    run(out=out, epochs=2)
    newest = out / "checkpoints" / "epoch-0002" / "state.safetensors"
    newest.write_bytes(newest.read_bytes()[:-7] + b"garbage")
    resumed = run(out=out, resume=True)  # continues from epoch 1, with a note
    assert max_diff(reference.weights, resumed.weights) == 0.0


@pytest.mark.parametrize("backend", ["torch", "keras"])
def test_ema_follows_the_formula(backend):
    model = specc.loads(TINY)
    data = load_data(model, "synthetic").train
    w0 = init_weights(model, 0)
    trainer = make_trainer(backend, model, w0, seed=0)
    trainable = [f"{n.name}.{w.name}" for n, w in model.weights()]
    ema = {k: w0[k].copy() for k in trainable}
    decay = model.train.ema

    class Hooks:
        batch_mode = "sync"

        def epoch_begin(self, epoch, batches):
            pass

        def batch_end(self, i, loss, metrics=None):
            w = trainer.get_weights()
            for k in ema:
                ema[k] = decay * ema[k] + (1 - decay) * w[k]

        def epoch_end(self, epoch):
            pass

    trainer.fit(data, 0, 1, 128, Hooks())
    got = trainer.ema_weights()
    assert max_diff({k: got[k] for k in ema}, ema) < 1e-6
    live = trainer.get_weights()
    assert max_diff({k: live[k] for k in ema}, ema) > 1e-3  # the average really lags the weights


def test_ema_weights_are_saved_and_used_for_validation(reference):
    ema = load_weights(reference.out / "ema.safetensors")
    assert max_diff(ema, reference.ema) == 0.0
    from specc.train.evaluate import evaluate

    m, n, path = evaluate(TINY, reference.out, "torch", "synthetic")
    assert path.name == "ema.safetensors"
    assert m == pytest.approx(reference.final["val"], rel=1e-9)
    m_live, _, _ = evaluate(TINY, reference.out / "weights.safetensors", "torch", "synthetic")
    assert m_live["loss"] != pytest.approx(m["loss"], rel=1e-6)


FROZEN = """
model b {
  input x: float32[6]
  dense(16, activation=relu, trainable=false)
  dense(8, activation=relu, name=extra)
  dense(4, activation=softmax)
  train { loss sparse_categorical_crossentropy
          optimizer adam(lr=1e-2)
          batch 64
          epochs 1 }
}
"""


def test_init_from_matching_rules():
    from specc.train.initfrom import merge_init

    model = specc.loads(FROZEN)
    init = init_weights(model, 0)
    ckpt = {"dense.kernel": np.ones((6, 16)), "dense.bias": np.ones(16), "extra.kernel": np.ones((16, 8)), "old.kernel": np.ones(2), "dense_1.kernel": np.ones((8, 4))}
    w, rep = merge_init(model, init, ckpt)
    assert rep.matched == ["dense"] and rep.missing == [] and rep.unused == ["old"]
    assert rep.skipped == ["extra (checkpoint lacks bias)", "dense_1 (checkpoint lacks bias)"]
    assert np.all(w["dense.kernel"] == 1) and np.array_equal(w["extra.kernel"], init["extra.kernel"])


@pytest.mark.parametrize("backend", ["torch", "keras"])
def test_init_from_reports_and_frozen_layers_stay(tmp_path, reference, backend, capsys):
    from rich.console import Console

    src = reference.out / "weights.safetensors"
    saved = load_weights(src)
    console = Console(file=sys.stdout, width=200)
    r = train(TrainOptions(FROZEN, backend, data="synthetic", out=tmp_path / "b", init_from=src, plot=False, console=console))
    text = capsys.readouterr().out
    assert "1 layer(s) loaded, 1 skipped (shape mismatch), 1 missing, 0 unused" in text
    assert "loaded:  dense\n" in text and "skipped: dense_1 (kernel (16, 3) in the checkpoint vs (8, 4) here" in text
    assert "missing (initialised from the spec): extra" in text
    for k in ("dense.kernel", "dense.bias"):  # frozen: exactly the checkpoint's numbers
        np.testing.assert_array_equal(r.weights[k], saved[k].astype(np.float32))
    init = init_weights(specc.loads(FROZEN), 0)
    assert np.max(np.abs(r.weights["extra.kernel"] - init["extra.kernel"])) > 1e-3  # trainable layers moved


def test_backends_see_the_same_batches(tmp_path):
    """No dropout: same initial weights + same batches → the same training (and EMA) in both."""
    spec = TINY.replace("  dropout(0.2)\n", "")
    t = run(spec=spec, out=tmp_path / "t", epochs=2)
    k = run(spec=spec, backend="keras", out=tmp_path / "k", epochs=2)
    assert max_diff(t.weights, k.weights) < 1e-5 and max_diff(t.ema, k.ema) < 1e-5
    for a, b in zip(t.history, k.history, strict=True):
        assert a["val"] == pytest.approx(b["val"], abs=1e-5)
        assert a["step"] == b["step"]


def test_compiled_step_equals_eager(tmp_path, monkeypatch):
    monkeypatch.setenv("SPECC_COMPILE_BACKEND", "eager")  # dynamo's graph capture, no C++ build
    eager = run(spec=PLAIN, out=tmp_path / "e", epochs=1)
    compiled = run(spec=PLAIN, out=tmp_path / "c", epochs=1, compile=True)
    assert max_diff(eager.weights, compiled.weights) < 1e-6
    trainer = make_trainer("torch", specc.loads(PLAIN), init_weights(specc.loads(PLAIN), 0), seed=0, compile=True)
    assert type(trainer.runner).__name__ == "OptimizedModule" and "torch.compile" in trainer.describe()


def test_synthetic_loss_goes_down_and_amp_runs(tmp_path):
    spec = ROOT / "specs" / "mlp_binary.spec"
    r = run(spec=spec, out=tmp_path / "m", epochs=3)
    first, last = r.history[0]["train"], r.history[-1]["train"]
    assert last["loss"] < first["loss"] and last["accuracy"] > 0.8
    assert set(last) == {"loss", "accuracy", "precision", "recall"}
    a = run(spec=PLAIN, out=tmp_path / "amp", epochs=1, amp=True)  # bfloat16 autocast on CPU
    assert np.isfinite(a.final["train"]["loss"]) and a.final["val"]["accuracy"] > 0.5
    k = run(spec=PLAIN, backend="keras", out=tmp_path / "kamp", epochs=1, amp=True)  # Keras' mixed_bfloat16
    assert np.isfinite(k.final["train"]["loss"]) and k.final["val"]["accuracy"] > 0.5
    assert abs(k.final["val"]["loss"] - a.final["val"]["loss"]) < 0.05  # same data, same weights, both in bfloat16


def test_ddp_two_processes_equal_one(tmp_path):
    (tmp_path / "plain.spec").write_text(PLAIN)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    with socket.socket() as sock:  # a port nobody holds (a fixed or pid-derived one can clash)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1", "--master_port", str(port)]
    r = subprocess.run([*cmd, "-m", "specc", "train", "plain.spec", "--data", "synthetic", "--epochs", "2", "--out", "ddp"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("epoch 2/2") == 1  # only rank 0 prints
    one = run(spec=PLAIN, out=tmp_path / "one", epochs=2)
    two = load_weights(tmp_path / "ddp" / "weights.safetensors")
    # 819 rows in batches of 64: the last batch (51) splits 26/25 and is weighted exactly
    assert max_diff(one.weights, two) < 1e-5
    meta = json.loads((tmp_path / "ddp" / "checkpoints" / "epoch-0002" / "state.json").read_text())
    assert meta["world"] == 2 and len(epoch_batches(0, 0, meta["n_train"], 64)) * 2 == meta["step"]


def test_cli_train_on_digits_then_evaluate(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "specc", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)

    spec = str(ROOT / "specs" / "digits_cnn.spec")
    r = cli("train", spec, "--epochs", "1", "--out", "run")
    assert r.returncode == 0, r.stderr
    assert "epoch 1/1" in r.stdout and "validation" in r.stdout and "Traceback" not in r.stderr
    out = tmp_path / "run"
    assert (out / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    hist = json.loads((out / "history.json").read_text())["history"]
    assert hist[-1]["val"]["accuracy"] > 0.7
    r = cli("evaluate", spec, "--weights", "run", "--json")
    assert r.returncode == 0, r.stderr
    (result,) = json.loads(r.stdout)
    assert result["ok"] and result["metrics"]["accuracy"] == pytest.approx(hist[-1]["val"]["accuracy"])
    r = cli("train", spec, "--out", "run")
    assert r.returncode == 1 and "already holds a training run" in r.stderr and "--resume" in r.stderr
    r = cli("evaluate", spec, "--weights", "nope.safetensors")
    assert r.returncode == 1 and "no such checkpoint" in r.stderr and "Traceback" not in r.stderr


def test_keras_mirrored_over_two_cpu_replicas_equals_one(tmp_path):
    """The MirroredStrategy path, on 2 logical CPU devices (batches split evenly)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((800, 6)).astype(np.float32)
    np.savez(tmp_path / "even.npz", x=x[:640], y=x[:640, :3].argmax(1), x_val=x[640:], y_val=x[640:, :3].argmax(1))
    (tmp_path / "plain.spec").write_text(PLAIN)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = ["train", "plain.spec", "--backend", "keras", "--data", "even.npz", "--epochs", "2", "--replicas", "2", "--out", "two"]
    r = subprocess.run([sys.executable, "-m", "specc", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "training with MirroredStrategy over 2 replicas" in r.stdout
    one = run(spec=PLAIN, backend="keras", data=str(tmp_path / "even.npz"), out=tmp_path / "one", epochs=2)
    assert max_diff(one.weights, load_weights(tmp_path / "two" / "weights.safetensors")) < 1e-5
