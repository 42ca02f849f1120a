"""The verification report: one row per compared tensor, a verdict, notes."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

__all__ = ["Row", "Report"]


@dataclass
class Row:
    phase: str  # "forward", "loss", "gradient", "step 1", …
    name: str  # layer (tensor id) or canonical weight name
    shape: tuple[int, ...]
    max_abs: float
    max_rel: float  # max_abs / max|reference|
    tol: float  # allowed max_abs: atol + rtol · max|reference|
    rtol: float
    ok: bool
    op: str = ""
    #: precision of this comparison (a float32 verify also compares the float64 runs)
    dtype: str = ""
    #: what the bound is made of (prior, measured spread or round-off), for the report
    why: str = ""

    def to_json(self) -> dict:
        d = asdict(self)
        d["shape"] = list(self.shape)
        return d


@dataclass
class Report:
    spec: str
    model: str
    backends: tuple[str, str]
    dtype: str
    device: str
    batch: int
    steps: int
    seed: int
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dtypes: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows) and bool(self.rows)

    @property
    def first_failure(self) -> Row | None:
        return next((r for r in self.rows if not r.ok), None)

    def failures(self) -> list[Row]:
        return [r for r in self.rows if not r.ok]

    def worst(self, phase: str) -> Row | None:
        rows = [r for r in self.rows if r.phase == phase or (phase == "step" and r.phase.startswith("step"))]
        return max(rows, key=lambda r: r.max_abs / r.tol if r.tol else 0.0, default=None)

    def verdict(self) -> str:
        a, b = self.backends
        what = f"{self.model}: {a} vs {b}, {self.dtype}"
        n = len(self.rows)
        if self.ok:
            parts = [f"{sum(1 for r in self.rows if r.phase == 'forward')} layer outputs"]
            if any(r.phase == "gradient" for r in self.rows):
                parts.append(f"loss, {sum(1 for r in self.rows if r.phase == 'gradient')} gradients")
            if self.steps and any(r.phase.startswith("step") for r in self.rows):
                parts.append(f"weights after {self.steps} optimizer step{'s' if self.steps != 1 else ''}")
            return f"OK  {what}: {', '.join(parts)} agree ({n} comparisons, {self.seconds:.1f} s)"
        f = self.first_failure
        if f is None:
            return f"FAIL {what}: nothing was compared"
        kind = "layer" if f.phase == "forward" else "weight" if f.phase != "loss" else "loss"
        where = f" in {f.dtype}" if f.dtype and f.dtype != self.dtype else ""
        return (
            f"FAIL {what}: {len(self.failures())} of {n} comparisons exceed tolerance; first: {f.phase} of "
            f"{kind} {f.name}{' (' + f.op + ')' if f.op else ''}{where}: max abs error {f.max_abs:.3g} > {f.tol:.3g}"
        )

    def to_json(self) -> dict:
        return {
            "spec": self.spec,
            "model": self.model,
            "backends": list(self.backends),
            "dtype": self.dtype,
            "device": self.device,
            "batch": self.batch,
            "steps": self.steps,
            "seed": self.seed,
            "ok": self.ok,
            "verdict": self.verdict(),
            "first_failure": self.first_failure.to_json() if self.first_failure else None,
            "notes": self.notes,
            "dtypes": self.dtypes,
            "seconds": round(self.seconds, 3),
            "rows": [r.to_json() for r in self.rows],
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2)

    def compact_rows(self) -> list[Row]:
        """Every layer, the loss, every gradient, the worst weight of each step, every failure."""
        out: list[Row] = []
        steps: dict[tuple[str, str], list[Row]] = {}
        for r in self.rows:
            if r.phase.startswith("step"):
                steps.setdefault((r.dtype, r.phase), []).append(r)
            else:
                out.append(r)
        for phase, rows in steps.items():
            worst = max(rows, key=lambda r: r.max_abs / r.tol if r.tol else float("inf"))
            out.extend(r for r in rows if not r.ok or r is worst)
        return out

    def table(self, only_failures: bool = False, max_rows: int | None = None, compact: bool = False):
        from rich import box
        from rich.table import Table
        from rich.text import Text

        t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        mixed = len({r.dtype for r in self.rows}) > 1
        if mixed:
            t.add_column("dtype", no_wrap=True)
        for col, just in (("phase", "left"), ("layer / weight", "left"), ("shape", "left"), ("max abs err", "right"), ("max rel err", "right"), ("tolerance", "right"), ("ok", "left")):
            t.add_column(col, justify=just, no_wrap=col != "layer / weight")
        rows = self.failures() if only_failures else self.compact_rows() if compact else self.rows
        if max_rows is not None:
            rows = rows[:max_rows]
        for r in rows:
            t.add_row(
                *((Text(r.dtype),) if mixed else ()),
                Text(r.phase),
                Text(r.name + (f"  ({r.op})" if r.op else "")),
                Text("[" + ", ".join(map(str, r.shape)) + "]"),
                f"{r.max_abs:.2e}",
                f"{r.max_rel:.2e}",
                f"{r.tol:.2e}",
                Text("ok" if r.ok else "FAIL", style="green" if r.ok else "bold red"),
            )
        return t

    def render_text(self, only_failures: bool = False, compact: bool = True) -> str:
        """Plain text (for assertion messages and logs)."""
        import io

        from rich.console import Console

        buf = io.StringIO()
        console = Console(file=buf, width=130, color_system=None, highlight=False)
        console.print(self.table(only_failures=only_failures, compact=compact))
        for n in self.notes:
            console.print(f"note: {n}")
        f = self.first_failure
        if f is not None and f.why:
            console.print(f"bound of the first failure: {f.why}")
        console.print(self.verdict())
        return buf.getvalue()
