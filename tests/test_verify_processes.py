"""Backend runs in worker processes (specc.verification.remote): results as in-process,
errors raised again here, a dead worker named and replaced, the default chosen so that a
patched backend is always the one compared, and a parent that imports neither framework."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from specc.verification import remote
from specc.verification.remote import WorkerDied, run_all, use_processes

ROOT = Path(__file__).resolve().parent.parent


def _pid_and_square(x):
    return os.getpid(), x * x


def _fail(message):
    raise ValueError(message)


def _die(*_):
    os.kill(os.getpid(), signal.SIGKILL)


def test_calls_run_in_one_worker_per_backend_and_come_back_in_order():
    out = run_all([("torch", _pid_and_square, (3,)), ("keras", _pid_and_square, (4,)), ("torch", _pid_and_square, (5,))], True)
    (p1, a), (p2, b), (p3, c) = out
    assert (a, b, c) == (9, 16, 25)
    assert p1 == p3 != p2 and os.getpid() not in (p1, p2)
    again = run_all([("torch", _pid_and_square, (1,))], True)
    assert again[0][0] == p1  # the worker is kept, warm, for the next comparison
    assert run_all([("torch", _pid_and_square, (3,))], False) == [(os.getpid(), 9)]


def test_an_error_in_a_worker_is_raised_here_after_every_call_is_answered():
    with pytest.raises(ValueError, match="planted"):
        run_all([("torch", _fail, ("planted",)), ("keras", _pid_and_square, (2,))], True)
    assert run_all([("keras", _pid_and_square, (2,))], True)[0][1] == 4


def test_a_dead_worker_is_named_and_replaced():
    with pytest.raises(WorkerDied, match="keras worker"):
        run_all([("keras", _die, (0,))], True)
    assert run_all([("keras", _pid_and_square, (6,))], True)[0][1] == 36


def test_default_is_processes_only_in_a_process_without_framework_code(monkeypatch):
    monkeypatch.delenv("SPECC_VERIFY_PROCESSES", raising=False)
    clean = {k: v for k, v in sys.modules.items() if not k.startswith(("torch", "tensorflow", "keras", "specc.backends"))}
    monkeypatch.setattr(sys, "modules", clean)
    assert use_processes(("torch", "keras"), None) is True
    assert use_processes(("torch", "keras"), False) is False
    assert use_processes(("torch", "user_model"), None) is False  # only specc's backends run remotely
    for loaded in ("torch", "tensorflow", "keras", "specc.backends.torch.ops.dense", "specc.backends.keras"):
        monkeypatch.setitem(sys.modules, loaded, object())
        assert use_processes(("torch", "keras"), None) is False, loaded  # a patch there must be seen
        assert use_processes(("torch", "keras"), True) is True
        monkeypatch.delitem(sys.modules, loaded)
    monkeypatch.setenv("SPECC_VERIFY_PROCESSES", "1")
    monkeypatch.setitem(sys.modules, "torch", object())
    assert use_processes(("torch", "keras"), None) is True
    monkeypatch.setenv("SPECC_VERIFY_PROCESSES", "0")
    assert use_processes(("torch", "keras"), None) is False


SPEC = """
model bn_mlp {
  input x: float32[6]
  dense(8, activation=tanh)
  batch_norm
  dense(3, activation=softmax)
  train {
    loss sparse_categorical_crossentropy
    optimizer adam(lr=1e-2)
  }
}
"""


# dropout, recurrent dropout: each worker draws the same seeded masks as in-process
DROPOUT = """
model dropout_workers {
  input x: float32[5, 3]
  lstm(4, dropout=0.2, recurrent_dropout=0.3, return_sequences=true)
  flatten
  dropout(0.4)
  dense(3, activation=softmax)
  train { loss categorical_crossentropy; optimizer sgd(lr=0.1) }
}
"""


@pytest.mark.parametrize("dtype,spec", [("float64", SPEC), ("float32", SPEC), ("float64", DROPOUT)], ids=["float64", "float32", "dropout"])
def test_workers_compute_what_in_process_computes(dtype, spec):
    import specc
    from specc.verification import verify

    model = specc.loads(spec)
    here = verify(model, dtype=dtype, processes=False)
    there = verify(model, dtype=dtype, processes=True)
    assert here.ok and there.ok
    numbers = lambda r: [(row.phase, row.name, row.dtype, row.max_abs, row.tol, row.why) for row in r.rows]  # noqa: E731
    assert numbers(there) == numbers(here)  # the same computations, the same round-off, the same bounds
    assert there.notes == here.notes  # dropout: the same masks counted
    assert len(there.rows) > 10


def test_a_worker_dying_during_verify_is_a_verify_error(monkeypatch):
    import specc
    from specc.verification import VerifyError, harness

    real = harness.run_all

    def run_all_killing_keras(calls, processes):
        calls = [(b, _die if b == "keras" else fn, args) for b, fn, args in calls]
        return real(calls, processes)

    monkeypatch.setattr(harness, "run_all", run_all_killing_keras)
    with pytest.raises(VerifyError, match="keras worker process ended"):
        harness.verify(specc.loads(SPEC), dtype="float64", processes=True)


def test_the_parent_imports_neither_framework():
    code = (
        "import sys, specc\n"
        "from specc.verification import verify\n"
        f"r = verify(specc.load({str(ROOT / 'specs' / 'mlp_binary.spec')!r}))\n"
        "assert r.ok, r.verdict()\n"
        "loaded = [m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
        "print('ok')\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    env.pop("SPECC_VERIFY_PROCESSES", None)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=900, cwd=ROOT)
    assert p.returncode == 0, p.stderr[-3000:]
    assert p.stdout.strip().endswith("ok")


def teardown_module():
    remote.shutdown()
