"""``specc lsp``: run the ``.spec`` language server on stdin/stdout (see :mod:`specc.lsp`)."""

from __future__ import annotations

import sys


def register(sub) -> None:
    p = sub.add_parser("lsp", help="run the .spec language server (stdio; editors start it)")
    p.set_defaults(func=run)


def run(args) -> int:
    try:
        import pygls  # noqa: F401
    except ImportError:
        print("specc lsp: error: the language server needs the pygls package", file=sys.stderr)
        print("  = help: pip install 'specc[lsp]'", file=sys.stderr)
        return 1
    from specc.lsp.server import main

    main()
    return 0
