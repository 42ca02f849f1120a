"""The differential check of the two parsers: the fast path (specc.syntax.fast_parse) against
Lark (the language's definition), on one input.

Used by tests/test_fast_parse.py and by ``make fuzz`` (tests/fuzzing.py runs it on every
input).  The promise checked: when the fast path returns, its AST is Lark's — node classes,
every field, every span, comments and blank lines, compared type-strictly (``1`` is not
``1.0``) — and the fast path never returns for an input Lark rejects.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from specc.errors import SpecError
from specc.syntax import parser
from specc.syntax.comments import attach_comments
from specc.syntax.fast_parse import parse_fast

__all__ = ["Compared", "compare_parsers", "first_difference"]


def first_difference(a, b, path: str = "spec") -> str | None:
    """Where two ASTs first differ (type-strict, spans and comments included), or None."""
    if type(a) is not type(b):
        return f"{path}: {type(a).__name__} {a!r:.120} vs {type(b).__name__} {b!r:.120}"
    if dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            d = first_difference(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
            if d:
                return d
        return None
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return f"{path}: {len(a)} items vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_difference(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    if a != b and not (a != a and b != b):  # (nan is nan here)
        return f"{path}: {a!r:.120} vs {b!r:.120}"
    return None


@dataclass
class Compared:
    fast_used: bool  # the fast path returned an AST
    lark_valid: bool  # Lark accepted the input
    problem: str | None  # the broken promise, in words; None when the paths agree

    @property
    def ok(self) -> bool:
        return self.problem is None


def compare_parsers(source: str | bytes, file: str = "fuzz.spec") -> Compared:
    """Parse ``source`` both ways and say whether the fast path kept its promise."""
    try:
        text = parser.checked_text(source, file)
    except SpecError:  # not text a parser sees (encoding, NUL, size): nothing to compare
        return Compared(False, False, None)
    fast = parse_fast(text, file, parser.MAX_NESTING, parser.MAX_BRACES)
    if fast is not None:
        spec, comments = fast
        attach_comments(spec, comments, text)
    try:
        ref = parser.parse_lark(text, file)
    except SpecError as e:
        if fast is not None:
            return Compared(True, False, f"the fast path accepted what Lark rejects ({e.diagnostics[0].message})")
        return Compared(False, False, None)
    if fast is None:
        return Compared(False, True, None)
    d = first_difference(spec, ref)
    return Compared(True, True, None if d is None else f"the ASTs differ at {d}")
