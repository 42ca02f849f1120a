"""A fast path for :func:`specc.syntax.parser.parse`: a compiled-regex tokenizer and a
recursive-descent parser for ``grammar/specc.lark`` that build the surface AST directly.

The Lark grammar stays the definition of the language, and Lark the path for everything this
module does not accept.  :func:`parse_fast` returns exactly the :class:`~specc.syntax.ast.SpecFile`
the Lark path would (same nodes, fields, every :class:`~specc.errors.Span`, comments attached
the same way), or None — cheaply, with no partial result — on anything it is not sure of: a
character no terminal matches, any syntax error, an integer too large, a bad string escape,
brackets or bodies nested beyond the post-lexer's bounds, an expression nested deeper than
:data:`MAX_HEIGHT`, ``repeat`` inside parentheses.  The caller then runs Lark, which reports
the located error exactly as before.  ``tests/test_fast_parse.py`` compares the two paths.

How it mirrors Lark:

* **Tokens and newlines**: :mod:`specc.syntax.fast_lex`, as Lark's basic lexer and
  ``parser._PostLex`` make them.
* **Spans** as Lark's ``propagate_positions`` computes them: a rule's span runs from its first
  token or child to its last, punctuation included; ``(expr)`` keeps the inner node's own span
  while its parent sees the parentheses (Lark's "container" positions), so every parse
  function returns ``(node, outer span, height)``.
"""

from __future__ import annotations

from specc.errors import SpecError, Span
from specc.syntax import ast
from specc.syntax.fast_lex import lex
from specc.syntax.literals import int_value, unescape

__all__ = ["parse_fast", "MAX_HEIGHT"]

#: the fast path gives up on an expression or chain whose tree is deeper than this (Lark's
#: tree transformer recurses per level; it decides what happens to such specs)
MAX_HEIGHT = 48

_EXPR_OPS = frozenset(["+", "-", "*", "/", "//", "%", "**"])
_T_OPS = frozenset(["+", "-", "*", "/"])
_SUM_OPS = frozenset(["+", "-"])
_PRODUCT_OPS = frozenset(["*", "/", "//", "%"])
_T_PRODUCT_OPS = frozenset(["*", "/"])
_ATOMS = frozenset(["INT", "FLOAT", "STRING", "NAME", "true", "false"])


def _tensor_expr(span, op, left, right):
    return ast.TensorExpr(span, op, [left, right])


class _GiveUp(Exception):
    """Not this path's to decide: Lark parses (and reports) it."""


