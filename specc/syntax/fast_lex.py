"""The fast path's tokenizer (:mod:`specc.syntax.fast_parse`): the tokens Lark's basic lexer
and ``parser._PostLex`` give the parser, from one compiled regular expression.

* One alternation in the order of Lark's basic lexer: FLOAT (priority 3), INT (2), then the
  unbounded terminals, then the longer punctuation first (``->`` before ``-``); a NAME spelled
  like a keyword is that keyword (Lark's basic lexer reserves them).  ``%ignore`` whitespace is
  ``[ \\t\\f\\r]``; a line is counted at ``\\n`` only, columns in characters.
* Newlines as ``_PostLex`` keeps them: dropped inside ``()``/``[]`` and next to ``->``, runs of
  them merged (``;`` is a token of its own); brackets nested deeper than MAX_NESTING or bodies
  deeper than MAX_BRACES, and any character no terminal matches: None (Lark reports it).
"""

from __future__ import annotations

import re

__all__ = ["lex"]

_KEYWORDS = frozenset(
    ["model", "block", "input", "output", "repeat", "as", "train", "verify", "true", "false"]
)

# one match a token: (%ignore'd whitespace before it, the token, or a character no terminal
# matches); the tokens' kinds are read from their text, their positions from the lengths
_PIECES = re.compile(
    r"([ \t\f\r]*)(?:("
    + "|".join(
        [
            r"(?:[0-9](?:_?[0-9])*\.(?:[0-9](?:_?[0-9])*)?|\.[0-9](?:_?[0-9])*)(?:[eE][+-]?[0-9]+)?"  # FLOAT.3
            r"|[0-9](?:_?[0-9])*[eE][+-]?[0-9]+",
            r"[0-9](?:_?[0-9])*",  # INT.2
            r"[A-Za-z_][A-Za-z0-9_]*",  # NAME
            r'"(?:[^"\\\n]|\\[^\n])*"',  # STRING
            r"#[^\n]*",  # COMMENT
            r"(?:\r?\n)+",  # _NL
            r"->|\*\*|//|[{}(),=;:\[\]?+\-*/%]",  # the longer punctuation first
        ]
    )
    + r")|([^ \t\f\r]))"  # (whitespace at the very end matches nothing: skipped)
)
_PUNCT = "{ } ( ) , = ; : [ ] ? + - * / % -> ** //".split()
_FIXED = {k: k for k in (*_KEYWORDS, *_PUNCT)}  # a keyword or punctuation is its own kind
_FIRST = (
    dict.fromkeys("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_", "NAME")
    | dict.fromkeys("0123456789.", "NUMBER")
    | {'"': "STRING", "#": "COMMENT", "\n": "NL", "\r": "NL"}
)
_OPEN = frozenset("([")
_CLOSE = frozenset(")]")


def lex(source: str, max_nesting: int, max_braces: int):
    """Token kinds, values, lines, columns and the comments ``(line, text)``; None on a
    character no terminal matches or nesting beyond the bounds."""
    kinds: list[str] = []
    vals: list[str] = []
    lines: list[int] = []
    cols: list[int] = []
    comments: list[tuple[int, str]] = []
    kadd, vadd, ladd, cadd = kinds.append, vals.append, lines.append, cols.append
    fixed, first = _FIXED.get, _FIRST.__getitem__
    line, line_start, pos = 1, 0, 0
    depth = braces = 0
    prev = None  # the value of the last token kept
    pending = False  # a newline waits for the next token (dropped before `->`)
    for ws, v, bad in _PIECES.findall(source):
        if bad:
            return None
        start = pos + len(ws)
        pos = start + len(v)
        kind = fixed(v)
        if kind is None:
            kind = first(v[0])
            if kind == "NUMBER":
                kind = "FLOAT" if ("." in v or "e" in v or "E" in v) else "INT"
            elif kind == "NL":
                if not depth and prev != "->":
                    pending = True
                line += v.count("\n")
                line_start = pos
                continue
            elif kind == "COMMENT":
                comments.append((line, v))
                continue
        elif kind in _OPEN:
            depth += 1
            if depth > max_nesting:
                return None
        elif kind in _CLOSE:
            if depth:
                depth -= 1
        elif kind == "{":
            braces += 1
            if braces > max_braces:
                return None
        elif kind == "}" and braces:
            braces -= 1
        col = start - line_start + 1
        if pending:
            pending = False
            if v != "->":
                kadd("NL")
                vadd("")
                ladd(line)
                cadd(col)
        kadd(kind)
        vadd(v)
        ladd(line)
        cadd(col)
        prev = v
    if pending:
        kadd("NL")
        vadd("")
        ladd(line)
        cadd(1)
    for _ in range(3):  # look-ahead never runs off the end
        kadd("EOF")
        vadd("")
        ladd(line)
        cadd(1)
    return kinds, vals, lines, cols, comments
