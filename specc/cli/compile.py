"""``specc compile FILE --to torch|keras [-o model.py]``: standalone model source."""

from __future__ import annotations

import sys
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("compile", help="write a spec as a standalone PyTorch or Keras Python module")
    p.add_argument("file", metavar="FILE", help=".spec file")
    p.add_argument("--to", required=True, choices=("torch", "keras"), help="target framework")
    p.add_argument("-o", "--output", metavar="PATH", help="write here (atomically) instead of to stdout")
    p.set_defaults(func=run)


def emit(model, target: str) -> str:
    from specc.extras import needs

    with needs(f"specc compile --to {target}"):
        return _emit(model, target)


def _emit(model, target: str) -> str:
    if target == "torch":
        from specc.backends.torch.emit import emit_torch

        return emit_torch(model)
    from specc.backends.keras.emit import emit_keras

    return emit_keras(model)


def run(args) -> int:
    from specc.api import load
    from specc.fsutil import atomic_write_text

    model = load(args.file)
    source = emit(model, args.to)
    if args.output:
        atomic_write_text(Path(args.output), source)
        print(f"wrote {args.output} ({args.to}, model {model.name})", file=sys.stderr)
    else:
        sys.stdout.write(source)
    return 0
