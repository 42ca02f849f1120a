"""``specc selftest``: verify specc's own corpus, shared code and harness on this installation."""

from __future__ import annotations

import sys


def register(sub) -> None:
    p = sub.add_parser(
        "selftest",
        help="check that this installation's PyTorch and Keras still agree: the harness, shared code and a corpus covering the whole vocabulary",
    )
    p.add_argument("--dtype", choices=("float32", "float64"), default=None, help="precision of the corpus run (default: float32, which also compares float64 runs; float64 with --quick)")
    p.add_argument("--quick", action="store_true", help="float64 runs only (for test suites)")
    p.add_argument("-x", "--fail-fast", action="store_true", help="stop at the first failed check")
    p.set_defaults(func=run)


def run(args) -> int:
    import time

    from rich.console import Console

    from specc.selftest import run_selftest

    console = Console(highlight=False, width=max(Console().width, 110))
    started = time.perf_counter()

    def show(o) -> None:
        from rich.text import Text

        line = Text("ok   " if o.ok else "FAIL ", style="green" if o.ok else "bold red")
        line.append(f"{o.part:8} {o.what}" + (f" ({o.seconds:.1f} s)" if o.seconds else ""))
        console.print(line, soft_wrap=True)
        if not o.ok:
            console.print(Text("     " + o.detail), soft_wrap=True)

    try:
        result = run_selftest(args.dtype, args.quick, on_outcome=show, fail_fast=args.fail_fast)
    except ModuleNotFoundError as e:
        print(f"specc selftest: error: needs both frameworks installed ({e.name} is missing): pip install 'specc[torch,keras]'", file=sys.stderr)
        return 2
    failed = [o for o in result.outcomes if not o.ok]
    n = len(result.outcomes)
    took = time.perf_counter() - started
    if failed:
        console.print(f"[bold red]selftest FAILED: {len(failed)} of {n} checks[/bold red] ({took:.0f} s)")
        for o in failed[:20]:
            console.print(f"  {o.part}: {o.what}", markup=False, soft_wrap=True)
        return 1
    console.print(f"[green]selftest passed: {n} checks[/green] ({took:.0f} s)")
    return 0
