"""Backend runs in worker processes: each framework imported and run in a process of its own.

``specc verify`` spends most of a small spec's time importing two frameworks, building
their models and tracing their graphs — one after the other when both live in one process.
Here each backend gets a worker process (a one-process ``ProcessPoolExecutor`` started with
``spawn``: no inherited threads or framework state) that imports only its framework; the
comparison's runs are submitted to every worker before any result is awaited, so the two
frameworks' imports and work overlap on two cores and the parent imports neither.

Workers are kept for the life of the process: the next comparison (the next file of
``specc verify a.spec b.spec``, the next test) finds them warm.  A worker that dies (killed,
out of memory) is reported as :class:`WorkerDied`, naming the backend, and replaced at the
next use; an exception raised in a worker is raised again here, with the worker's traceback
attached by ``concurrent.futures``.
"""

from __future__ import annotations

import atexit
import multiprocessing as mp
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

__all__ = ["WorkerDied", "run_all", "use_processes", "shutdown"]

#: modules whose presence means this process may run (or have patched) framework code itself
_FRAMEWORK_MODULES = ("torch", "tensorflow", "keras", "specc.backends.torch", "specc.backends.keras")
_BACKENDS = ("torch", "keras")


class WorkerDied(RuntimeError):
    """A backend's worker process ended without answering."""


def use_processes(backends: Sequence[str], requested: bool | None) -> bool:
    """Run the backends in worker processes?  ``requested`` wins, then the
    ``SPECC_VERIFY_PROCESSES=1|0`` environment variable.  By default only in a process that
    has loaded neither framework nor specc's backend code (a fresh ``specc verify``, a
    script): where they are loaded, in-process costs no import, and whatever this process
    changed in them (a test's monkeypatch, a planted bug) is what gets compared."""
    if requested is not None:
        return bool(requested)
    env = os.environ.get("SPECC_VERIFY_PROCESSES")
    if env is not None:
        return env.strip().lower() not in ("0", "false", "no", "")
    if any(b not in _BACKENDS for b in backends):
        return False
    loaded = tuple(sys.modules)
    return not any(k == m or k.startswith(m + ".") for k in loaded for m in _FRAMEWORK_MODULES)


def _warm_up(backend: str) -> None:
    """Worker initialiser: the framework imported (quietly) before the first request."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        if backend == "torch":
            import torch

            torch.set_num_threads(1)  # small batches; two frameworks share the cores
        elif backend == "keras":
            import specc.backends.keras.bundle  # noqa: F401 - TensorFlow, imported quietly
    except ImportError:
        pass  # the run itself reports the missing framework, as in-process


_POOLS: dict[str, ProcessPoolExecutor] = {}


def _pool(backend: str) -> ProcessPoolExecutor:
    pool = _POOLS.get(backend)
    if pool is None:
        pool = _POOLS[backend] = ProcessPoolExecutor(
            max_workers=1, mp_context=mp.get_context("spawn"), initializer=_warm_up, initargs=(backend,)
        )
    return pool


@atexit.register
def shutdown() -> None:
    """Stop every worker (at exit, or to start afresh)."""
    for pool in list(_POOLS.values()):
        pool.shutdown(wait=True, cancel_futures=True)
    _POOLS.clear()


def _result(backend: str, future: Future):
    try:
        return future.result()
    except BrokenProcessPool:
        _POOLS.pop(backend, None)
        raise WorkerDied(f"the {backend} worker process ended without answering (killed, or out of memory?)") from None


def run_all(calls: Sequence[tuple[str, Callable[..., Any], tuple]], processes: bool) -> list:
    """``[fn(*args) for backend, fn, args in calls]``.  With ``processes``, each call runs in
    its backend's worker (``fn`` a module-level function, its arguments picklable), every
    call submitted before any result is awaited; otherwise here, in order."""
    if not processes:
        return [fn(*args) for _, fn, args in calls]
    futures = []
    for backend, fn, args in calls:
        try:
            futures.append((backend, _pool(backend).submit(fn, *args)))
        except BrokenProcessPool:
            _POOLS.pop(backend, None)
            futures.append((backend, _pool(backend).submit(fn, *args)))
    out, first_error = [], None
    for backend, f in futures:  # await all, so no worker is left busy with a stale request
        try:
            out.append(_result(backend, f))
        except BaseException as e:  # noqa: BLE001 - re-raised below, the first one
            first_error = first_error or e
            out.append(None)
    if first_error is not None:
        raise first_error
    return out
