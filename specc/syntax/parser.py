"""Text → surface AST (:mod:`specc.syntax.ast`), with located syntax errors.

The grammar lives in ``grammar/specc.lark`` (shipped inside the package as
``specc/grammar/specc.lark``).  Parsing is LALR(1), so it is linear in the size of the file.
This module reads the text (size, encoding), lexes it (newlines that end statements, nesting
bounds, comments collected) and drives Lark; the tree becomes the AST in
:mod:`specc.syntax.to_ast`, comments are attached in :mod:`specc.syntax.comments`, syntax
errors are worded in :mod:`specc.syntax.syntax_errors`.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from specc.errors import Diagnostic, SpecError, Span
from specc.syntax import ast
from specc.syntax.comments import attach_comments
from specc.syntax.fast_parse import parse_fast
from specc.syntax.literals import MAX_INT, unescape

if TYPE_CHECKING:  # Lark is imported where it is used: the fast path does without it
    from lark import Lark, Token

__all__ = ["parse", "parse_lark", "checked_text", "grammar_path", "unescape", "MAX_NESTING", "MAX_BRACES", "MAX_INT", "PARSER_ENV"]

MAX_NESTING = 64  # brackets nested deeper than this are rejected (no recursion blow-ups)
MAX_BRACES = 32  # so are bodies ({ ... }: repeat in repeat in ...)
MAX_SOURCE_BYTES = 16 * 1024 * 1024
#: ``SPECC_PARSER=lark`` in the environment: every spec goes through Lark (the reference
#: path), never through the fast path of :mod:`specc.syntax.fast_parse`
PARSER_ENV = "SPECC_PARSER"


def grammar_path() -> Path:
    """Where the grammar file is: inside the installed package, or the source checkout."""
    pkg = Path(__file__).resolve().parent.parent
    for cand in (pkg / "grammar" / "specc.lark", pkg.parent / "grammar" / "specc.lark"):
        if cand.is_file():
            return cand
    raise FileNotFoundError("specc's grammar file (grammar/specc.lark) is missing from the installation")


# --------------------------------------------------------------------------- lexing


class _TooDeep(Exception):
    def __init__(self, token: Token, message: str):
        self.token = token
        self.message = message


class _PostLex:
    """Makes newlines mean "end of statement" only where that is what a reader sees.

    * inside ``(...)`` and ``[...]`` newlines are dropped (multi-line argument lists);
    * a newline next to ``->`` is dropped (a chain may be split over lines);
    * brackets nested deeper than MAX_NESTING, bodies deeper than MAX_BRACES are an error,
      never a recursion crash.
    """

    always_accept = ("_NL",)

    def process(self, stream):
        depth = braces = 0
        pending_nl: Token | None = None
        prev_value: str | None = None
        for tok in stream:
            if tok.type == "_NL":
                if depth > 0 or prev_value == "->":
                    continue
                pending_nl = pending_nl or tok
                continue
            if pending_nl is not None:
                if tok.value != "->":
                    yield pending_nl
                pending_nl = None
            if tok.value in ("(", "["):
                depth += 1
                if depth > MAX_NESTING:
                    raise _TooDeep(tok, f"brackets are nested more than {MAX_NESTING} levels deep")
            elif tok.value in (")", "]") and depth > 0:
                depth -= 1
            elif tok.value == "{":
                braces += 1
                if braces > MAX_BRACES:
                    raise _TooDeep(tok, f"bodies ({{ ... }}) are nested more than {MAX_BRACES} levels deep")
            elif tok.value == "}" and braces > 0:
                braces -= 1
            prev_value = tok.value
            yield tok
        if pending_nl is not None:
            yield pending_nl


_comment_sink = threading.local()


def _on_comment(tok: Token) -> None:
    sink = getattr(_comment_sink, "items", None)
    if sink is not None:
        sink.append(tok)


_OPTIONS = {"parser": "lalr", "lexer": "basic", "propagate_positions": True, "maybe_placeholders": False}


@lru_cache(maxsize=1)
def _lark() -> Lark:
    """The parser: its tables loaded from the user's cache when the grammar is unchanged
    (see :mod:`specc.syntax.table_cache`), else built from the grammar and cached."""
    from lark import Lark

    from specc.syntax import positions, table_cache

    grammar = grammar_path().read_text(encoding="utf-8")
    runtime = {"postlex": _PostLex(), "lexer_callbacks": {"COMMENT": _on_comment}}
    key = table_cache.key_of(grammar, _OPTIONS)
    parser = table_cache.load(key, _OPTIONS, **runtime)
    if parser is None:
        parser = Lark(grammar, **_OPTIONS, **runtime)
        table_cache.save(key, parser)
    positions.install(parser)  # Lark's positions, computed faster (see specc.syntax.positions)
    return parser


# --------------------------------------------------------------------------- entry point


def parse(source: str | bytes, file: str = "<string>") -> ast.SpecFile:
    """Parse spec text into its surface AST; raise :class:`SpecError` on a syntax error.

    The fast path (:mod:`specc.syntax.fast_parse`) answers when it can; Lark, the language's
    definition, parses everything else and reports every error (``SPECC_PARSER=lark``: Lark
    parses everything)."""
    source = checked_text(source, file)
    if os.environ.get(PARSER_ENV, "").strip().lower() != "lark":
        fast = parse_fast(source, file, MAX_NESTING, MAX_BRACES)
        if fast is not None:  # else: an error, or a construct the fast path leaves to Lark
            spec, comments = fast
            attach_comments(spec, comments, source)
            return spec
    return parse_lark(source, file)


def checked_text(source: str | bytes, file: str) -> str:
    """The text of a spec file, or a located error when it cannot be one: not UTF-8, a lone
    surrogate, larger than the bound, a NUL byte.  A byte-order mark is dropped."""
    if isinstance(source, bytes):
        if len(source) > MAX_SOURCE_BYTES + 3:  # (a byte-order mark aside)
            raise SpecError.single(Span(file, 1, 1), f"the file is larger than {MAX_SOURCE_BYTES // 2**20} MiB")
        try:
            source = source.decode("utf-8")
        except UnicodeDecodeError as e:
            line = source[: e.start].count(b"\n") + 1
            col = e.start - (source.rfind(b"\n", 0, e.start) + 1) + 1
            raise SpecError.single(Span(file, line, col), "the file is not valid UTF-8 text") from None
    else:
        try:
            source.encode("utf-8")
        except UnicodeEncodeError as e:  # a lone surrogate: text no file can hold
            line = source.count("\n", 0, e.start) + 1
            col = e.start - (source.rfind("\n", 0, e.start) + 1) + 1
            raise SpecError.single(Span(file, line, col), "the text is not valid Unicode (a lone surrogate)") from None
    source = source.removeprefix("\ufeff")  # a byte-order mark some editors write
    if len(source) > MAX_SOURCE_BYTES:
        raise SpecError.single(Span(file, 1, 1), f"the file is larger than {MAX_SOURCE_BYTES // 2**20} MiB")
    if "\x00" in source:
        pos = source.index("\x00")
        line = source.count("\n", 0, pos) + 1
        col = pos - (source.rfind("\n", 0, pos) + 1) + 1
        raise SpecError.single(
            Span(file, line, col), "the file contains a NUL byte: this is not a spec file", expected="UTF-8 text"
        )
    return source


def parse_lark(source: str, file: str) -> ast.SpecFile:
    """The reference path, for text :func:`checked_text` has read: Lark's parser and
    :class:`~specc.syntax.to_ast.ToAst`; every syntax and literal error is reported here."""
    from lark.exceptions import UnexpectedInput, VisitError

    from specc.syntax.syntax_errors import syntax_diagnostic
    from specc.syntax.to_ast import ToAst, tok_span

    sources = {file: source}
    lark = _lark()  # first: building or loading it must not feed this file's comments
    comments: list[Token] = []
    _comment_sink.items = comments
    try:
        tree = lark.parse(source)
    except UnexpectedInput as e:
        raise SpecError([syntax_diagnostic(file, source, e, lark)], sources) from None
    except _TooDeep as e:
        raise SpecError(
            [Diagnostic(tok_span(file, e.token), e.message)],
            sources,
        ) from None
    finally:
        _comment_sink.items = None
    try:
        definitions = ToAst(file).transform(tree)
    except VisitError as e:  # a literal the transformer could not convert
        orig = e.orig_exc
        if isinstance(orig, SpecError):
            raise SpecError(orig.diagnostics, sources) from None
        if isinstance(orig, RecursionError):
            raise SpecError.single(Span(file, 1, 1), "the spec is nested too deeply") from None
        raise SpecError([Diagnostic(Span(file, 1, 1), f"could not read the spec: {orig}")], sources) from None
    except RecursionError:
        raise SpecError.single(Span(file, 1, 1), "the spec is nested too deeply") from None
    spec = ast.SpecFile(file, definitions)
    attach_comments(spec, [(t.line, str(t)) for t in comments], source)
    return spec
