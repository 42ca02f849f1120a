"""``specc import SRC [-o OUT.spec] [--weights OUT.safetensors] [--input NAME:DTYPE[DIMS] …]``:
a Keras model or PyTorch module → a spec, its canonical weights and the mapping report."""

from __future__ import annotations

import sys
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser(
        "import",
        help="import a Keras model or PyTorch module as a spec (with canonical weights)",
        description="SRC is a .keras file, a Keras model JSON config, or FILE.py:NAME (an nn.Module subclass, "
        "or a callable returning an nn.Module or keras.Model, constructed without arguments). "
        "The file is your own Python, imported as such.",
    )
    p.add_argument("source", metavar="SRC", help="model.keras | model.json | file.py:NAME")
    p.add_argument("-o", "--output", metavar="OUT.spec", help="write the spec here (atomically) instead of to stdout")
    p.add_argument("--weights", metavar="OUT.safetensors", help="write the source's weights as canonical weights (.safetensors or .npz)")
    p.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="NAME:DTYPE[DIMS]",
        help="an example input for tracing a PyTorch module: dims without the batch, in the source's layout "
        "(e.g. x:float32[1,28,28] for NCHW); once per input",
    )
    p.add_argument("--name", help="the spec's model name (default: the source's)")
    p.add_argument("--quiet", action="store_true", help="do not print the mapping report")
    p.set_defaults(func=run)


def run(args) -> int:
    from specc.importers import ImportFailure, import_model

    if args.weights and not str(args.weights).endswith((".safetensors", ".npz")):
        print("specc import: error: --weights must end in .safetensors or .npz", file=sys.stderr)
        return 2
    try:
        result = import_model(args.source, args.input, name=args.name)
    except ImportFailure as e:
        print(f"specc import: error: {e}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as e:
        print(f"specc import: error: this source needs the Python package {e.name!r}; install it (pip install 'specc[all]')", file=sys.stderr)
        return 2
    from specc.fsutil import atomic_write_text

    if args.weights:
        from specc.weights import save

        save(result.weights, args.weights, {"model": result.model.name, "imported_from": str(args.source)})
    if args.output:
        atomic_write_text(Path(args.output), result.text)
    else:
        sys.stdout.write(result.text)
    if not args.quiet:
        print(result.report.render(), file=sys.stderr)
        done = [f"spec {args.output}" if args.output else None, f"weights {args.weights}" if args.weights else None]
        if any(done):
            print("wrote " + ", ".join(d for d in done if d), file=sys.stderr)
    return 0
