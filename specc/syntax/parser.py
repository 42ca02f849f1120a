"""Text → surface AST (:mod:`specc.syntax.ast`), with located syntax errors.

The grammar lives in ``grammar/specc.lark`` (shipped inside the package as
``specc/grammar/specc.lark``).  Parsing is LALR(1), so it is linear in the size of the file.
"""

from __future__ import annotations

import bisect
import re
import threading
from functools import lru_cache
from pathlib import Path

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)

from specc.errors import Diagnostic, SpecError, Span, source_lines, suggest
from specc.syntax import ast
from specc.syntax import hints as _hints
from specc.syntax import positions

__all__ = ["parse", "grammar_path", "MAX_NESTING", "MAX_BRACES"]

MAX_NESTING = 64  # brackets nested deeper than this are rejected (no recursion blow-ups)
MAX_BRACES = 32  # so are bodies ({ ... }: repeat in repeat in ...)
MAX_SOURCE_BYTES = 16 * 1024 * 1024
MAX_INT = 2**63 - 1  # the largest integer a spec may write (as the evaluator's bound)


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


# --------------------------------------------------------------------------- tree → AST

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



def _tok_span(file: str, tok: Token) -> Span:
    return Span(file, tok.line, tok.column, tok.end_line, tok.end_column)


class _ToAst(Transformer):
    def __init__(self, file: str):
        super().__init__(visit_tokens=False)
        self.file = file
        self._funcs: dict[str, tuple] = {}

    def _call_userfunc(self, tree, new_children=None):
        # Lark's version looks the method up per tree node, and a v_args method is re-wrapped
        # (functools.update_wrapper) on every lookup: a third of the transform's time
        children = new_children if new_children is not None else tree.children
        entry = self._funcs.get(tree.data)
        if entry is None:
            f = getattr(self, tree.data, None)
            entry = self._funcs[tree.data] = (f, getattr(f, "visit_wrapper", None))
        f, wrapper = entry
        if f is None:
            return self.__default__(tree.data, children, tree.meta)
        try:
            return wrapper(f, tree.data, children, tree.meta) if wrapper is not None else f(children)
        except Exception as e:  # as Lark does: the caller unwraps it
            raise VisitError(tree.data, tree, e) from e

    def _span(self, meta) -> Span:
        return Span(self.file, meta.line, meta.column, meta.end_line, meta.end_column)

    def _ts(self, tok: Token) -> Span:
        return _tok_span(self.file, tok)

    # ---- expressions
    def _int(self, tok: Token) -> int:
        digits = str(tok).replace("_", "").lstrip("0") or "0"
        if len(digits) > len(str(MAX_INT)):  # also spares int() its 4300-digit limit
            raise SpecError.single(self._ts(tok), "integer too large", expected=f"a magnitude at most {MAX_INT}")
        return int(digits)

    @v_args(meta=True)
    def int_lit(self, meta, items):
        (tok,) = items
        return ast.Num(self._ts(tok), self._int(tok), str(tok))

    @v_args(meta=True)
    def float_lit(self, meta, items):
        (tok,) = items
        text = str(tok)
        return ast.Num(self._ts(tok), float(text.replace("_", "")), text)

    @v_args(meta=True)
    def str_lit(self, meta, items):
        (tok,) = items
        return ast.Str(self._ts(tok), unescape(str(tok)[1:-1], self._ts(tok)))

    @v_args(meta=True)
    def true_lit(self, meta, items):
        return ast.Bool(self._span(meta), True)

    @v_args(meta=True)
    def false_lit(self, meta, items):
        return ast.Bool(self._span(meta), False)

    @v_args(meta=True)
    def sym(self, meta, items):
        (tok,) = items
        return ast.Sym(self._ts(tok), str(tok))

    @v_args(meta=True)
    def list_lit(self, meta, items):
        return ast.ListExpr(self._span(meta), [i for i in items if i is not None])

    def _bin(op):  # noqa: N805 - factory
        @v_args(meta=True)
        def f(self, meta, items):
            left, right = items
            return ast.BinOp(self._span(meta), op, left, right)

        return f

    add = _bin("+")
    sub = _bin("-")
    mul = _bin("*")
    div = _bin("/")
    floordiv = _bin("//")
    mod = _bin("%")
    pow = _bin("**")

    @v_args(meta=True)
    def neg(self, meta, items):
        return ast.UnaryOp(self._span(meta), "-", items[0])

    @v_args(meta=True)
    def pos(self, meta, items):
        return ast.UnaryOp(self._span(meta), "+", items[0])

    @v_args(meta=True)
    def pos_arg(self, meta, items):
        return ast.Arg(self._span(meta), None, items[0])

    @v_args(meta=True)
    def kw_arg(self, meta, items):
        name, value = items
        return ast.Arg(self._span(meta), str(name), value)

    @v_args(meta=True)
    def call(self, meta, items):
        name, *args = items
        return ast.Call(self._span(meta), str(name), [a for a in args if a is not None], self._ts(name))

    # ---- tensor expressions
    def _tbin(op):  # noqa: N805 - factory
        @v_args(meta=True)
        def f(self, meta, items):
            return ast.TensorExpr(self._span(meta), op, list(items))

        return f

    t_add = _tbin("+")
    t_sub = _tbin("-")
    t_mul = _tbin("*")
    t_div = _tbin("/")

    @v_args(meta=True)
    def t_neg(self, meta, items):
        return ast.TensorExpr(self._span(meta), "neg", list(items))

    @v_args(meta=True)
    def t_group(self, meta, items):
        (chain,) = items
        for link in chain.links:
            if isinstance(link, ast.Repeat):
                raise SpecError.single(link.span, "repeat cannot stand inside parentheses", hint="name its result first: h = x -> repeat 2 { ... }")
        if len(chain.links) == 1:  # (a + b), (x): only grouping
            return chain.links[0]
        chain.span = self._span(meta)
        return chain

    # ---- chains
    @v_args(meta=True)
    def ref(self, meta, items):
        (tok,) = items
        return ast.Ref(self._ts(tok), str(tok))

    @v_args(meta=True)
    def tuple_ref(self, meta, items):
        return ast.TupleRef(self._span(meta), [(str(t), self._ts(t)) for t in items])

    @v_args(meta=True)
    def chain(self, meta, items):
        return ast.Chain(self._span(meta), list(items))

    @v_args(meta=True)
    def assign(self, meta, items):
        *names, chain = items
        return ast.Assign(self._span(meta), [(str(t), self._ts(t)) for t in names], chain)

    # ---- declarations
    @v_args(meta=True)
    def dim_int(self, meta, items):
        (tok,) = items
        return ast.Dim(self._ts(tok), self._int(tok))

    @v_args(meta=True)
    def dim_any(self, meta, items):
        return ast.Dim(self._span(meta), None)

    @v_args(meta=True)
    def dim_name(self, meta, items):
        (tok,) = items
        return ast.Dim(self._ts(tok), str(tok))

    @v_args(meta=True)
    def tensor_type(self, meta, items):
        dtype, *dims = items
        return ast.TensorTypeAst(self._span(meta), str(dtype), self._ts(dtype), [d for d in dims if d is not None])

    @v_args(meta=True)
    def input_decl(self, meta, items):
        name = items[0]
        ttype = items[1] if len(items) > 1 else None
        return ast.InputDecl(self._span(meta), str(name), ttype)

    @v_args(meta=True)
    def output_decl(self, meta, items):
        return ast.OutputDecl(self._span(meta), [(str(t), self._ts(t)) for t in items])

    @v_args(meta=True)
    def body(self, meta, items):
        return ast.Body([i for i in items if i is not None])

    @v_args(meta=True)
    def repeat(self, meta, items):
        count = items[0]
        var = str(items[1]) if len(items) == 3 else None
        return ast.Repeat(self._span(meta), count, var, items[-1])

    @v_args(meta=True)
    def setting(self, meta, items):
        key, value = items
        return ast.Setting(self._span(meta), str(key), self._ts(key), value)

    def section_name(self, items):
        return items[0]

    @v_args(meta=True)
    def section(self, meta, items):
        kind, *settings = items
        return ast.Section(self._span(meta), str(kind), [s for s in settings if s is not None])

    @v_args(meta=True)
    def param(self, meta, items):
        name = items[0]
        default = items[1] if len(items) > 1 else None
        return ast.Param(self._span(meta), str(name), default)

    @v_args(meta=True)
    def model(self, meta, items):
        name, body = items
        return ast.ModelDef(self._span(meta), str(name), self._ts(name), body)

    @v_args(meta=True)
    def block(self, meta, items):
        name, *rest = items
        body = rest[-1]
        params = [p for p in rest[:-1] if p is not None]
        return ast.BlockDef(self._span(meta), str(name), self._ts(name), params, body)

    def start(self, items):
        return [i for i in items if i is not None]