class _Parser:
    """Recursive descent over the token lists; every method starts at ``self.i`` and leaves
    it after what it read, or raises :class:`_GiveUp`."""

    def __init__(self, file: str, kinds, vals, lines, cols):
        self.f = file
        self.k = kinds
        self.v = vals
        self.ln = lines
        self.cl = cols
        self.i = 0

    # ---- helpers
    def tspan(self, i: int) -> Span:
        ln = self.ln[i]
        c = self.cl[i]
        return Span(self.f, ln, c, ln, c + len(self.v[i]))

    def upto(self, start: Span, i: int) -> Span:
        """From ``start`` to the end of token ``i``."""
        ln = self.ln[i]
        return Span(self.f, start.line, start.col, ln, self.cl[i] + len(self.v[i]))

    def expect(self, kind: str) -> int:
        i = self.i
        if self.k[i] != kind:
            raise _GiveUp
        self.i = i + 1
        return i

    def seps(self) -> bool:
        k = self.k
        i = j = self.i
        while k[j] == "NL" or k[j] == ";":
            j += 1
        self.i = j
        return j != i

    # ---- definitions
    def spec(self) -> list:
        k = self.k
        defs: list = []
        self.seps()
        while k[self.i] != "EOF":
            t = k[self.i]
            if t == "model":
                defs.append(self.model())
            elif t == "block":
                defs.append(self.block())
            else:
                raise _GiveUp
            if k[self.i] == "EOF":
                break
            if not self.seps():
                raise _GiveUp
        return defs

    def model(self) -> ast.ModelDef:
        i = self.i
        if self.k[i + 1] != "NAME" or self.k[i + 2] != "{":
            raise _GiveUp
        self.i = i + 3
        body = self.body()
        end = self.expect("}")
        return ast.ModelDef(self.upto(self.tspan(i), end), self.v[i + 1], self.tspan(i + 1), body)

    def block(self) -> ast.BlockDef:
        k = self.k
        i = self.i
        if k[i + 1] != "NAME" or k[i + 2] != "(":
            raise _GiveUp
        self.i = i + 3
        params: list[ast.Param] = []
        while k[self.i] != ")":
            j = self.expect("NAME")
            name_span = self.tspan(j)
            default = None
            span = name_span
            if k[self.i] == "=":
                self.i += 1
                default, outer, _ = self.expr()
                span = Span(self.f, name_span.line, name_span.col, outer.end_line, outer.end_col)
            params.append(ast.Param(span, self.v[j], default))
            if k[self.i] == ",":
                self.i += 1
            elif k[self.i] != ")":
                raise _GiveUp
        self.i += 1
        self.expect("{")
        body = self.body()
        end = self.expect("}")
        return ast.BlockDef(self.upto(self.tspan(i), end), self.v[i + 1], self.tspan(i + 1), params, body)

    def body(self) -> ast.Body:
        k = self.k
        stmts: list = []
        self.seps()
        while k[self.i] != "}":
            stmts.append(self.stmt())
            if k[self.i] == "}":
                break
            if not self.seps():
                raise _GiveUp
        return ast.Body(stmts)

    # ---- statements
    def stmt(self):
        k = self.k
        i = self.i
        t = k[i]
        if t == "NAME":
            n = k[i + 1]
            if n == "=" or n == ",":
                return self.assign()
            return self.chain()[0]
        if t == "input":
            return self.input_decl()
        if t == "output":
            return self.output_decl()
        if t == "train" or t == "verify":
            return self.section()
        return self.chain()[0]

    def assign(self) -> ast.Assign:
        k = self.k
        first = self.tspan(self.i)
        targets = [(self.v[self.i], first)]
        self.i += 1
        while k[self.i] == ",":
            j = self.i + 1
            if k[j] != "NAME":
                raise _GiveUp
            targets.append((self.v[j], self.tspan(j)))
            self.i = j + 1
        self.expect("=")
        chain, _ = self.chain()
        s = chain.span
        return ast.Assign(Span(self.f, first.line, first.col, s.end_line, s.end_col), targets, chain)

    def input_decl(self) -> ast.InputDecl:
        i = self.i
        k = self.k
        if k[i + 1] != "NAME":
            raise _GiveUp
        self.i = i + 2
        ttype = None
        end = i + 1
        if k[self.i] == ":":
            self.i += 1
            d = self.expect("NAME")
            self.expect("[")
            dims: list[ast.Dim] = []
            while k[self.i] != "]":
                j = self.i
                t = k[j]
                if t == "INT":
                    value = int_value(self.v[j])
                    if value is None:
                        raise _GiveUp
                    dims.append(ast.Dim(self.tspan(j), value))
                elif t == "?":
                    dims.append(ast.Dim(self.tspan(j), None))
                elif t == "NAME":
                    dims.append(ast.Dim(self.tspan(j), self.v[j]))
                else:
                    raise _GiveUp
                self.i = j + 1
                if k[self.i] == ",":
                    self.i += 1
                elif k[self.i] != "]":
                    raise _GiveUp
            end = self.i
            self.i += 1
            dtype_span = self.tspan(d)
            ttype = ast.TensorTypeAst(self.upto(dtype_span, end), self.v[d], dtype_span, dims)
        return ast.InputDecl(self.upto(self.tspan(i), end), self.v[i + 1], ttype)

    def output_decl(self) -> ast.OutputDecl:
        k = self.k
        i = self.i
        if k[i + 1] != "NAME":
            raise _GiveUp
        names = [(self.v[i + 1], self.tspan(i + 1))]
        j = i + 2
        while k[j] == ",":
            if k[j + 1] != "NAME":
                raise _GiveUp
            names.append((self.v[j + 1], self.tspan(j + 1)))
            j += 2
        self.i = j
        return ast.OutputDecl(self.upto(self.tspan(i), j - 1), names)

    def section(self) -> ast.Section:
        k = self.k
        i = self.i
        if k[i + 1] != "{":
            raise _GiveUp
        self.i = i + 2
        settings: list[ast.Setting] = []
        self.seps()
        while k[self.i] != "}":
            j = self.expect("NAME")
            key_span = self.tspan(j)
            value, outer, _ = self.expr()
            span = Span(self.f, key_span.line, key_span.col, outer.end_line, outer.end_col)
            settings.append(ast.Setting(span, self.v[j], key_span, value))
            if k[self.i] == "}":
                break
            if not self.seps():
                raise _GiveUp
        end = self.i
        self.i += 1
        return ast.Section(self.upto(self.tspan(i), end), self.v[i], settings)

    # ---- chains
    def chain(self):
        """``link (-> link)*``: (Chain, height)."""
        k = self.k
        node, first, h = self.link()
        links = [node]
        last = first
        while k[self.i] == "->":
            self.i += 1
            node, last, h2 = self.link()
            links.append(node)
            if h2 > h:
                h = h2
        span = Span(self.f, first.line, first.col, last.end_line, last.end_col)
        return ast.Chain(span, links), h + 1

    def link(self):
        if self.k[self.i] == "repeat":
            return self.repeat()
        left = self.tunary()
        if self.k[self.i] in _T_OPS:
            return self.tsum(self.tproduct(left))
        return left

    def repeat(self):
        k = self.k
        i = self.i
        self.i = i + 1
        count, _, _ = self.expr()
        var = None
        if k[self.i] == "as":
            j = self.i + 1
            if k[j] != "NAME":
                raise _GiveUp
            var = self.v[j]
            self.i = j + 1
        self.expect("{")
        body = self.body()
        end = self.expect("}")
        span = self.upto(self.tspan(i), end)
        return ast.Repeat(span, count, var, body), span, 2

    def _binary(self, left, ops, operand, make):
        """``left (op operand)+`` for the operators in ``ops``, left-associative: every level
        of arithmetic in parameters (``make`` = BinOp) and between tensors (TensorExpr).  Its
        callers enter it only when an operator follows (the common case, none, costs no call)."""
        k = self.k
        node, lo, h = left
        while k[self.i] in ops:
            op = k[self.i]
            self.i += 1
            right, ro, h2 = operand()
            lo = Span(self.f, lo.line, lo.col, ro.end_line, ro.end_col)
            node = make(lo, op, node, right)
            h = (h if h > h2 else h2) + 1
            if h > MAX_HEIGHT:
                raise _GiveUp
        return node, lo, h

    def tsum(self, left):
        return self._binary(left, _SUM_OPS, self._tterm, _tensor_expr) if self.k[self.i] in _SUM_OPS else left

    def _tterm(self):
        return self.tproduct(self.tunary())

    def tproduct(self, left):
        return self._binary(left, _T_PRODUCT_OPS, self.tunary, _tensor_expr) if self.k[self.i] in _T_PRODUCT_OPS else left

    def tunary(self):
        k = self.k
        i = self.i
        t = k[i]
        if t == "NAME":
            if k[i + 1] == "(":
                return self.call()
            s = self.tspan(i)
            self.i = i + 1
            return ast.Ref(s, self.v[i]), s, 1
        if t == "(":
            return self.group()
        if t == "INT" or t == "FLOAT":
            return self.number()
        if t == "-":
            self.i = i + 1
            operand, oo, h = self.tunary()
            if h >= MAX_HEIGHT:
                raise _GiveUp
            span = Span(self.f, self.ln[i], self.cl[i], oo.end_line, oo.end_col)
            return ast.TensorExpr(span, "neg", [operand]), span, h + 1
        raise _GiveUp

    def group(self):
        """``( NAME, NAME, ... )`` (a tuple) or ``( chain )``."""
        k = self.k
        i = self.i
        if k[i + 1] == "NAME" and k[i + 2] == ",":
            names = [(self.v[i + 1], self.tspan(i + 1))]
            j = i + 2
            while k[j] == ",":
                if k[j + 1] != "NAME":
                    raise _GiveUp
                names.append((self.v[j + 1], self.tspan(j + 1)))
                j += 2
            if k[j] != ")":
                raise _GiveUp
            self.i = j + 1
            span = self.upto(self.tspan(i), j)
            return ast.TupleRef(span, names), span, 1
        self.i = i + 1
        chain, h = self.chain()
        end = self.expect(")")
        if h >= MAX_HEIGHT:
            raise _GiveUp
        links = chain.links
        for link in links:
            if isinstance(link, ast.Repeat):
                raise _GiveUp  # an error (repeat inside parentheses): Lark's path words it
        span = self.upto(self.tspan(i), end)
        if len(links) == 1:
            return links[0], span, h + 1
        chain.span = span
        return chain, span, h + 1

    # ---- expressions
    def number(self):
        i = self.i
        text = self.v[i]
        self.i = i + 1
        s = self.tspan(i)
        if self.k[i] == "INT":
            value = int_value(text)
            if value is None:
                raise _GiveUp
            return ast.Num(s, value, text), s, 1
        return ast.Num(s, float(text.replace("_", "")), text), s, 1

    def expr(self):
        k = self.k
        i = self.i
        t = k[i]
        if t in _ATOMS and k[i + 1] not in _EXPR_OPS and (t != "NAME" or k[i + 1] != "("):
            return self.atom()  # a lone literal or name: most arguments
        return self.sum()

    def sum(self):
        left = self.product()
        return self._binary(left, _SUM_OPS, self.product, ast.BinOp) if self.k[self.i] in _SUM_OPS else left

    def product(self):
        left = self.unary()
        return self._binary(left, _PRODUCT_OPS, self.unary, ast.BinOp) if self.k[self.i] in _PRODUCT_OPS else left

    def unary(self):
        i = self.i
        t = self.k[i]
        if t == "-" or t == "+":
            self.i = i + 1
            operand, oo, h = self.unary()
            if h >= MAX_HEIGHT:
                raise _GiveUp
            span = Span(self.f, self.ln[i], self.cl[i], oo.end_line, oo.end_col)
            return ast.UnaryOp(span, t, operand), span, h + 1
        node, lo, h = self.atom()
        if self.k[self.i] == "**":
            self.i += 1
            right, ro, h2 = self.unary()
            if h2 >= MAX_HEIGHT:
                raise _GiveUp
            span = Span(self.f, lo.line, lo.col, ro.end_line, ro.end_col)
            return ast.BinOp(span, "**", node, right), span, (h if h > h2 else h2) + 1
        return node, lo, h

    def atom(self):
        k = self.k
        i = self.i
        t = k[i]
        if t == "NAME":
            if k[i + 1] == "(":
                return self.call()
            s = self.tspan(i)
            self.i = i + 1
            return ast.Sym(s, self.v[i]), s, 1
        if t == "INT" or t == "FLOAT":
            return self.number()
        if t == "STRING":
            s = self.tspan(i)
            self.i = i + 1
            try:
                value = unescape(self.v[i][1:-1], s)
            except SpecError:
                raise _GiveUp from None
            return ast.Str(s, value), s, 1
        if t == "true" or t == "false":
            s = self.tspan(i)
            self.i = i + 1
            return ast.Bool(s, t == "true"), s, 1
        if t == "[":
            self.i = i + 1
            items: list = []
            h = 1
            while k[self.i] != "]":
                item, _, h2 = self.expr()
                items.append(item)
                if h2 >= h:
                    h = h2 + 1
                if k[self.i] == ",":
                    self.i += 1
                elif k[self.i] != "]":
                    raise _GiveUp
            end = self.i
            self.i = end + 1
            if h > MAX_HEIGHT:
                raise _GiveUp
            span = self.upto(self.tspan(i), end)
            return ast.ListExpr(span, items), span, h
        if t == "(":
            self.i = i + 1
            node, _, h = self.expr()
            end = self.expect(")")
            return node, self.upto(self.tspan(i), end), h
        raise _GiveUp

    def call(self):
        """``NAME ( [arg (, arg)* ,?] )`` — in a chain or an expression."""
        k = self.k
        i = self.i
        ns = self.tspan(i)
        self.i = i + 2
        args: list[ast.Arg] = []
        h = 1
        while k[self.i] != ")":
            j = self.i
            if k[j] == "NAME" and k[j + 1] == "=":
                self.i = j + 2
                value, vo, h2 = self.expr()
                span = Span(self.f, self.ln[j], self.cl[j], vo.end_line, vo.end_col)
                args.append(ast.Arg(span, self.v[j], value))
            else:
                value, vo, h2 = self.expr()
                args.append(ast.Arg(vo, None, value))
            if h2 >= h:
                h = h2 + 1
            if k[self.i] == ",":
                self.i += 1
            elif k[self.i] != ")":
                raise _GiveUp
        end = self.i
        self.i = end + 1
        if h > MAX_HEIGHT:
            raise _GiveUp
        span = self.upto(ns, end)
        return ast.Call(span, self.v[i], args, ns), span, h + 1


def parse_fast(source: str, file: str, max_nesting: int, max_braces: int):
    """The spec's AST and its comments ``(line, text)``, or None when Lark must decide.

    ``source`` is text as :func:`specc.syntax.parser.parse` has checked it (decoded, no
    byte-order mark, no NUL, within the size bound)."""
    lexed = lex(source, max_nesting, max_braces)
    if lexed is None:
        return None
    kinds, vals, lines, cols, comments = lexed
    try:
        definitions = _Parser(file, kinds, vals, lines, cols).spec()
    except (_GiveUp, RecursionError):
        return None
    return ast.SpecFile(file, definitions), comments
