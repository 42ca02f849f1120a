"""The canonical text of a spec (``specc fmt``).

Two-space indentation, one statement per line, one blank line kept where the author left
one or more, comments kept where they were (own-line comments above their statement,
end-of-line comments after it), numbers as written, minimal parentheses.  Chains longer
than :data:`WIDTH` columns are split before each ``->``.  ``fmt`` is idempotent and keeps
the meaning: ``loads(fmt(x)) == loads(x)``.
"""

from __future__ import annotations

from specc._nogc import paused_gc
from specc.errors import SpecError, Span
from specc.syntax import ast
from specc.syntax.parser import parse

__all__ = ["format_spec", "format_source", "WIDTH"]

WIDTH = 100
INDENT = "  "

_PREC = {"+": 1, "-": 1, "*": 2, "/": 2, "//": 2, "%": 2, "**": 4}


def _prec(e: ast.Expr) -> int:
    if isinstance(e, ast.BinOp):
        return _PREC[e.op]
    if isinstance(e, ast.UnaryOp):
        return 3
    return 5


_ESCAPE = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}


def string(value: str) -> str:
    """A string literal for ``value`` (the parser's ``unescape`` inverted): printable text
    as it is, quotes and backslashes escaped, other characters as \\uXXXX / \\UXXXXXXXX."""
    out = []
    for c in value:
        if c in _ESCAPE:
            out.append(_ESCAPE[c])
        elif c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF:
            out.append(c)
        else:
            out.append(f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}")
    return '"' + "".join(out) + '"'


def expr(e: ast.Expr) -> str:
    if isinstance(e, ast.Num):
        return e.text
    if isinstance(e, ast.Str):
        return string(e.value)
    if isinstance(e, ast.Bool):
        return "true" if e.value else "false"
    if isinstance(e, ast.Sym):
        return e.name
    if isinstance(e, ast.ListExpr):
        return "[" + ", ".join(expr(i) for i in e.items) + "]"
    if isinstance(e, ast.Call):
        return call(e)
    if isinstance(e, ast.UnaryOp):
        inner = expr(e.operand)
        if _prec(e.operand) <= 3:  # -(-8), not --8
            inner = f"({inner})"
        return f"{e.op}{inner}"
    if isinstance(e, ast.BinOp):
        p = _PREC[e.op]
        left, right = expr(e.left), expr(e.right)
        if e.op == "**":  # atom ** unary (right-associative)
            if _prec(e.left) < 5:
                left = f"({left})"
            if _prec(e.right) < 3:
                right = f"({right})"
        else:
            if _prec(e.left) < p:
                left = f"({left})"
            if _prec(e.right) <= p:
                right = f"({right})"
        return f"{left} {e.op} {right}"
    raise TypeError(f"unknown expression {e!r}")  # pragma: no cover


def call(c: ast.Call) -> str:
    if not c.args:
        return f"{c.name}()"
    parts = [expr(a.value) if a.name is None else f"{a.name}={expr(a.value)}" for a in c.args]
    return f"{c.name}({', '.join(parts)})"


_TPREC = {"+": 1, "-": 1, "*": 2, "/": 2, "neg": 3}


def _tprec(link) -> int:
    return _TPREC[link.op] if isinstance(link, ast.TensorExpr) else 5


def _texpr(e: ast.TensorExpr) -> str:
    if e.op == "neg":
        (x,) = e.operands
        inner = _link(x)
        return f"-({inner})" if _tprec(x) <= 3 else f"-{inner}"
    p = _TPREC[e.op]
    a, b = e.operands
    left, right = _link(a), _link(b)
    if _tprec(a) < p:
        left = f"({left})"
    if _tprec(b) <= p:
        right = f"({right})"
    return f"{left} {e.op} {right}"


def _link(link) -> str:
    if isinstance(link, ast.TensorExpr):
        return _texpr(link)
    if isinstance(link, ast.Chain):
        return "(" + " -> ".join(_link(li) for li in link.links) + ")"
    if isinstance(link, ast.Num):
        return link.text
    if isinstance(link, ast.Ref):
        return link.name
    if isinstance(link, ast.TupleRef):
        return "(" + ", ".join(n for n, _ in link.names) + ")"
    return call(link)


def _chain(c: ast.Chain, prefix: str, indent: str) -> list[str]:
    if any(isinstance(li, ast.Repeat) for li in c.links):
        return _chain_with_repeat(c, prefix, indent)
    parts = [_link(li) for li in c.links]
    one = indent + prefix + " -> ".join(parts)
    if len(one) <= WIDTH or len(parts) == 1:
        return [one]
    lines = [indent + prefix + parts[0]]
    lines.extend(f"{indent}    -> {p}" for p in parts[1:])
    return lines


