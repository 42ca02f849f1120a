"""``specc fmt FILE...``: print, rewrite (--write) or check (--check) the canonical form."""

from __future__ import annotations

import difflib
import re
import sys
from pathlib import Path

from specc.fsutil import atomic_write_text


def register(sub) -> None:
    p = sub.add_parser("fmt", help="print specs in canonical form")
    p.add_argument("files", nargs="+", metavar="FILE", help=".spec files")
    g = p.add_mutually_exclusive_group()
    g.add_argument("-w", "--write", action="store_true", help="rewrite the files in place (atomically)")
    g.add_argument("--check", action="store_true", help="exit 1 if a file is not in canonical form (prints a diff)")
    p.set_defaults(func=run)


def _lines(text: str) -> list[str]:
    """Lines with their ends, split at "\\n" only, as the parser counts them."""
    return [line for line in re.split(r"(?<=\n)", text) if line]


def run(args) -> int:
    from specc.errors import Diagnostic, SpecError, Span
    from specc.syntax.format import format_source

    status = 0
    for path in args.files:
        p = Path(path)
        try:
            original = p.read_bytes()
        except OSError as e:
            print(SpecError([Diagnostic(Span(path, 1, 1), f"cannot read the file: {e.strerror}")]).render(), file=sys.stderr)
            status = 1
            continue
        try:
            text = format_source(original, path)
        except SpecError as e:
            print(e.render(), file=sys.stderr)
            status = 1
            continue
        old = original.decode("utf-8")
        if args.check:
            if text != old:
                status = 1
                diff = difflib.unified_diff(_lines(old), _lines(text), path, f"{path} (formatted)")
                # like diff(1): a last line without its newline is marked, not glued to the next
                sys.stdout.writelines(d if d.endswith("\n") else d + "\n\\ No newline at end of file\n" for d in diff)
        elif args.write:
            if text != old:
                atomic_write_text(p, text)
                print(f"formatted {path}", file=sys.stderr)
        else:
            sys.stdout.write(text)
    return status
