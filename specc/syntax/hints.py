"""Advice for syntax errors that have a known cause: a Python tuple where specc writes a
list, ``loss: mse`` in a section, a bracket left open on an earlier line.  Works on the
source text only (the parser's state says little a reader can use)."""

from __future__ import annotations

__all__ = ["open_brackets", "tuple_hint", "setting_hint"]


def open_brackets(source: str, pos: int) -> list[tuple[str, int]]:
    """The brackets still open at offset ``pos``: (character, offset), innermost last.
    Strings and comments are skipped."""
    stack: list[tuple[str, int]] = []
    i = 0
    n = min(pos, len(source))
    while i < n:
        c = source[i]
        if c == "#":
            j = source.find("\n", i)
            i = n if j < 0 else j
            continue
        if c == '"':
            i += 1
            while i < n and source[i] not in '"\n':
                i += 2 if source[i] == "\\" else 1
        elif c in "([{":
            stack.append((c, i))
        elif c in ")]}" and stack:
            stack.pop()
        i += 1
    return stack


def tuple_hint(source: str, pos: int) -> str | None:
    """`conv2d(32, (3, 3))` fails at the ',' of a parenthesised group: write a list."""
    stack = open_brackets(source, pos)
    if not stack or stack[-1][0] != "(":
        return None
    start = stack[-1][1]
    before = source[:start].rstrip()
    if before and (before[-1].isalnum() or before[-1] == "_"):
        return None  # a call's own parenthesis
    if not before or before[-1] not in "(,=[":
        return None  # `(a, b) -> add` and other places where a tuple of tensors may stand
    end = source.find(")", pos)
    inner = source[start + 1 : end] if end > 0 and "\n" not in source[start:end] else None
    shown = f"[{inner.strip()}]" if inner else "[3, 3]"
    return f"specc writes lists with brackets, not tuples: {shown}"


def setting_hint(source: str, pos: int, token: str) -> str | None:
    """`loss: mse` / `loss = mse` inside a train or verify section."""
    if token not in (":", "="):
        return None
    line_start = source.rfind("\n", 0, pos) + 1
    key = source[line_start:pos].strip()
    if not key.isidentifier():
        return None
    stack = open_brackets(source, pos)
    if not stack or stack[-1][0] != "{":
        return None
    line_end = source.find("\n", pos)
    value = source[pos + 1 : line_end if line_end >= 0 else len(source)].split("#")[0].strip() or "…"
    return f"a setting is a key, a space and a value, without '{token}': {key} {value}"


def unclosed_earlier(source: str, pos: int) -> tuple[str, int] | None:
    """The innermost bracket open at ``pos`` when it was opened on an earlier line and
    ``pos`` starts its line (or is the end of the file): the line break that ended the
    statement was swallowed because the bracket is still open."""
    stack = open_brackets(source, pos)
    if not stack or stack[-1][0] not in "([":
        return None
    c, off = stack[-1]
    line_start = source.rfind("\n", 0, pos) + 1
    if off >= line_start or (pos < len(source.rstrip()) and source[line_start:pos].strip()):
        return None
    return c, off


def line_col(source: str, off: int) -> tuple[int, int]:
    return source.count("\n", 0, off) + 1, off - (source.rfind("\n", 0, off) + 1) + 1
