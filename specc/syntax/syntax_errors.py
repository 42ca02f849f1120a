"""Syntax errors as a reader wants them: Lark's ``UnexpectedInput`` → a located
:class:`~specc.errors.Diagnostic` in words ("unexpected ')'", "expected: a name, …"), with
the likely cause where one can be seen (an unclosed bracket earlier, a misspelt keyword, two
statements on one line, a comment written ``//``)."""

from __future__ import annotations

import re

from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from specc.errors import Diagnostic, Span, source_lines, suggest
from specc.syntax import hints as _hints

__all__ = ["syntax_diagnostic"]

_FRIENDLY = {
    "NAME": "a name",
    "INT": "an integer",
    "FLOAT": "a number",
    "STRING": "a string",
    "_NL": "end of line",
    "$END": "end of file",
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "COMMA": "','",
    "COLON": "':'",
    "SEMICOLON": "';'",
    "EQUAL": "'='",
    "QMARK": "'?'",
    "PLUS": "'+'",
    "MINUS": "'-'",
    "STAR": "'*'",
    "SLASH": "'/'",
    "PERCENT": "'%'",
}


def _friendly(term: str, lark) -> str:
    if term in _FRIENDLY:
        return _FRIENDLY[term]
    try:
        pattern = lark.get_terminal(term).pattern
        if pattern.type == "str":
            return f"'{pattern.value}'"
    except Exception:  # noqa: BLE001 - unknown terminal: show its name
        pass
    return term.lower()


def _expected_list(terms, lark) -> str:
    # words ("a name", "end of line") first, then punctuation and keywords
    words = {_friendly(t, lark) for t in terms}
    if "a number" in words:  # where a number may stand, so may an integer
        words.discard("an integer")
    names = sorted(words, key=lambda n: (n.startswith("'"), n))
    # keywords first would be noise; keep the list short and readable
    if len(names) > 8:
        names = names[:8] + ["…"]
    return ", ".join(names)


def _token_desc(tok: Token) -> str:
    if tok.type == "$END":
        return "end of file"
    if tok.type == "_NL":
        return "end of line"
    return f"'{tok.value}'"


def syntax_diagnostic(file: str, source: str, err: UnexpectedInput, lark) -> Diagnostic:
    """The located, readable error for Lark's ``err`` (``lark``: the parser, for its terminals)."""
    line, col = max(err.line, 1) if err.line != -1 else 1, max(err.column, 1) if err.column != -1 else 1
    if isinstance(err, UnexpectedCharacters):
        ch = source[err.pos_in_stream] if 0 <= err.pos_in_stream < len(source) else "?"
        shown = ch if ch.isprintable() else repr(ch)
        hint = None
        if ch == '"':
            hint = "strings end on the line they start on"
        elif ch in "'`":
            hint = 'strings use double quotes: "text"'
        elif ch == "/" and source[err.pos_in_stream : err.pos_in_stream + 2] == "//":
            hint = "comments start with '#'"
        elif ch == "{":
            hint = "'{' opens a model, block, repeat, train or verify body"
        return Diagnostic(
            Span(file, line, col, line, col + 1),
            f"unexpected character {shown!r}" if not ch.isprintable() else f"unexpected character '{shown}'",
            hint=hint,
        )
    if isinstance(err, UnexpectedToken):
        tok = err.token
        pos = len(source) if tok.type == "$END" else getattr(tok, "start_pos", None)
        if pos is not None and (opened := _hints.unclosed_earlier(source, pos)) is not None:
            c, off = opened
            bline, bcol = _hints.line_col(source, off)
            close = ")" if c == "(" else "]"
            where = "the end of the file" if tok.type == "$END" else f"line {line}"
            return Diagnostic(
                Span(file, bline, bcol, bline, bcol + 1),
                f"this '{c}' is not closed",
                hint=f"add '{close}' where its contents end (before {where})",
                notes=[f"at {line}:{col} the parser still read inside it: unexpected {_token_desc(tok)}"],
            )
        if tok.type == "$END":
            line, col = _end_position(source)
        span = Span(file, line, col, getattr(tok, "end_line", line) or line, getattr(tok, "end_column", col + 1) or col + 1)
        expected = set(err.accepts or err.expected)
        hint = None
        if "RBRACE" in expected and tok.type == "$END":
            hint = "a '{' is not closed"
        elif tok.type in ("_NL", "RBRACE", "$END") and "RPAR" in expected:
            hint = "a '(' is not closed"
        elif tok.type in ("_NL", "RBRACE", "$END") and "RSQB" in expected:
            hint = "a '[' is not closed"
        elif tok.value == "//":
            hint = "comments start with '#'"
        elif pos is not None and tok.value == "," and _hints.tuple_hint(source, pos):
            hint = _hints.tuple_hint(source, pos)
        elif pos is not None and _hints.setting_hint(source, pos, str(tok.value)):
            hint = _hints.setting_hint(source, pos, str(tok.value))
        elif tok.type == "NAME" and _keyword_suggestion(str(tok.value), expected, lark):
            hint = _keyword_suggestion(str(tok.value), expected, lark)
        elif _misspelt_keyword_before(source, line, col):
            hint = _misspelt_keyword_before(source, line, col)
        elif tok.type == "NAME" and "_NL" in expected and _after_code(source, line, col):
            hint = "put one statement per line, or separate statements with ';'"
        return Diagnostic(span, f"unexpected {_token_desc(tok)}", expected=_expected_list(expected, lark), hint=hint)
    if isinstance(err, UnexpectedEOF):
        line, col = _end_position(source)
        return Diagnostic(Span(file, line, col), "unexpected end of file", expected=_expected_list(err.expected, lark))
    return Diagnostic(Span(file, line, col), "syntax error")


def _keyword_suggestion(word: str, expected, lark) -> str | None:
    """'did you mean 'model'?' for a misspelt keyword where a keyword may stand."""
    keywords = []
    for term in expected:
        try:
            pattern = lark.get_terminal(term).pattern
        except KeyError:
            continue
        if pattern.type == "str" and pattern.value.isidentifier():
            keywords.append(pattern.value)
    best = suggest(word, keywords)
    return f"did you mean '{best[0]}'?" if best and best[0] != word else None


_HEAD_KEYWORDS = ("model", "block", "input", "output", "repeat", "train", "verify")


def _misspelt_keyword_before(source: str, line: int, col: int) -> str | None:
    """`inptu x: ...` fails at `x`: the word before it was meant to be a keyword."""
    lines = source_lines(source)
    if not 1 <= line <= len(lines):
        return None
    m = re.search(r"(?:^|[;{\s])([A-Za-z_][A-Za-z0-9_]*)\s+$", lines[line - 1][: col - 1])
    if m is None or m.group(1) in _HEAD_KEYWORDS:
        return None
    best = suggest(m.group(1), _HEAD_KEYWORDS)
    return f"'{m.group(1)}' is not a keyword: did you mean '{best[0]}'?" if best else None


def _after_code(source: str, line: int, col: int) -> bool:
    """Whether something other than blanks precedes (line, col) on its line."""
    lines = source_lines(source)
    return 1 <= line <= len(lines) and bool(lines[line - 1][: col - 1].strip())


def _end_position(source: str) -> tuple[int, int]:
    lines = source_lines(source) or [""]
    return len(lines), len(lines[-1]) + 1
