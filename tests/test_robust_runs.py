"""``specc train`` against the unlucky and the hostile: a second run into the same --out, a
stale lock, a full disk while a checkpoint / the history is written (injected, and for
real on a tiny tmpfs where the machine allows it), checkpoints whose hashes were removed or
edited, wrong shapes, damaged files, odd option values.  Every case ends in exit 1 or 2
with a message; none in exit 3, none leaves a half-written file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from specc.cli import main
from specc.extras import EnvError
from specc.train import TrainError, TrainOptions, train
from specc.train.checkpoint import meta_digest
from specc.train.lock import RunLock
from specc.weights import load as load_weights
from specc.weights import save as save_weights

TINY = """
model tiny {
  input x: float32[6]
  dense(16, activation=relu)
  dense(3, activation=softmax)
  train {
    loss sparse_categorical_crossentropy
    optimizer adam(lr=1e-2)
    metrics [accuracy]
    batch 64
    epochs 2
  }
}
"""


@pytest.fixture
def spec(tmp_path) -> Path:
    p = tmp_path / "tiny.spec"
    p.write_text(TINY)
    return p


def cli(capsys, *argv) -> tuple[int, str]:
    rc = main([str(a) for a in argv])
    return rc, capsys.readouterr().err


def run(spec, out, **kw):
    return train(TrainOptions(spec, "torch", data="synthetic", out=out, quiet=True, plot=False, **kw))


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished 2-epoch run (copied by the tests that damage it)."""
    d = tmp_path_factory.mktemp("finished")
    (d / "tiny.spec").write_text(TINY)
    return run(d / "tiny.spec", d / "run")