# --------------------------------------------------------------------------- comments


def _attach_comments(tree: ast.SpecFile, comments: list[Token], source: str) -> None:
    """Give each comment to the statement it belongs to, so `fmt` keeps it in place.

    Linear in the size of the file: statements and bodies are indexed by line first."""
    lines = source_lines(source)

    def is_blank(n: int) -> bool:  # 1-based line number
        return 1 <= n <= len(lines) and not lines[n - 1].strip()

    # a body: (start_line, end_line, statements, sink for comments after them, its owner)
    Body = tuple[int, int, list[ast.Node], list[str], "ast.Node | None"]
    root: Body = (0, 10**12, tree.definitions, tree.comments_end, None)
    body_at: dict[int, Body] = {}  # line → innermost body
    leaf_at: dict[int, ast.Node] = {}  # line → last simple statement on it

    def visit_body(body: Body) -> None:
        start, end, nodes, _, _ = body
        if body is not root:
            for line in range(start, end + 1):  # deeper bodies are visited later: they win
                body_at[line] = body
        prev_end = start
        for n in nodes:
            first = n.span.line
            # `a; b` on one line: no blank line before b, whatever precedes a
            n.blank_before = prev_end != start and first > prev_end and is_blank(first - 1)
            prev_end = n.span.end_line or n.span.line
            if isinstance(n, (ast.ModelDef, ast.BlockDef)):
                visit_body((n.span.line, n.span.end_line, n.body.stmts, n.body.comments, n))
            elif isinstance(n, ast.Section):
                visit_body((n.span.line, n.span.end_line, n.settings, n.comments_end, n))
            else:
                for line in range(n.span.line, (n.span.end_line or n.span.line) + 1):
                    leaf_at[line] = n
                # a chain's `repeat N { ... }` links are bodies of their own: the lines
                # strictly inside them belong to their statements, not to the chain
                chain = n.chain if isinstance(n, ast.Assign) else n
                for link in getattr(chain, "links", ()):
                    if isinstance(link, ast.Repeat):
                        for line in range(link.span.line + 1, link.span.end_line):
                            leaf_at.pop(line, None)
                        visit_body((link.span.line, link.span.end_line, link.body.stmts, link.body.comments, link))

    visit_body(root)
    leading: dict[int, tuple[ast.Node, list[tuple[int, str]]]] = {}
    starts: dict[int, list[int]] = {}  # id(statements) → their first lines (sorted: source order)

    for tok in comments:
        line, text = tok.line, str(tok)[1:].rstrip()
        text = text[1:] if text.startswith(" ") else text
        # the last statement on that line: `a; b  # c` comments b
        leaf = leaf_at.get(line)
        body = body_at.get(line, root)
        opener = body[4] if body[0] == line else None
        if leaf is not None and opener is not None and (opener.span.line, opener.span.col) >= (leaf.span.line, leaf.span.col):
            leaf = None  # `a; repeat 2 {  # c`: the comment follows the repeat's opening brace
        if leaf is not None:
            # a statement written over several lines, with several comments: it is printed
            # on one line, so the earlier comments go above it and the last one stays after it
            if leaf.trailing is not None:
                leaf.comments.append(leaf.trailing)
            leaf.trailing = text
            continue
        start, end, nodes, sink, owner = body
        firsts = starts.get(id(nodes))
        if firsts is None:
            firsts = starts[id(nodes)] = [n.span.line for n in nodes]
        i = bisect.bisect_left(firsts, line)
        on_line = nodes[i] if i < len(nodes) and firsts[i] == line else None
        if on_line is not None or (line == start and owner is not None):
            # comment on the opening line of a definition/section: `model x {  # ...`
            target = on_line or owner
            target.trailing = text if target.trailing is None else f"{target.trailing} {text}"
            continue
        j = bisect.bisect_right(firsts, line)
        if j < len(nodes):
            nxt = nodes[j]
            leading.setdefault(id(nxt), (nxt, []))[1].append((line, text))
        else:
            sink.append(text)

    # own-line comments before a statement: keep blank lines between them and around them
    for node, items in leading.values():
        items.sort()
        out: list[str | None] = []
        for i, (line, text) in enumerate(items):
            if i > 0 and any(is_blank(n) for n in range(items[i - 1][0] + 1, line)):
                out.append(None)
            out.append(text)
        if any(is_blank(n) for n in range(items[-1][0] + 1, node.span.line)):
            out.append(None)
        first = items[0][0]
        # the blank line (if any) goes above the comments, not between them and the statement
        node.blank_before = first > 1 and is_blank(first - 1)
        node.comments = out + node.comments


