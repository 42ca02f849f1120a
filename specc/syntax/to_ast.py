"""Lark's parse tree → the surface AST (:mod:`specc.syntax.ast`): one method a grammar rule,
every node located (its :class:`~specc.errors.Span` from the rule's tokens), literals
converted and checked (integers bounded, string escapes read) with located errors."""

from __future__ import annotations

from lark import Token, Transformer, v_args
from lark.exceptions import VisitError

from specc.errors import SpecError, Span
from specc.syntax import ast
from specc.syntax.literals import MAX_INT, int_value, unescape

__all__ = ["ToAst", "unescape", "tok_span", "MAX_INT"]


def tok_span(file: str, tok: Token) -> Span:
    return Span(file, tok.line, tok.column, tok.end_line, tok.end_column)


class ToAst(Transformer):
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
        return tok_span(self.file, tok)

    # ---- expressions
    def _int(self, tok: Token) -> int:
        value = int_value(str(tok))
        if value is None:
            raise SpecError.single(self._ts(tok), "integer too large", expected=f"a magnitude at most {MAX_INT}")
        return value

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
