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

# %ignore'd whitespace is read as the prefix of the next token (half as many matches)
_TOKEN = re.compile(
    r"[ \t\f\r]*(?:"
    + "|".join(
        [
            r"(?P<FLOAT>(?:[0-9](?:_?[0-9])*\.(?:[0-9](?:_?[0-9])*)?|\.[0-9](?:_?[0-9])*)(?:[eE][+-]?[0-9]+)?"
            r"|[0-9](?:_?[0-9])*[eE][+-]?[0-9]+)",
            r"(?P<INT>[0-9](?:_?[0-9])*)",
            r"(?P<NAME>[A-Za-z_][A-Za-z0-9_]*)",
            r'(?P<STRING>"(?:[^"\\\n]|\\[^\n])*")',
            r"(?P<COMMENT>#[^\n]*)",
            r"(?P<NL>(?:\r?\n)+)",
            r"(?P<OP>->|\*\*|//|[{}(),=;:\[\]?+\-*/%])",
            r"(?P<BAD>[^ \t\f\r])",  # (whitespace at the very end matches nothing: skipped)
        ]
    )
    + ")"
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
    line, line_start = 1, 0
    depth = braces = 0
    prev = None  # the value of the last token kept
    pending = False  # a newline waits for the next token (dropped before `->`)
    for m in _TOKEN.finditer(source):
        g = m.lastgroup
        v = m[g]
        if g == "NAME":
            kind = v if v in _KEYWORDS else "NAME"
        elif g == "OP":
            kind = v
            if v in _OPEN:
                depth += 1
                if depth > max_nesting:
                    return None
            elif v in _CLOSE:
                if depth:
                    depth -= 1
            elif v == "{":
                braces += 1
                if braces > max_braces:
                    return None
            elif v == "}" and braces:
                braces -= 1
        elif g == "NL":
            if not depth and prev != "->":
                pending = True
            line += v.count("\n")
            line_start = m.end()
            continue
        elif g == "COMMENT":
            comments.append((line, v))
            continue
        elif g == "BAD":
            return None
        else:
            kind = g
        col = m.start(g) - line_start + 1
        if pending:
            pending = False
            if v != "->":
                kadd("NL"), vadd(""), ladd(line), cadd(col)
        kadd(kind), vadd(v), ladd(line), cadd(col)
        prev = v
    if pending:
        kadd("NL"), vadd(""), ladd(line), cadd(1)
    for _ in range(3):  # look-ahead never runs off the end
        kadd("EOF"), vadd(""), ladd(line), cadd(1)
    return kinds, vals, lines, cols, comments