# --------------------------------------------------------------------------- errors

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


def _friendly(term: str) -> str:
    if term in _FRIENDLY:
        return _FRIENDLY[term]
    try:
        pattern = _lark().get_terminal(term).pattern
        if pattern.type == "str":
            return f"'{pattern.value}'"
    except Exception:  # noqa: BLE001 - unknown terminal: show its name
        pass
    return term.lower()


def _expected_list(terms) -> str:
    # words ("a name", "end of line") first, then punctuation and keywords
    words = {_friendly(t) for t in terms}
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


def _syntax_diagnostic(file: str, source: str, err: UnexpectedInput) -> Diagnostic:
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
        elif tok.type == "NAME" and _keyword_suggestion(str(tok.value), expected):
            hint = _keyword_suggestion(str(tok.value), expected)
        elif _misspelt_keyword_before(source, line, col):
            hint = _misspelt_keyword_before(source, line, col)
        elif tok.type == "NAME" and "_NL" in expected and _after_code(source, line, col):
            hint = "put one statement per line, or separate statements with ';'"
        return Diagnostic(span, f"unexpected {_token_desc(tok)}", expected=_expected_list(expected), hint=hint)
    if isinstance(err, UnexpectedEOF):
        line, col = _end_position(source)
        return Diagnostic(Span(file, line, col), "unexpected end of file", expected=_expected_list(err.expected))
    return Diagnostic(Span(file, line, col), "syntax error")


def _keyword_suggestion(word: str, expected) -> str | None:
    """'did you mean 'model'?' for a misspelt keyword where a keyword may stand."""
    keywords = []
    for term in expected:
        try:
            pattern = _lark().get_terminal(term).pattern
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
        raise SpecError([_syntax_diagnostic(file, source, e)], sources) from None
    except _TooDeep as e:
        raise SpecError(
            [Diagnostic(_tok_span(file, e.token), e.message)],
            sources,
        ) from None
    finally:
        _comment_sink.items = None
    try:
        definitions = _ToAst(file).transform(tree)
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
    _attach_comments(spec, comments, source)
    return spec
