"""``specc export FILE --weights CKPT --to FORMAT -o PATH``: a checked, deployable model."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("export", help="export a spec with saved weights to onnx, torchscript, keras or savedmodel")
    p.add_argument("file", metavar="FILE", help=".spec file")
    p.add_argument("--weights", required=True, metavar="CKPT", help="canonical checkpoint, or a specc train --out folder")
    p.add_argument("--to", required=True, choices=("onnx", "torchscript", "keras", "savedmodel"), help="format")
    p.add_argument("-o", "--output", required=True, metavar="PATH", help="file to write (a folder for savedmodel)")
    p.add_argument("--backend", choices=("torch", "keras"), help="framework to export from (default: torch for onnx/torchscript, keras for keras/savedmodel)")
    p.add_argument("--allow-nonfinite", action="store_true", help="accept weights holding NaN/inf")
    p.add_argument("--no-check", action="store_true", help="skip loading the export back and comparing outputs")
    p.set_defaults(func=run)


def run(args) -> int:
    from specc.export import export

    result = export(args.file, args.weights, args.to, args.output, args.backend, check=not args.no_check, allow_nonfinite=args.allow_nonfinite)
    print(result.line())
    return 0
