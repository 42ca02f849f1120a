"""The surface syntax tree: what the user wrote, with positions and comments.

The parser produces it, the formatter prints it, the elaborator turns it into the IR.
It is deliberately close to the text (no evaluation, no name resolution).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from specc.errors import Span

# --------------------------------------------------------------------------- expressions


@dataclass
class Expr:
    span: Span


@dataclass
class Num(Expr):
    value: int | float
    text: str  # as written, so `fmt` keeps 1e-3 as 1e-3


@dataclass
class Str(Expr):
    value: str


@dataclass
class Bool(Expr):
    value: bool


@dataclass
class Sym(Expr):
    """A bare name in an expression: a parameter, a loop variable, or a symbol (relu, same)."""

    name: str


@dataclass
class Arg:
    span: Span
    name: str | None  # None for positional
    value: Expr


@dataclass
class Call(Expr):
    name: str
    args: list[Arg]
    name_span: Span

    @property
    def positional(self) -> list[Arg]:
        return [a for a in self.args if a.name is None]

    @property
    def keywords(self) -> list[Arg]:
        return [a for a in self.args if a.name is not None]


@dataclass
class ListExpr(Expr):
    items: list[Expr]


@dataclass
class BinOp(Expr):
    op: str  # + - * / // % **
    left: Expr
    right: Expr


@dataclass
class UnaryOp(Expr):
    op: str  # - +
    operand: Expr


# --------------------------------------------------------------------------- statements


@dataclass
class Node:
    span: Span
    comments: list[str | None] = field(default_factory=list, kw_only=True)  # own-line, before (None: blank line)
    trailing: str | None = field(default=None, kw_only=True)  # same line, after
    blank_before: bool = field(default=False, kw_only=True)


@dataclass
class Dim:
    span: Span
    value: int | str | None  # int, a symbolic name, or None for '?'


@dataclass
class TensorTypeAst:
    span: Span
    dtype: str
    dtype_span: Span
    dims: list[Dim]


@dataclass
class InputDecl(Node):
    name: str
    type: TensorTypeAst | None


@dataclass
class OutputDecl(Node):
    names: list[tuple[str, Span]]


@dataclass
class Ref:
    """A tensor named in a chain: `x -> dense(3)`."""

    span: Span
    name: str


@dataclass
class TupleRef:
    """Several tensors fed to one multi-input layer: `(x, h) -> add`."""

    span: Span
    names: list[tuple[str, Span]]


@dataclass
class TensorExpr:
    """Arithmetic on tensors, a link of a chain: ``tok + pos``, ``(x -> dense(8)) * 0.5``,
    ``-x``.  Operands: Ref, Num, Chain (parenthesised), TensorExpr (Call and TupleRef are
    parsed, and refused by the elaborator with advice)."""

    span: Span
    op: str  # + - * / or "neg"
    operands: list


@dataclass
class Chain(Node):
    links: list  # Call | Ref | TupleRef | Repeat | TensorExpr | Chain (parenthesised) | Num


@dataclass
class Assign(Node):
    targets: list[tuple[str, Span]]
    chain: Chain


@dataclass
class Body:
    stmts: list[Node]
    comments: list[str] = field(default_factory=list)  # comments after the last statement


@dataclass
class Repeat(Node):
    """``repeat N [as i] { body }`` — a link of a chain."""

    count: Expr
    var: str | None
    body: Body


@dataclass
class Setting(Node):
    key: str
    key_span: Span
    value: Expr


@dataclass
class Section(Node):
    kind: str  # "train" | "verify"
    settings: list[Setting]
    comments_end: list[str] = field(default_factory=list)


@dataclass
class Param:
    span: Span
    name: str
    default: Expr | None


@dataclass
class ModelDef(Node):
    name: str
    name_span: Span
    body: Body


@dataclass
class BlockDef(Node):
    name: str
    name_span: Span
    params: list[Param]
    body: Body


@dataclass
class SpecFile:
    path: str
    definitions: list[ModelDef | BlockDef]
    comments_end: list[str] = field(default_factory=list)

    @property
    def models(self) -> list[ModelDef]:
        return [d for d in self.definitions if isinstance(d, ModelDef)]

    @property
    def blocks(self) -> list[BlockDef]:
        return [d for d in self.definitions if isinstance(d, BlockDef)]
