"""Front-end cost per MiB of written-out spec text: `specc check` (load + summary, in process,
CPU time) on generated specs of a given size in several shapes, reported as seconds per MiB.
The promise (issue 10): a few seconds per MiB, linear, up to 16 MiB.

Shapes (each a valid spec, or — past the node budget — one that is refused with a located
error, which is timed the same way):

- ``statements``  one layer a line (``dense`` / ``conv1d`` / ``layer_norm`` …)
- ``named``       a chain of named tensors, ``h12 = h11 -> dense(16)``
- ``one_line``    the whole model body as one ``x -> dense(16) -> relu -> …`` line
- ``inputs``      many inputs, all concatenated: ``(x0, x1, …) -> concat``
- ``blocks``      many block definitions, each called once
- ``long_names``  statements with 200-character names and ``name="…"`` strings

    python benchmarks/frontend_mib.py                       # 1 MiB, every shape
    python benchmarks/frontend_mib.py --mib 1 4 15.9 --shapes one_line   # specc reads at most 16 MiB
    python benchmarks/frontend_mib.py --profile one_line    # cProfile of one run, top 30

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MiB = 1 << 20
HEAD = "model bench {\n  input x: float32[64, 16]\n"
TAIL = "  global_avgpool1d\n  dense(10, activation=softmax)\n}\n"
LAYERS = ["dense(16, activation=relu)", "conv1d(16, kernel=3, padding=same)", "layer_norm", "dropout(0.1)", "gelu"]


def _fill(size: int, head: str, tail: str, piece) -> str:
    parts, n, i = [head], len(head) + len(tail), 0
    while n < size:
        s = piece(i)
        parts.append(s)
        n += len(s)
        i += 1
    parts.append(tail)
    return "".join(parts)


def statements(size: int) -> str:
    return _fill(size, HEAD, TAIL, lambda i: f"  {LAYERS[i % len(LAYERS)]}\n")


def named(size: int) -> str:
    return _fill(size, HEAD + "  h0 = x -> dense(16)\n", "  h -> " + TAIL.lstrip(), lambda i: f"  h{i + 1} = h{i} -> dense(16)\n").replace(
        "  h -> ", "", 1
    )


def one_line(size: int) -> str:
    return _fill(size, HEAD + "  x", "\n" + TAIL, lambda i: f" -> {LAYERS[i % len(LAYERS)]}")


def inputs(size: int) -> str:
    n = max(2, size // 40)
    decl = "".join(f"  input x{i}: float32[4]\n" for i in range(n))
    use = "  (" + ", ".join(f"x{i}" for i in range(n)) + ") -> concat -> dense(10)\n"
    return "model bench {\n" + decl + use + "}\n"


def blocks(size: int) -> str:
    n = max(1, size // 60)
    defs = "".join(f"block b{i}(c) {{\n  input x\n  dense(c)\n}}\n" for i in range(n))
    calls = "".join(f"  b{i}(16)\n" for i in range(n))
    return defs + HEAD + calls + TAIL


def long_names(size: int) -> str:
    stem = "n" * 200

    def piece(i: int) -> str:
        return f'  {stem}{i + 1} = {stem}{i} -> dense(16, name="{stem}{i}")\n'

    head = HEAD + f"  {stem}0 = x -> dense(16)\n"
    return _fill(size, head, "", piece) + TAIL


SHAPES = {f.__name__: f for f in (statements, named, one_line, inputs, blocks, long_names)}


def check_once(text: str) -> tuple[float, str]:
    """CPU seconds of what `specc check FILE` does once Python runs; and the outcome."""
    import specc
    from specc._nogc import paused_gc  # noqa: F401 - what the CLI uses is inside load
    from specc.summary import print_summary
    from rich.console import Console

    t = time.process_time()
    try:
        model = specc.loads(text, "bench.spec")
    except specc.SpecError as e:
        e.render()
        outcome = f"refused: {e.diagnostics[0].message[:60]}"
    else:
        print_summary(model, Console(file=io.StringIO(), width=120, highlight=False, markup=False))
        outcome = f"{len(model.nodes):,} layers"
    return time.process_time() - t, outcome


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mib", type=float, nargs="+", default=[1.0], help="spec sizes in MiB")
    ap.add_argument("--shapes", nargs="+", choices=sorted(SHAPES), default=list(SHAPES))
    ap.add_argument("--runs", type=int, default=1, help="runs per measurement (the best is kept)")
    ap.add_argument("--profile", choices=sorted(SHAPES), help="cProfile one run of this shape instead")
    args = ap.parse_args(argv)
    import specc

    specc.loads(statements(4000), "warm.spec")  # imports, grammar, caches
    if args.profile:
        import cProfile
        import pstats

        text = SHAPES[args.profile](int(args.mib[0] * MiB))
        pr = cProfile.Profile()
        pr.enable()
        check_once(text)
        pr.disable()
        pstats.Stats(pr).sort_stats("cumulative").print_stats(30)
        pstats.Stats(pr).sort_stats("tottime").print_stats(25)
        return 0
    print(f"{'shape':<12}{'MiB':>6}{'CPU s':>9}{'s/MiB':>8}  outcome")
    for shape in args.shapes:
        for mib in args.mib:
            text = SHAPES[shape](int(mib * MiB))
            secs, outcome = min(check_once(text) for _ in range(args.runs))
            real = len(text.encode()) / MiB
            print(f"{shape:<12}{real:>6.2f}{secs:>9.2f}{secs / real:>8.2f}  {outcome}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
