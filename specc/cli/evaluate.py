"""``specc evaluate FILE --weights CKPT``: loss and metrics of saved weights on a data set."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="loss and metrics of saved weights on a data set")
    p.add_argument("file", metavar="FILE", help=".spec file")
    p.add_argument("--weights", required=True, metavar="CKPT", help="canonical checkpoint, or a specc train --out folder")
    p.add_argument("--backend", choices=("torch", "keras"), default=None, help="framework to run the model in (default: torch if installed, else keras)")
    p.add_argument("--data", default="digits", metavar="digits|NPZ|synthetic", help="data set (default digits)")
    p.add_argument("--split", choices=("val", "train", "all"), default="val", help="which examples (default: the validation split)")
    p.add_argument("--device", default=None, help="cpu (default) or cuda")
    p.add_argument("--allow-nonfinite", action="store_true", help="accept weights holding NaN/inf")
    p.add_argument("--json", action="store_true", help="print a JSON list with one result (metrics, diagnostics)")
    p.set_defaults(func=run)


def run(args) -> int:
    import sys

    from specc.cli.output import dumps, file_result, stdout_console
    from specc.errors import SpecError
    from specc.extras import default_backend, require_backend
    from specc.train.evaluate import evaluate
    from specc.train.report import metrics_table

    args.backend = args.backend or default_backend("specc evaluate")
    require_backend(args.backend, f"specc evaluate --backend {args.backend}")
    try:
        metrics, n, path = evaluate(args.file, args.weights, args.backend, args.data, args.split, args.device, allow_nonfinite=args.allow_nonfinite)
    except SpecError as e:
        if not args.json:
            raise
        print(e.render(), file=sys.stderr)
        print(dumps([file_result(args.file, False, e.diagnostics, weights=str(args.weights), split=args.split, examples=None, backend=args.backend, metrics=None)]))
        return getattr(e, "exit_code", 1)
    if args.json:
        print(dumps([file_result(args.file, True, weights=str(path), split=args.split, examples=n, backend=args.backend, metrics=metrics)]))
        return 0
    console = stdout_console()
    console.print(f"{path} on {args.data} ({args.split}, {n} examples), backend {args.backend}")
    console.print(metrics_table("evaluation", [(args.split, metrics)]))
    return 0