def _chain_with_repeat(c: ast.Chain, prefix: str, indent: str) -> list[str]:
    """A chain holding ``repeat N { ... }`` links: each repeat body on its own lines."""
    lines = [indent + prefix]
    for i, link in enumerate(c.links):
        sep = "" if i == 0 else " -> "
        if isinstance(link, ast.Repeat):
            head = f"repeat {expr(link.count)}" + (f" as {link.var}" if link.var else "")
            lines[-1] += f"{sep}{head} {{" + (f"  # {link.trailing}".rstrip() if link.trailing is not None else "")
            inner = _Printer()
            inner.body(link.body.stmts, link.body.comments, indent + INDENT)
            lines.extend(inner.lines)
            lines.append(indent + "}")
        else:
            lines[-1] += sep + _link(link)
    return lines


def _dims(t: ast.TensorTypeAst) -> str:
    return ", ".join("?" if d.value is None else str(d.value) for d in t.dims)


class _Printer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def comments(self, node: ast.Node | None, comments: list[str], indent: str) -> None:
        for c in comments:
            if c is None:  # a blank line the author left between comments and code
                self.lines.append("")
            else:
                self.lines.append(f"{indent}# {c}".rstrip() if c else f"{indent}#")

    def emit(self, text_lines: list[str], node: ast.Node) -> None:
        if node.trailing is not None:
            text_lines[-1] += f"  # {node.trailing}".rstrip()
        self.lines.extend(text_lines)

    def body(self, stmts: list[ast.Node], end_comments: list[str], indent: str) -> None:
        for i, s in enumerate(stmts):
            if i > 0 and s.blank_before:
                self.lines.append("")
            self.comments(s, s.comments, indent)
            self.stmt(s, indent)
        self.comments(None, end_comments, indent)

    def block_open(self, head: str, node: ast.Node, indent: str) -> None:
        line = f"{indent}{head} {{"
        if node.trailing is not None:
            line += f"  # {node.trailing}".rstrip()
        self.lines.append(line)

    def stmt(self, s: ast.Node, indent: str) -> None:
        if isinstance(s, ast.InputDecl):
            text = f"input {s.name}" + (f": {s.type.dtype}[{_dims(s.type)}]" if s.type else "")
            self.emit([indent + text], s)
        elif isinstance(s, ast.OutputDecl):
            self.emit([indent + "output " + ", ".join(n for n, _ in s.names)], s)
        elif isinstance(s, ast.Assign):
            prefix = ", ".join(n for n, _ in s.targets) + " = "
            self.emit(_chain(s.chain, prefix, indent), s)
        elif isinstance(s, ast.Chain):
            self.emit(_chain(s, "", indent), s)
        elif isinstance(s, ast.Section):
            self.block_open(s.kind, s, indent)
            self.body(s.settings, s.comments_end, indent + INDENT)
            self.lines.append(indent + "}")
        elif isinstance(s, ast.Setting):
            self.emit([f"{indent}{s.key} {expr(s.value)}"], s)
        elif isinstance(s, ast.ModelDef):
            self.block_open(f"model {s.name}", s, indent)
            self.body(s.body.stmts, s.body.comments, indent + INDENT)
            self.lines.append(indent + "}")
        elif isinstance(s, ast.BlockDef):
            params = ", ".join(p.name if p.default is None else f"{p.name}={expr(p.default)}" for p in s.params)
            self.block_open(f"block {s.name}({params})", s, indent)
            self.body(s.body.stmts, s.body.comments, indent + INDENT)
            self.lines.append(indent + "}")
        else:  # pragma: no cover
            raise TypeError(f"unknown statement {s!r}")


def format_spec(tree: ast.SpecFile) -> str:
    p = _Printer()
    for i, d in enumerate(tree.definitions):
        if i > 0:
            p.lines.append("")
        p.comments(d, d.comments, "")
        p.stmt(d, "")
    if tree.comments_end:
        if tree.definitions:
            p.lines.append("")
        p.comments(None, tree.comments_end, "")
    return "\n".join(p.lines) + "\n"


def format_source(text: str | bytes, path: str = "<string>") -> str:
    """Canonical text of spec source (raises SpecError on a syntax error)."""
    with paused_gc():
        tree = parse(text, path)
        try:
            return format_spec(tree)
        except RecursionError:  # parse() bounds nesting; this is the last line of defence
            raise SpecError.single(Span(path, 1, 1), "the spec is nested too deeply") from None
