"""``specc selftest``: is this installation of specc, PyTorch and Keras still in agreement?

Three parts, each a list of checks with a verdict (in this order: the cheap ones first):

1. **shared code** (:mod:`.shared`): specc's initialisers against the frameworks' own, and
   IR defaults against the framework signatures they follow;
2. **the corpus** (``corpus/*.spec``, shipped in the package): every op, every option at a
   non-default value, every loss, optimizer, schedule and metric (a test keeps that true),
   verified in float32 — which also compares both backends' float64 runs — or in float64;
   each spec's metrics as Keras computes them against specc's NumPy ones (torch training);
3. **the harness checks itself** (:mod:`.canary`): a small model is verified untouched
   (must pass) and with a difference planted in every result of one backend (every row
   must fail, and every layer, gradient and step must have been compared).

``--quick`` verifies the corpus in float64 only; the full run takes float32 (which
compares both precisions)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from .coverage import CORPUS

__all__ = ["corpus", "run_selftest", "Outcome", "CORPUS"]


def corpus() -> list[Path]:
    return sorted(CORPUS.glob("*.spec"))


@dataclass
class Outcome:
    part: str
    what: str
    ok: bool
    detail: str
    seconds: float = 0.0


@dataclass
class Result:
    outcomes: list[Outcome] = field(default_factory=list)
    reports: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.outcomes) and all(o.ok for o in self.outcomes)


def run_selftest(dtype: str | None = None, quick: bool = False, on_outcome=None, specs: list[Path] | None = None, fail_fast: bool = False) -> Result:
    """Run every check; ``on_outcome(outcome)`` is called as each finishes."""
    import logging

    from specc.api import load
    from specc.verification import VerifyError, verify

    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # retracing notices: many small models by design

    from . import canary, shared

    dtype = dtype or ("float64" if quick else "float32")
    result = Result()

    def add(o: Outcome) -> bool:
        result.outcomes.append(o)
        if on_outcome:
            on_outcome(o)
        return o.ok or not fail_fast

    for c in shared.default_checks() + shared.initializer_checks() + shared.dropout_checks():
        if not add(Outcome("shared", c.what, c.ok, c.detail)):
            return result
    for path in specs if specs is not None else corpus():
        t = time.perf_counter()
        try:
            model = load(path)
            report = verify(model, dtype=dtype)
        except (VerifyError, Exception) as e:  # noqa: BLE001 - a crash is a failed check, reported
            if not add(Outcome("corpus", path.stem, False, f"{type(e).__name__}: {e}", time.perf_counter() - t)):
                return result
            continue
        result.reports.append(report)
        if not add(Outcome("corpus", path.stem, report.ok, report.verdict(), time.perf_counter() - t)):
            return result
        try:
            metrics = shared.metric_checks(model)
        except Exception as e:  # noqa: BLE001 - reported as a failed check
            metrics = [shared.Check(f"metrics of {model.name}", False, f"{type(e).__name__}: {e}")]
        for c in metrics:
            if not add(Outcome("metrics", c.what, c.ok, c.detail)):
                return result
    t = time.perf_counter()
    for c in canary.harness_checks(dtype):
        if not add(Outcome("harness", c.what, c.ok, c.detail, time.perf_counter() - t)):
            return result
        t = time.perf_counter()
    return result
