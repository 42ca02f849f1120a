"""Front-end benchmark: how parse, elaborate (IR + shapes) and the whole of ``specc check``
scale with the size of a spec, and what ``specc check`` costs at start-up.

Generates specs of 100 to 100,000 layers in two shapes — ``written``: a trunk written out
statement by statement (dense and conv1d layers, residual block calls, small ``repeat``
loops); ``repeat``: the same layers produced by one ``repeat`` of a block that calls a
block — and reports the best of a few runs of each stage, the time per layer, and the
growth ratio between consecutive sizes (10× the layers should take about 10× the time: a
normalised growth near 1.0 means linear).

Cold start: the CPU time (user + system) of ``specc check`` on a small spec against that of
``python -c "import lark, pydantic, numpy"`` (the design's dependencies), measured in
alternating pairs in the same run, with bytecode caches (as installed); the median ratio is
reported.

    python benchmarks/frontend.py                 # the table
    python benchmarks/frontend.py --json out.json # and the numbers as JSON
    python benchmarks/frontend.py --sizes 100 1000 --runs 5 --no-cli --cold 0

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
#: the in-process stages are timed in CPU seconds of this process: on a shared machine the
#: wall clock measures the neighbours (--wall to time them by the wall clock instead)
CLOCK = time.process_time


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


STAGE = """block stage(c) {
  input x
  dense(c, activation=relu)
  conv1d(c, kernel=3, padding=same)
  res(c)
  res(c)
}
"""


def make_repeat_spec(layers: int) -> str:
    """A valid spec of exactly ``layers`` IR nodes, almost all from one repeat of a block
    (10 layers a repetition) calling another block."""
    reps, rest = divmod(layers - HEAD_LAYERS, 10)
    lines = ["model bench {", "  input seq: float32[64, 16]", f"  repeat {reps} {{", "    stage(16)", "  }"]
    lines.extend("  dense(16)" for _ in range(rest))
    lines += ["  global_avgpool1d", "  dense(10, activation=softmax)", "}"]
    return BLOCK + STAGE + "\n" + "\n".join(lines) + "\n"


SHAPES = {"written": make_spec, "repeat": make_repeat_spec}


def cold_start(pairs: int) -> dict:
    """CPU seconds of `specc check` on a small spec and of importing lark, pydantic and
    numpy, in alternating pairs; the median of each and of the pairs' ratios."""
    import resource
    import statistics

    # with bytecode caches, as an installed package has them (PYTHONDONTWRITEBYTECODE would
    # make every run compile specc's sources while the baseline's packages are compiled)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(ROOT)
    spec = str(ROOT / "specs" / "mlp_binary.spec")
    cmds = {
        "check": [sys.executable, "-m", "specc", "check", spec],
        "baseline": [sys.executable, "-c", "import lark, pydantic, numpy"],
    }

    def cpu(cmd: list[str]) -> float:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

    cpu(cmds["check"])  # warm the OS file cache, specc's bytecode and its parser cache
    got: dict[str, list[float]] = {"check": [], "baseline": []}
    ratios = []
    for _ in range(pairs):
        c, b = cpu(cmds["check"]), cpu(cmds["baseline"])
        got["check"].append(c)
        got["baseline"].append(b)
        ratios.append(c / b)
    return {
        "pairs": pairs,
        "check_cpu_s": statistics.median(got["check"]),
        "baseline_cpu_s": statistics.median(got["baseline"]),
        "ratio": statistics.median(ratios),
    }


