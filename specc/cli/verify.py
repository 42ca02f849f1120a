"""``specc verify FILE...``: prove the backends compute the same function."""

from __future__ import annotations

from specc.cli.args import POSITIVE, SEED, int_range

MAX_STEPS = 10_000  # each step is compared tensor by tensor; more is a training run, not a check

import sys


def register(sub) -> None:
    p = sub.add_parser("verify", help="compare backends layer by layer: outputs, loss, gradients, optimizer steps")
    p.add_argument("files", nargs="+", metavar="FILE", help=".spec files")
    p.add_argument("--backends", default="torch,keras", help="two backends to compare (default: torch,keras)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32", help="precision (float64 agrees to ~1e-10)")
    p.add_argument("--steps", type=int_range(0, MAX_STEPS + 1), default=None, help="optimizer steps to compare (default: the spec's verify steps, 3)")
    p.add_argument("--seed", type=SEED, default=0, help="seed of weights, inputs and targets")
    p.add_argument("--batch", type=POSITIVE, default=None, help="batch size (default: the spec's verify batch, 4)")
    p.add_argument("--device", choices=("cpu", "cuda"), default=None, help="run both backends on this device")
    p.add_argument("--rtol", type=float, default=None, help="override the forward relative tolerance")
    p.add_argument("--atol", type=float, default=None, help="override the forward absolute tolerance")
    p.add_argument("--json", nargs="?", const="-", metavar="PATH", help="write a JSON list, one result per file with its report (to PATH, or stdout)")
    p.add_argument("--against", metavar="SRC", help="check your own model against the spec: FILE.py:NAME (nn.Module or keras.Model recipe) or model.keras")
    p.add_argument("--weights", metavar="W", help="with --against: the spec's canonical weights (.safetensors/.npz) to give both (default: drawn from the spec)")
    p.add_argument(
        "--input", action="append", default=None, metavar="NAME:DTYPE[DIMS]",
        help="with --against a PyTorch module: an example input for tracing (dims without the batch, in the module's layout)",
    )
    p.add_argument("--port-weights", choices=("spec", "own"), default="spec", help="with --against: give the port the spec's weights (default), or keep the port's own (checks your weight conversion; needs --weights)")
    p.add_argument("-v", "--verbose", action="store_true", help="show every compared tensor, not the compact table")
    p.set_defaults(func=run)


def run(args) -> int:
    from specc.api import load
    from specc.cli.output import stdout_console
    from specc.errors import SpecError

    backends = tuple(b.strip() for b in args.backends.split(","))
    if len(backends) != 2 or any(b not in ("torch", "keras") for b in backends):
        print("specc verify: error: --backends takes two of torch, keras (e.g. torch,keras)", file=sys.stderr)
        return 2
    for flag, value in (("--steps", args.steps), ("--batch", args.batch)):
        if value is not None and value < (0 if flag == "--steps" else 1):
            print(f"specc verify: error: {flag} must be {'≥ 0' if flag == '--steps' else '≥ 1'}", file=sys.stderr)
            return 2
    from specc.extras import require_backend

    for b in backends:
        require_backend(b, f"specc verify (the {b} side of --backends {','.join(backends)})")
    from specc.verification import VerifyError, verify
    from specc.verification.harness import device_problem

    problem = device_problem(backends, args.device)
    if problem is not None:
        print(f"specc verify: error: {problem}", file=sys.stderr)
        return 2

    if (args.weights or args.input) and not args.against:
        print("specc verify: error: --weights and --input go with --against", file=sys.stderr)
        return 2
    if args.against and len(args.files) != 1:
        print("specc verify: error: --against checks one spec at a time", file=sys.stderr)
        return 2
    extra = {"against": args.against, "weights": args.weights, "inputs": args.input, "port_weights": args.port_weights} if args.against else {}

    from specc.cli.output import dumps, file_result
    from specc.errors import Diagnostic

    console = stdout_console(110)
    results, failed, internal = [], 0, 0
    for path in args.files:
        try:
            model = load(path)
            report = verify(
                model,
                backends=backends,
                dtype=args.dtype,
                steps=args.steps,
                seed=args.seed,
                batch=args.batch,
                device=args.device,
                rtol=args.rtol,
                atol=args.atol,
                **extra,
            )
        except (SpecError, VerifyError) as e:
            failed += 1
            print(e.render() if isinstance(e, SpecError) else f"{path}: error: {e}", file=sys.stderr)
            diags = e.diagnostics if isinstance(e, SpecError) else [Diagnostic(None, str(e))]
            results.append(file_result(path, False, diags, report=None))
            continue
        except (OSError, MemoryError) as e:  # the environment, not the spec: report it, go on
            failed += 1
            print(f"{path}: error: {type(e).__name__}: {e}", file=sys.stderr)
            results.append(file_result(path, False, [Diagnostic(None, f"{type(e).__name__}: {e}")], report=None))
            continue
        except Exception as e:  # an import failure of the --against model is a usage error
            from specc.importers import ImportFailure
            from specc.weights import CheckpointError

            if isinstance(e, ImportFailure):
                print(f"specc verify: error: --against {args.against}: {e}", file=sys.stderr)
                return 2
            if isinstance(e, CheckpointError):
                print(f"specc verify: error: {e}", file=sys.stderr)
                return 1
            internal += 1
            print(f"{path}: internal error: {type(e).__name__}: {e} (please report it)", file=sys.stderr)
            results.append(file_result(path, False, [Diagnostic(None, f"internal error: {type(e).__name__}: {e}")], report=None))
            continue
        results.append(file_result(path, report.ok, report=report.to_json()))
        if args.json != "-":
            console.print(f"[bold]{path}[/bold]")
            console.print(report.table(compact=not args.verbose))
            for note in report.notes:
                console.print(f"note: {note}", markup=False)
            if report.first_failure is not None and report.first_failure.why:
                console.print(f"bound of the first failure: {report.first_failure.why}", markup=False)
            console.print(report.verdict(), style="green" if report.ok else "bold red", markup=False)
            console.print()
        if not report.ok:
            failed += 1
    if args.json:
        text = dumps(results)
        if args.json == "-":
            print(text)
        else:
            from specc.fsutil import atomic_write_text

            atomic_write_text(args.json, text + "\n")
    if len(args.files) > 1 and args.json != "-":
        print(f"{len(args.files) - failed - internal} of {len(args.files)} specs verified", file=sys.stderr)
    return 3 if internal else 1 if failed else 0
