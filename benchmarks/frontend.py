"""Front-end benchmark: how parse, elaborate (IR + shapes) and the whole of ``specc check``
scale with the size of a spec.

Generates specs of 100, 1,000 and 10,000 layers — a mix of dense and conv1d layers,
residual blocks and ``repeat`` loops — and reports the best of a few runs of each stage,
the time per layer, and the growth ratio between consecutive sizes (10× the layers should
take about 10× the time: a normalised growth near 1.0 means linear).

    python benchmarks/frontend.py                 # the table
    python benchmarks/frontend.py --json out.json # and the numbers as JSON
    python benchmarks/frontend.py --sizes 100 1000 --runs 5 --no-cli

Not part of the test suite (pytest collects tests/ only).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402

import specc  # noqa: E402
from specc._nogc import paused_gc  # noqa: E402
from specc.semantics.elaborate import elaborate  # noqa: E402
from specc.summary import print_summary  # noqa: E402
from specc.syntax.parser import _lark, parse  # noqa: E402

BLOCK = """block res(c, drop=0.1) {
  input x
  y = x -> dense(c, activation=gelu) -> layer_norm
  (x, y) -> add -> dropout(drop)
}
"""
# one cycle of the trunk: 10 layers
CYCLE = [
    ("dense(16, activation=relu)", 1),
    ("conv1d(16, kernel=3, padding=same)", 1),
    ("res(16)", 4),
    ("repeat 2 as i {\n    dense(16 + 0 * i)\n    conv1d(16, kernel=1, activation=relu)\n  }", 4),
]
HEAD_LAYERS = 2  # global_avgpool1d, dense(10)


def make_spec(layers: int) -> str:
    """A valid spec of exactly ``layers`` IR nodes."""
    per_cycle = sum(n for _, n in CYCLE)
    cycles, rest = divmod(layers - HEAD_LAYERS, per_cycle)
    lines = ["model bench {", "  input seq: float32[64, 16]", ""]
    for c in range(cycles):
        lines.append(f"  # cycle {c}")
        lines.extend(f"  {stmt}" for stmt, _ in CYCLE)
    lines.extend("  dense(16)" for _ in range(rest))
    lines += ["  global_avgpool1d", "  dense(10, activation=softmax)", "", "  train {", "    loss sparse_categorical_crossentropy", "  }", "}"]
    return BLOCK + "\n" + "\n".join(lines) + "\n"


def best(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def measure(layers: int, runs: int, cli: bool) -> dict:
    text = make_spec(layers)
    model = specc.loads(text, "bench.spec")
    assert len(model.nodes) == layers, (len(model.nodes), layers)
    kinds = sorted({n.op.kind for n in model.nodes})

    def parse_only():
        with paused_gc():
            parse(text, "bench.spec")

    tree_holder = {}

    def elaborate_only():
        with paused_gc():
            elaborate(tree_holder["tree"], {"bench.spec": text})

    def stage_elaborate():
        # elaborate needs a fresh tree each time; only the elaboration is timed
        tree_holder["tree"] = parse(text, "bench.spec")
        t = time.perf_counter()
        elaborate_only()
        return time.perf_counter() - t

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"bench_{layers}.spec"
        path.write_text(text)

        def check_equivalent():  # what `specc check FILE` does once Python is running
            m = specc.load(path)
            print_summary(m, Console(file=io.StringIO(), width=120, highlight=False, markup=False))

        out = {
            "layers": layers,
            "lines": text.count("\n"),
            "bytes": len(text.encode()),
            "layer_kinds": kinds,
            "parse_s": best(parse_only, runs),
            "elaborate_s": min(stage_elaborate() for _ in range(runs)),
            "check_s": best(check_equivalent, runs),
        }
        if cli:  # the command itself, interpreter start and imports included
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            cmd = [sys.executable, "-m", "specc", "check", str(path)]
            out["cli_s"] = best(lambda: subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL), runs)
    return out


def growth(results: list[dict], key: str) -> list[float | None]:
    """Time ratio between consecutive sizes divided by their size ratio (1.0 = linear)."""
    out: list[float | None] = [None]
    for a, b in zip(results, results[1:], strict=False):
        out.append((b[key] / a[key]) / (b["layers"] / a["layers"]))
    return out


def table(results: list[dict], grammar_s: float) -> str:
    stages = [("parse", "parse_s"), ("elaborate", "elaborate_s"), ("check (in-process)", "check_s")]
    if "cli_s" in results[0]:
        stages.append(("specc check (CLI)", "cli_s"))
    rows = [f"{'stage':<20}{'layers':>8}{'best time':>12}{'per layer':>12}{'growth':>9}"]
    rows.append("-" * len(rows[0]))
    for name, key in stages:
        for r, g in zip(results, growth(results, key), strict=True):
            per = 1e6 * r[key] / r["layers"]
            rows.append(f"{name:<20}{r['layers']:>8,}{r[key]:>11.3f}s{per:>10.1f}µs{'' if g is None else f'{g:.2f}×':>9}")
    rows.append("")
    rows.append(f"grammar construction (once per process): {grammar_s * 1000:.0f} ms")
    rows.append("growth = (time ratio) / (layer ratio) between consecutive sizes; 1.00× is linear")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1_000, 10_000], help="numbers of layers")
    ap.add_argument("--runs", type=int, default=3, help="runs per measurement (the best is kept)")
    ap.add_argument("--no-cli", dest="cli", action="store_false", help="skip timing the specc check command")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = ap.parse_args(argv)
    if min(args.sizes) < 12:
        ap.error("sizes must be at least 12 layers")

    t = time.perf_counter()
    _lark.cache_clear()
    _lark()
    grammar_s = time.perf_counter() - t
    specc.loads(make_spec(12))  # warm up: imports, caches

    results = [measure(n, args.runs, args.cli) for n in args.sizes]
    print(f"specc front end — Python {platform.python_version()}, {platform.machine()}, best of {args.runs} runs")
    print(f"layer kinds: {', '.join(results[0]['layer_kinds'])}")
    print()
    print(table(results, grammar_s))
    if args.json:
        data = {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "runs": args.runs,
            "grammar_s": grammar_s,
            "results": results,
            "growth": {k: growth(results, k) for k in ("parse_s", "elaborate_s", "check_s", *(["cli_s"] if args.cli else []))},
        }
        Path(args.json).write_text(json.dumps(data, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