def _child_cpu(cmd: list[str], env: dict) -> float:
    """CPU seconds (user + system) of one run of a command (a child process: this
    process' own clock does not see them)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def best(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = CLOCK()
        fn()
        times.append(CLOCK() - t)
    return min(times)


def measure(layers: int, runs: int, cli: bool, shape: str = "written") -> dict:
    text = SHAPES[shape](layers)
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
        t = CLOCK()
        elaborate_only()
        return CLOCK() - t

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"bench_{layers}.spec"
        path.write_text(text)

        def check_equivalent():  # what `specc check FILE` does once Python is running
            m = specc.load(path)
            print_summary(m, Console(file=io.StringIO(), width=120, highlight=False, markup=False))  # (a rich Console: older versions print through one)

        out = {
            "shape": shape,
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
            out["cli_s"] = min(_child_cpu(cmd, env) for _ in range(runs))
    return out


def growth(results: list[dict], key: str) -> list[float | None]:
    """Time ratio between consecutive sizes divided by their size ratio (1.0 = linear)."""
    out: list[float | None] = [None]
    for a, b in zip(results, results[1:], strict=False):
        out.append((b[key] / a[key]) / (b["layers"] / a["layers"]))
    return out


def table(all_results: dict[str, list[dict]], grammar_s: float, cached_s: float) -> str:
    first = next(iter(all_results.values()))
    stages = [("parse", "parse_s"), ("elaborate", "elaborate_s"), ("check (in-process)", "check_s")]
    if "cli_s" in first[0]:
        stages.append(("specc check (CLI)", "cli_s"))
    rows = [f"{'shape':<9}{'stage':<20}{'layers':>9}{'best time':>12}{'per layer':>12}{'growth':>9}"]
    rows.append("-" * len(rows[0]))
    for shape, results in all_results.items():
        for name, key in stages:
            for r, g in zip(results, growth(results, key), strict=True):
                per = 1e6 * r[key] / r["layers"]
                rows.append(f"{shape:<9}{name:<20}{r['layers']:>9,}{r[key]:>11.3f}s{per:>10.1f}µs{'' if g is None else f'{g:.2f}×':>9}")
    rows.append("")
    rows.append(f"grammar construction (once per process): {grammar_s * 1000:.0f} ms built, {cached_s * 1000:.0f} ms from the table cache")
    rows.append("growth = (time ratio) / (layer ratio) between consecutive sizes; 1.00× is linear")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1_000, 10_000], help="numbers of layers")
    ap.add_argument("--runs", type=int, default=3, help="runs per measurement (the best is kept)")
    ap.add_argument("--no-cli", dest="cli", action="store_false", help="skip timing the specc check command")
    ap.add_argument("--shapes", nargs="+", choices=sorted(SHAPES), default=["written", "repeat"], help="spec shapes")
    ap.add_argument("--cold", type=int, default=10, metavar="PAIRS", help="cold-start pairs (0: skip)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    ap.add_argument("--wall", action="store_true", help="time the in-process stages by the wall clock, not CPU time")
    args = ap.parse_args(argv)
    global CLOCK
    if args.wall:
        CLOCK = time.perf_counter
    if min(args.sizes) < 12:
        ap.error("sizes must be at least 12 layers")

    saved = os.environ.get("SPECC_CACHE_DIR")
    os.environ["SPECC_CACHE_DIR"] = "off"  # first: built from the grammar
    t = CLOCK()
    _lark.cache_clear()
    _lark()
    grammar_s = CLOCK() - t
    if saved is None:
        del os.environ["SPECC_CACHE_DIR"]
    else:
        os.environ["SPECC_CACHE_DIR"] = saved
    _lark.cache_clear()
    _lark()  # writes the cache if there is none
    t = CLOCK()
    _lark.cache_clear()
    _lark()
    cached_s = CLOCK() - t
    specc.loads(make_spec(12))  # warm up: imports, caches

    all_results = {shape: [measure(n, args.runs, args.cli, shape) for n in args.sizes] for shape in args.shapes}
    results = next(iter(all_results.values()))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    clock = "wall-clock" if args.wall else "CPU"
    print(f"specc front end — Python {platform.python_version()}, {platform.machine()}, best of {args.runs} runs ({clock} time; the CLI: CPU time of its process), load average {load:.1f}")
    print(f"layer kinds: {', '.join(results[0]['layer_kinds'])}")
    print()
    print(table(all_results, grammar_s, cached_s))
    cold = cold_start(args.cold) if args.cold else None
    if cold:
        print()
        print(
            f"cold start (CPU, median of {cold['pairs']} pairs): specc check {cold['check_cpu_s']:.3f} s, "
            f"import lark+pydantic+numpy {cold['baseline_cpu_s']:.3f} s, ratio {cold['ratio']:.2f}×"
        )
    if args.json:
        data = {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "runs": args.runs,
            "grammar_s": grammar_s,
            "grammar_cached_s": cached_s,
            "load_average": load,
            "results": all_results,
            "growth": {shape: {k: growth(rs, k) for k in ("parse_s", "elaborate_s", "check_s", *(["cli_s"] if args.cli else []))} for shape, rs in all_results.items()},
            "cold_start": cold,
        }
        Path(args.json).write_text(json.dumps(data, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