def copy_run(finished, tmp_path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(finished.out, out)
    return out


def no_leftovers(out: Path) -> None:
    hidden = [p for p in out.rglob(".*") if p.name != ".lock"]
    assert hidden == [], hidden


# ---------------------------------------------------------------- one run per --out


def test_second_run_into_the_same_out_is_refused(spec, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    with RunLock(out):  # another run holds the folder
        rc, err = cli(capsys, "train", spec, "--data", "synthetic", "--out", out, "-q")
        assert rc == 2, err
        assert f"--out {out} is in use" in err and f"process {os.getpid()}" in err
        assert not (out / "checkpoints").exists()  # nothing written
        rc, err = cli(capsys, "train", spec, "--data", "synthetic", "--out", out, "-q", "--overwrite")
        assert rc == 2 and "is in use" in err
    rc, err = cli(capsys, "train", spec, "--data", "synthetic", "--out", out, "-q")  # released
    assert rc == 0, err


def test_a_killed_runs_lock_is_not_stale(spec, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); fcntl.flock(fd, fcntl.LOCK_EX); os.write(fd, f'{os.getpid()} host'.encode()); print('locked', flush=True); time.sleep(600)", str(out / ".lock")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        rc, err = cli(capsys, "train", spec, "--data", "synthetic", "--out", out, "-q")
        assert rc == 2 and f"process {holder.pid}" in err
    finally:
        holder.kill()  # SIGKILL: no clean-up runs, the lock file stays with the dead pid
        holder.wait()
    assert (out / ".lock").read_text().startswith(str(holder.pid))
    rc, err = cli(capsys, "train", spec, "--data", "synthetic", "--out", out, "-q")
    assert rc == 0, err


def test_pid_fallback_without_flock(tmp_path, monkeypatch):
    import errno
    import fcntl

    def no_flock(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_flock)
    out = tmp_path / "run"
    out.mkdir()
    (out / ".lock").write_text(f"{os.getppid()} {os.uname().nodename}\n")  # a live process
    with pytest.raises(EnvError, match="is in use"):
        RunLock(out).acquire()
    (out / ".lock").write_text("999999999 x\n")  # no such process: stale
    RunLock(out).acquire().release()


# ---------------------------------------------------------------- full disk


def _disk_full_at(monkeypatch, marker: str):
    """Make safetensors' writer fail like a full disk when the path contains ``marker``."""
    import safetensors.numpy

    real = safetensors.numpy.save_file

    def save_file(tensors, filename, metadata=None):
        if marker in str(filename):
            with open(filename, "wb") as f:
                f.write(b"partial")
            raise safetensors.SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")
        return real(tensors, filename, metadata=metadata)

    monkeypatch.setattr(safetensors.numpy, "save_file", save_file)


@pytest.mark.parametrize("file", ["weights.safetensors", "state.safetensors"])
def test_full_disk_while_a_checkpoint_is_written(spec, tmp_path, capsys, monkeypatch, finished, file):
    out = tmp_path / "run"
    rc, err = cli(capsys, "train", spec, "--data", "synthetic", "--out", out, "-q", "--epochs", 1)
    assert rc == 0, err
    _disk_full_at(monkeypatch, file)  # the resumed run writes epoch 2 only
    rc, err = cli(capsys, "train", spec, "--data", "synthetic", "--out", out, "-q", "--resume")
    assert rc == 2, err
    assert "could not write the checkpoint of epoch 2" in err and "No space left on device" in err
    assert f"epoch-0002/{file}" in err and "--resume" in err and "epoch 1 is intact" in err
    no_leftovers(out)
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["epoch-0001"]
    monkeypatch.undo()
    rc, err = cli(capsys, "train", spec, "--data", "synthetic", "--out", out, "-q", "--resume")  # space freed
    assert rc == 0, err
    w = load_weights(out / "weights.safetensors")
    assert max(float(np.max(np.abs(w[k] - finished.weights[k]))) for k in w) == 0.0  # = an uninterrupted run


def test_full_disk_while_the_history_is_written(spec, tmp_path, capsys, monkeypatch):
    import specc.fsutil
    import specc.train.checkpoint as ck

    real = specc.fsutil.atomic_write_text

    def full(path, text):
        if Path(path).name == "history.json":
            raise specc.fsutil.WriteError(28, "No space left on device", str(path))
        return real(path, text)

    monkeypatch.setattr(specc.fsutil, "atomic_write_text", full)
    out = tmp_path / "run"
    rc, err = cli(capsys, "train", spec, "--data", "synthetic", "--out", out, "-q")
    assert rc == 2, err
    assert "history.json" in err and "No space left" in err and "intact" in err
    assert ck.latest_checkpoint(out)[0].epoch == 2


def _tmpfs(path: Path, size: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    path.mkdir()
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True).returncode == 0


BIG = TINY.replace("float32[6]", "float32[400]").replace("dense(16", "dense(1000").replace("epochs 2", "epochs 5")


def test_really_full_disk(tmp_path):
    """On a 15 MiB tmpfs epoch 1 (its checkpoint, the latest and the best weights: 4 files of
    3.1 MiB) fits and epoch 2's checkpoint does not."""
    disk = tmp_path / "disk"
    if not _tmpfs(disk, "15m"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        (tmp_path / "big.spec").write_text(BIG)
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        r = subprocess.run([sys.executable, "-m", "specc", "train", "big.spec", "--data", "synthetic", "--out", str(disk / "run"), "-q"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 2, r.stderr
        assert "could not write the checkpoint of epoch 2" in r.stderr and "No space left on device" in r.stderr
        assert "epoch-0002/" in r.stderr and "epoch 1 is intact" in r.stderr and "--resume" in r.stderr
        no_leftovers(disk / "run")
        assert sorted(p.name for p in (disk / "run" / "checkpoints").iterdir()) == ["epoch-0001"]
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


# ---------------------------------------------------------------- checkpoints that lie


def _edit_state(ckpt: Path, change, redigest: bool = False) -> None:
    p = ckpt / "state.json"
    meta = json.loads(p.read_text())
    change(meta)
    if redigest:
        meta["meta_sha256"] = meta_digest(meta)
    p.write_text(json.dumps(meta))


def test_checkpoint_without_hashes_is_refused(spec, tmp_path, capsys, finished):
    out = copy_run(finished, tmp_path)
    for c in (out / "checkpoints").iterdir():

        def lie(meta):
            meta.pop("meta_sha256")
            meta.pop("files")
            meta["epoch"] = 10**9

        _edit_state(c, lie)
    rc, err = cli(capsys, "train", spec, "--data", "synthetic", "--out", out, "-q", "--resume", "--epochs", 4)
    assert rc == 1, err
    assert "no usable checkpoint" in err and "has no digest" in err


@pytest.mark.parametrize(
    "lie, message",
    [
        (lambda m: m.update(epoch=10**9), "does not match its digest"),
        (lambda m: m.pop("files"), "does not match its digest"),
        (lambda m: m.update(history=[]), "does not match its digest"),
    ],
)
def test_edited_checkpoint_is_refused(spec, tmp_path, finished, lie, message):
    out = copy_run(finished, tmp_path)
    for c in (out / "checkpoints").iterdir():
        _edit_state(c, lie)
    with pytest.raises(TrainError, match=message):
        run(spec, out, resume=True, epochs=4)


@pytest.mark.parametrize(
    "lie, message",
    [
        (lambda m: m.pop("files"), "lacks the hashes"),
        (lambda m: m.update(epoch=10**9), "does not describe epoch"),
        (lambda m: m.update(files={}), "lacks the hashes"),
    ],
)
def test_rehashed_lies_are_refused_too(spec, tmp_path, finished, lie, message):
    """Even a state.json whose digest was recomputed after the edit is checked for sense."""
    out = copy_run(finished, tmp_path)
    for c in (out / "checkpoints").iterdir():
        _edit_state(c, lie, redigest=True)
    with pytest.raises(TrainError, match=message):
        run(spec, out, resume=True, epochs=4)


def test_wrong_shapes_with_consistent_hashes(spec, tmp_path, capsys, finished):
    """A checkpoint rewritten whole (hashes and digest recomputed) with wrong shapes: exit 1."""
    from specc.train.checkpoint import _sha256

    out = copy_run(finished, tmp_path)
    for c in (out / "checkpoints").iterdir():
        w = load_weights(c / "weights.safetensors")
        save_weights({k: np.zeros(v.shape[:-1] + (v.shape[-1] + 1,)) for k, v in w.items()}, c / "weights.safetensors")
        _edit_state(c, lambda m: m["files"].update({"weights.safetensors": _sha256(c / "weights.safetensors")}), redigest=True)
    rc, err = cli(capsys, "train", spec, "--data", "synthetic", "--out", out, "-q", "--resume", "--epochs", 4)
    assert rc == 1, err
    assert "do not fit tiny" in err and "expected" in err


def test_unlisted_file_and_garbage_state(spec, tmp_path, capsys, finished):
    out = copy_run(finished, tmp_path)
    ckpts = sorted((out / "checkpoints").iterdir())
    (ckpts[-1] / "ema.safetensors").write_bytes(b"planted")
    ckpts[0].joinpath("state.json").write_bytes(b"\x00garbage{")
    rc, err = cli(capsys, "train", spec, "--data", "synthetic", "--out", out, "-q", "--resume", "--epochs", 4)
    assert rc == 1, err
    assert "unexpected file(s) ema.safetensors" in err and "unreadable checkpoint" in err


def test_optimizer_state_that_does_not_fit(spec, tmp_path, capsys, finished):
    """A consistent checkpoint whose optimizer skeleton points at arrays that are not there."""
    out = copy_run(finished, tmp_path)
    for c in (out / "checkpoints").iterdir():
        _edit_state(c, lambda m: m.update(state={"__dict__": [["optimizer", {"__array__": "nowhere"}]]}), redigest=True)
    rc, err = cli(capsys, "train", spec, "--data", "synthetic", "--out", out, "-q", "--resume", "--epochs", 3)
    assert rc == 1, err
    assert "optimizer state does not fit" in err and "--init-from" in err


# ---------------------------------------------------------------- odd folders and numbers


def test_out_is_a_file(spec, tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    rc, err = cli(capsys, "train", spec, "--data", "synthetic", "--out", f, "-q")
    assert rc == 2 and "is a file" in err
    rc, err = cli(capsys, "train", spec, "--data", "synthetic", "--out", f / "sub", "-q")
    assert rc == 2 and "cannot create --out" in err


@pytest.fixture
def readonly_dir(tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    if os.geteuid() != 0:
        d.chmod(0o555)
        yield d
        d.chmod(0o755)
        return
    if subprocess.run(["mount", "--bind", str(d), str(d)], capture_output=True).returncode or subprocess.run(["mount", "-o", "remount,ro,bind", str(d)], capture_output=True).returncode:
        subprocess.run(["umount", str(d)], capture_output=True)
        pytest.skip("cannot make a read-only folder here")
    yield d
    subprocess.run(["umount", str(d)], capture_output=True)


def test_read_only_out(spec, readonly_dir, capsys):
    rc, err = cli(capsys, "train", spec, "--data", "synthetic", "--out", readonly_dir, "-q")
    assert rc == 2, err
    assert "cannot write into --out" in err and "choose a folder you can write to" in err
    rc, err = cli(capsys, "compile", spec, "--to", "torch", "-o", readonly_dir / "m.py")
    assert rc == 2 and "m.py" in err, err
    rc, err = cli(capsys, "weights", "init", spec, "-o", readonly_dir / "w.safetensors")
    assert rc == 2 and "w.safetensors" in err, err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--batch", "0"], "--batch: must be ≥ 1, got 0"),
        (["--epochs", "-1"], "--epochs: must be ≥ 1"),
        (["--seed", str(10**24)], "--seed: must be in [0, 4294967296)"),
        (["--seed", "-5"], "--seed: must be in"),
        (["--replicas", "100000"], "--replicas: must be between 1 and 64"),
        (["--epochs", "many"], "expected a whole number"),
    ],
)
def test_impossible_numbers_are_usage_errors(spec, tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as e:
        main(["train", str(spec), "--data", "synthetic", "--out", str(tmp_path / "o"), *args])
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def test_huge_batch_and_spec_seed(spec, tmp_path, capsys):
    rc, err = cli(capsys, "train", spec, "--data", "synthetic", "--out", tmp_path / "a", "-q", "--batch", 10**20, "--epochs", 1)
    assert rc == 0, err  # one batch of all the rows
    big_seed = spec.with_name("seed.spec")
    big_seed.write_text(TINY.replace("epochs 2", f"epochs 2\n    seed {2**40}"))
    rc, err = cli(capsys, "train", big_seed, "--data", "synthetic", "--out", tmp_path / "b", "-q")
    assert rc == 1 and "seed.spec:12:10: error: train.seed: input should be less than 4294967296" in err, err  # refused at check, located


@pytest.mark.parametrize("args, message", [(["--seed", "-1"], "--seed: must be in"), (["--steps", str(10**14)], "--steps: must be in"), (["--batch", "0"], "--batch: must be ≥ 1")])
def test_verify_numbers(spec, capsys, args, message):
    with pytest.raises(SystemExit) as e:
        main(["verify", str(spec), *args])
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_evaluate_on_a_missing_gpu(spec, tmp_path, capsys, finished):
    rc, err = cli(capsys, "evaluate", spec, "--weights", finished.out, "--data", "synthetic", "--device", "cuda:7")
    assert rc == 1 and "--device cuda:7" in err, err
    rc, err = cli(capsys, "evaluate", spec, "--weights", finished.out, "--data", "synthetic", "--device", "tpu")
    assert rc == 1 and "unknown device" in err


def test_unwritable_home(spec, tmp_path):
    """HOME and the caches pointing at a folder that cannot be created: train still works."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "HOME": "/proc/nonexistent", "XDG_CACHE_HOME": "/proc/nonexistent", "MPLCONFIGDIR": "/proc/nonexistent/mpl"}
    r = subprocess.run([sys.executable, "-m", "specc", "train", str(spec), "--data", "synthetic", "--out", str(tmp_path / "run"), "-q", "--epochs", "1"], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "run" / "learning_curve.png").is_file()
