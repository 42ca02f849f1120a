"""``specc fuzz``: random valid specs (see :mod:`.generate`), verified; each failure is
shrunk to a minimal spec that still fails and written out."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

from .generate import Draft, draw_spec, shrink

__all__ = ["fuzz", "FuzzCase"]

STEPS, BATCH = 2, 3


@dataclass
class FuzzCase:
    index: int
    draft: Draft
    ok: bool
    verdict: str
    seconds: float
    shrunk: Draft | None = None
    written: Path | None = None


def _check(draft: Draft, dtype: str) -> tuple[bool, str]:
    import specc
    from specc.verification import verify

    try:
        report = verify(specc.loads(draft.text(), f"{draft.name}.spec"), dtype=dtype, steps=STEPS, batch=BATCH)
    except Exception as e:  # noqa: BLE001 - a crash on a valid spec is a finding, reported
        return False, f"crash: {type(e).__name__}: {e}"
    return report.ok, report.verdict()


def draft_for(seed: int, index: int) -> Draft:
    """The index-th spec of a seed (the same on every machine and run)."""
    d = draw_spec(random.Random(f"specc-fuzz-{seed}-{index}"))
    return Draft(d.input, d.stmts, d.head, d.loss, d.optimizer, d.schedule, name=f"fuzz_{seed}_{index}")


def fuzz(count: int, seed: int = 0, dtype: str = "float64", out: str | Path | None = None, on_case=None, shrink_budget: int = 40) -> list[FuzzCase]:
    """Verify ``count`` random specs; shrink and write (to ``out``) each one that fails."""
    from specc.fsutil import atomic_write_text

    cases = []
    for i in range(count):
        t = time.perf_counter()
        d = draft_for(seed, i)
        ok, verdict = _check(d, dtype)
        case = FuzzCase(i, d, ok, verdict, time.perf_counter() - t)
        if not ok:
            case.shrunk = shrink(d, lambda c: not _check(c, dtype)[0], budget=shrink_budget)
            _, case.verdict = _check(case.shrunk, dtype)
            if out is not None:
                path = Path(out) / f"{d.name}.spec"
                path.parent.mkdir(parents=True, exist_ok=True)
                header = f"# specc fuzz --seed {seed}: case {i} fails in {dtype}, shrunk from {len(d.stmts)} to {len(case.shrunk.stmts)} statements\n"
                header += "".join(f"# {line}\n" for line in case.verdict.splitlines())
                header += "# original:\n" + "".join(f"#   {line}\n" for line in d.text().splitlines())
                atomic_write_text(path, header + case.shrunk.text())
                case.written = path
        cases.append(case)
        if on_case:
            on_case(case)
    return cases
