"""Literals as the language reads them, shared by both parsers (:mod:`specc.syntax.to_ast`
for Lark's tree, :mod:`specc.syntax.fast_parse`): integer values and their bound, string
escapes.  No Lark here: the fast path must not import it."""

from __future__ import annotations

from specc.errors import SpecError, Span

__all__ = ["MAX_INT", "int_value", "unescape"]

MAX_INT = 2**63 - 1  # the largest integer a spec may write (as the evaluator's bound)

ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "r": "\r", "0": "\0"}


def unescape(raw: str, span: Span) -> str:
    """The value of a string literal's text (between the quotes): \\\\ \\" \\n \\t \\r \\0
    \\uXXXX \\UXXXXXXXX; any other escape is an error located at the string."""
    if "\\" not in raw:
        return raw
    out: list[str] = []
    i = 0
    while i < len(raw):
        c = raw[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        e = raw[i + 1] if i + 1 < len(raw) else ""
        if e in ESCAPES:
            out.append(ESCAPES[e])
            i += 2
            continue
        if e in ("u", "U"):
            n = 4 if e == "u" else 8
            digits = raw[i + 2 : i + 2 + n]
            if len(digits) == n and all(d in "0123456789abcdefABCDEF" for d in digits) and int(digits, 16) <= 0x10FFFF:
                code = int(digits, 16)
                if not 0xD800 <= code <= 0xDFFF:
                    out.append(chr(code))
                    i += 2 + n
                    continue
        col = span.col + 1 + i
        message = f"unknown escape '\\{e}' in a string"
        if e in ("u", "U"):
            message = f"'\\{e}' needs {n} hex digits of a Unicode code point (not a surrogate)"
        raise SpecError.single(
            Span(span.file, span.line, col, span.line, col + 2),
            message,
            expected="one of: \\\\ \\\" \\n \\t \\r \\0 \\uXXXX \\UXXXXXXXX",
        )
    return "".join(out)


def int_value(text: str) -> int | None:
    """The value of an INT token's text (``1_000``, ``007``); None when it is larger than
    MAX_INT may be written (a cheap length test that also spares int() its 4300-digit limit)."""
    digits = text.replace("_", "").lstrip("0") or "0"
    if len(digits) > _MAX_DIGITS:
        return None
    return int(digits)


_MAX_DIGITS = len(str(MAX_INT))
