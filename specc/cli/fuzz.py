"""``specc fuzz``: verify random valid specs; shrink and write out the ones that fail."""

from __future__ import annotations

import sys


def register(sub) -> None:
    p = sub.add_parser("fuzz", help="verify random valid specs drawn from the whole vocabulary; failures are shrunk and written out")
    p.add_argument("--count", type=int, default=20, help="number of specs (default 20)")
    p.add_argument("--seed", type=int, default=0, help="seed: the same seed draws the same specs")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float64", help="precision of the verification (float32 also compares float64 runs)")
    p.add_argument("--out", metavar="DIR", default=None, help="write each failing spec, shrunk, to DIR (default: fuzz-failures)")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.count < 1 or args.count > 1_000_000:
        print("specc fuzz: error: --count must be between 1 and 1000000", file=sys.stderr)
        return 2
    if args.seed < 0:
        print("specc fuzz: error: --seed must be ≥ 0", file=sys.stderr)
        return 2
    from rich.console import Console
    from rich.text import Text

    from specc.selftest.fuzz import fuzz

    console = Console(highlight=False, width=max(Console().width, 110))
    out = args.out or "fuzz-failures"

    def show(case) -> None:
        line = Text("ok   " if case.ok else "FAIL ", style="green" if case.ok else "bold red")
        line.append(f"{case.index:5d}  {len(case.draft.stmts)} statements, {case.draft.input}, {case.draft.loss}, {case.draft.optimizer} ({case.seconds:.1f} s)")
        console.print(line, soft_wrap=True)
        if not case.ok:
            console.print(Text(f"      {case.verdict}"), soft_wrap=True)
            if case.written:
                console.print(Text(f"      shrunk to {len(case.shrunk.stmts)} statements: {case.written}"), soft_wrap=True)

    cases = fuzz(args.count, args.seed, args.dtype, out, on_case=show)
    failed = [c for c in cases if not c.ok]
    if failed:
        console.print(f"[bold red]fuzz: {len(failed)} of {len(cases)} specs failed[/bold red]; shrunk specs in {out}/")
        return 1
    console.print(f"[green]fuzz: {len(cases)} random specs verified ({args.dtype})[/green]")
    return 0
