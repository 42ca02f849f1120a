"""``specc graph FILE``: draw the model graph (see :mod:`specc.diagram`)."""

from __future__ import annotations

import sys

_SUFFIX = {".dot": "dot", ".gv": "dot", ".mmd": "mermaid", ".mermaid": "mermaid", ".svg": "svg", ".png": "png"}


def register(sub) -> None:
    p = sub.add_parser("graph", help="draw the model graph: SVG/PNG with Graphviz, or DOT / Mermaid text")
    p.add_argument("file", metavar="FILE", help=".spec file")
    p.add_argument("-o", "--output", metavar="PATH", help="write here (format from the suffix: .svg .png .dot .mmd); default: DOT text on stdout")
    p.add_argument("--format", choices=("dot", "mermaid", "svg", "png"), help="override the format the suffix gives")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from specc.api import load
    from specc.diagram import RenderError, render

    fmt = args.format
    if fmt is None:
        if args.output is None:
            fmt = "dot"
        else:
            fmt = _SUFFIX.get(Path(args.output).suffix.lower())
            if fmt is None:
                print(f"specc graph: error: cannot tell the format of {args.output}: use .svg, .png, .dot or .mmd, or --format", file=sys.stderr)
                return 2
    if fmt in ("svg", "png") and args.output is None:
        print(f"specc graph: error: --format {fmt} is binary: give -o PATH", file=sys.stderr)
        return 2
    model = load(args.file)
    try:
        data = render(model, fmt)
    except RenderError as e:
        stem = Path(args.output).with_suffix("") if args.output else Path(model.name)
        print(f"specc graph: error: {e}", file=sys.stderr)
        print(f"  = help: install Graphviz (apt install graphviz, brew install graphviz), or write text: -o {stem}.dot (Graphviz) or -o {stem}.mmd (Mermaid)", file=sys.stderr)
        return 2  # the environment cannot do the job (README: exit status), as a missing extra
    if args.output is None:
        sys.stdout.write(data.decode())
        return 0
    from specc.fsutil import atomic_write

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(data)

    try:
        atomic_write(args.output, write)
    except OSError as e:
        print(f"specc graph: error: cannot write {args.output}: {e.strerror or e}", file=sys.stderr)
        return 2  # an unwritable folder or a full disk, as every other command
    print(f"{args.output}: {fmt} graph of {model.name} ({len(model.nodes)} layers)")
    return 0
