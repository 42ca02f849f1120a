"""Text → surface AST (:mod:`specc.syntax.ast`), with located syntax errors.

The grammar lives in ``grammar/specc.lark`` (shipped inside the package as
``specc/grammar/specc.lark``).  Parsing is LALR(1), so it is linear in the size of the file.
This module reads the text (size, encoding), lexes it (newlines that end statements, nesting
bounds, comments collected) and drives Lark; the tree becomes the AST in
:mod:`specc.syntax.to_ast`, comments are attached in :mod:`specc.syntax.comments`, syntax
errors are worded in :mod:`specc.syntax.syntax_errors`.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput, VisitError

from specc.errors import Diagnostic, SpecError, Span
from specc.syntax import ast, positions
from specc.syntax.comments import attach_comments
from specc.syntax.syntax_errors import syntax_diagnostic
from specc.syntax.to_ast import MAX_INT, ToAst, tok_span, unescape

__all__ = ["parse", "grammar_path", "unescape", "MAX_NESTING", "MAX_BRACES", "MAX_INT"]

MAX_NESTING = 64  # brackets nested deeper than this are rejected (no recursion blow-ups)
MAX_BRACES = 32  # so are bodies ({ ... }: repeat in repeat in ...)
MAX_SOURCE_BYTES = 16 * 1024 * 1024


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
    from specc.syntax import table_cache

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
    """Parse spec text into its surface AST; raise :class:`SpecError` on a syntax error."""
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
    sources = {file: source}
    lark = _lark()  # first: building or loading it must not feed this file's comments
    comments: list[Token] = []
    _comment_sink.items = comments
    try:
        tree: Tree = lark.parse(source)
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
    attach_comments(spec, comments, source)
    return spec
