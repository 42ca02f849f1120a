"""Shared layers: one layer, one set of weights, applied to several tensors.

A layer or block instance given a name (``ea = a -> encoder(32, name=enc)``) can be
applied again by writing that name as a link (``eb = b -> enc``), as a Keras user calls
one layer object twice.  A later use is a node of its own (``enc_1``; inside a shared
block ``enc_1.dense``) whose ``shares`` names the first use's node: it has no weights of
its own, so canonical weights are stored once and both backends apply one module / layer
object.  A mixin of the elaborator: it uses its scopes, block expansion and node creation.

Rules (each broken one is a located error that says why):

* a later use receives inputs of the types of the first use (one set of weights, made for
  one shape; unknown dimensions are compatible with any size);
* it takes no arguments: its parameters and options are the first use's;
* it is applied in the body where it is named (the model, or the same block instance),
  after the statement that names it;
* a name may also name a tensor (``bn2 = batch_norm(name=bn2)``, as ``specc import``
  writes): at the start of a chain it is the tensor, after ``->`` the layer.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from specc.errors import Span
from specc.ir.graph import Node
from specc.ir.types import TensorType, dims_equal, fmt_shape
from specc.syntax import ast

__all__ = ["SharedLayersMixin", "Shareable"]


@dataclass
class Shareable:
    """A named layer or block instance that may be applied again."""

    name: str  # full node name / instance path
    span: Span
    in_types: list[TensorType]
    node: Node | None = None  # a layer
    block: Any = None  # a block instance: its definition (ast.BlockDef) …
    values: dict = field(default_factory=dict)  # … and its parameters
    trainable: bool = True


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _shapes(types: list[TensorType]) -> str:
    return ", ".join(f"{t.dtype}{fmt_shape(t.shape, batch=True)}" for t in types)


#: per AST class: the fields _named walks (those that may hold calls); () for leaves
_WALKED: dict[type, tuple[str, ...]] = {}


def _walked(cls: type) -> tuple[str, ...]:
    names = _WALKED.get(cls)
    if names is None:
        names = () if not dataclasses.is_dataclass(cls) or issubclass(cls, Span) else tuple(f.name for f in dataclasses.fields(cls))
        _WALKED[cls] = names
    return names


def _named(tree: Any, out: dict[str, list[Span]]) -> None:
    """Every ``name=`` a call of ``tree`` gives: name → where (in the order written).
    Depth first, a call's own ``name=`` before those of the calls inside it."""
    if isinstance(tree, list):
        for item in tree:
            _named(item, out)
        return
    names = _walked(type(tree))
    if not names:
        return
    if isinstance(tree, ast.Call):
        for a in tree.args:
            if a.name == "name" and isinstance(a.value, (ast.Sym, ast.Str)):
                out.setdefault(str(getattr(a.value, "name", None) or getattr(a.value, "value", "")), []).append(a.value.span)
    for fname in names:
        v = getattr(tree, fname)
        if isinstance(v, list) or _walked(type(v)):
            _named(v, out)


def _before(a: Span, b: Span) -> bool:
    return (a.line, a.col) < (b.line, b.col)


def _masked(op) -> bool:
    """Whether a recurrence reads a padding mask (under bidirectional: its layer)."""
    return bool(getattr(op.layer if op.kind == "bidirectional" else op, "masked", False))


def _fits(made: list[TensorType], given: list[TensorType]) -> bool:
    return len(made) == len(given) and all(
        a.dtype == b.dtype and len(a.shape) == len(b.shape) and all(dims_equal(x, y) is not False for x, y in zip(a.shape, b.shape, strict=True))
        for a, b in zip(made, given, strict=True)
    )


class SharedLayersMixin:
    def init_shared(self) -> None:
        self.shareable: dict[str, Shareable] = {}  # full name → what it names
        self.shared_locals: dict[str, list[str]] = {}  # local name → full names (for errors)
        self.node_index: dict[str, Node] = {}
        self.sharing: list[tuple[str, str]] = []  # (path of the instance being made again, path of the first)
        self._name_index: dict[str, list[Span]] | None = None  # see named

    @property
    def named(self) -> dict[str, list[Span]]:
        """Every ``name=`` written in the file, where: a walk of the whole file, made when
        first asked (a call of an unknown name; a valid spec never asks)."""
        if self._name_index is None:
            self._name_index = {}
            _named(self.spec, self._name_index)  # type: ignore[attr-defined]
        return self._name_index

    # ---- registration (first uses)
    def register_shareable(self, sh: Shareable) -> None:
        self.shareable.setdefault(sh.name, sh)
        self.shared_locals.setdefault(sh.name.rsplit(".", 1)[-1], []).append(sh.name)

    def is_shared_name(self, name: str) -> bool:
        return name in self.shared_locals

    def shared_target(self, name: str, scope) -> Shareable | None:
        return self.shareable.get(_join(scope.path, name))

    def shared_names(self) -> list[str]:
        """The local names of shared layers (candidates for a did-you-mean)."""
        return list(self.shared_locals)

    def tensor_link_hint(self, name: str, tid: str) -> str:
        """The hint for a tensor written as a link: the named layer that made it, if one did."""
        for n in reversed(self.nodes):  # type: ignore[attr-defined]
            if tid in n.outputs:
                local = (n.shares or n.name).rsplit(".", 1)[-1]
                if (n.shares or n.name) in self.shareable:
                    return f"'{name}' is the output of the layer named '{local}'; to apply that layer again write its name: -> {local}"
                break
        return f"start a new statement: {name} -> ..."

    def shared_elsewhere(self, call: ast.Call, scope) -> bool:
        """Report a shared layer named in another body, or applied before the statement
        naming it; True if ``call`` names one."""
        where = self.shared_locals.get(call.name)
        if not where:
            spans = self.named.get(call.name, [])
            later = [s for s in spans if s.file == call.name_span.file and _before(call.name_span, s)]
            if spans and len(later) == len(spans):
                self.error(  # type: ignore[attr-defined]
                    call.name_span,
                    f"'{call.name}' is applied before the layer it names is made",
                    notes=[f"'{call.name}' is named at {later[0]}"],
                    hint=f"a shared layer is applied again after its first use: move this use below line {later[0].line}",
                )
                return True
            # named earlier, but its first use failed (already reported): later uses stay silent
            return bool(spans) and bool(self.diags)  # type: ignore[attr-defined]
        first = self.shareable[where[0]]
        body = f"block instance '{first.name.rsplit('.', 1)[0]}'" if "." in first.name else "the model"
        self.error(
            call.name_span,
            f"'{call.name}' is a shared layer named in {body}; it is applied again only in the body where it is named",
            notes=[f"named at {first.span}"],
            hint="apply it in that body, or pass the tensor out of the block and apply it there",
        )
        return True

    # ---- later uses
    def apply_shared(self, sh: Shareable, call: ast.Call, ins: list[str] | None, scope) -> list[str] | None:
        name = call.name
        if call.args:
            self.error(
                call.args[0].span,
                f"'{name}' is a shared layer: a later use takes no arguments",
                notes=[f"its parameters are those of its first use at {sh.span}"],
                hint=f"apply it as it is: x -> {name}; for other parameters make a new layer",
            )
            return None
        if ins is None or any(t not in self.types for t in ins):
            return None
        given = [self.types[t] for t in ins]
        first_masked = sh.node is not None and _masked(sh.node.op)
        if sh.node is not None and first_masked != any(t in self.masks for t in ins):  # type: ignore[attr-defined]
            was, now = ("a padding-masked", "an unmasked") if first_masked else ("an unmasked", "a padding-masked")
            self.error(
                call.span,
                f"'{name}' is a shared layer first applied to {was} sequence, here to {now} one",
                notes=[f"first used at {sh.span}"],
                hint="a shared recurrence skips padded steps in every use or in none: feed every use from embedding(mask_zero=true), "
                "or none of them, or make a new layer",
            )
            return None
        made = sh.in_types[:-1] if first_masked else sh.in_types  # a masked first use also read the ids
        if not _fits(made, given):
            self.error(
                call.span,
                f"'{name}' is a shared layer made for input {_shapes(made)}, but here it gets {_shapes(given)}",
                notes=[f"first used at {sh.span}"],
                hint="a shared layer has one set of weights, so every use needs inputs like the first's; "
                "project or reshape the input first, or make a new layer",
            )
            return None
        local = sh.name.rsplit(".", 1)[-1]
        if sh.node is not None:
            owner = sh.node if sh.node.shares is None else self.node_index[sh.node.shares]
            return self.add_node(owner.op, ins, call, scope, local, {}, shares=owner)
        path = self.allocate(scope, local, None, call.span)
        if path is None:
            return None
        self.sharing.append((path, sh.name))
        try:
            return self.instantiate_block(sh.block, sh.values, ins, scope, path, sh.trainable, call, shares=sh.name)
        finally:
            self.sharing.pop()

    def share_of(self, full: str, op, shares: Node | None, weights: list, span: Span) -> Node | None | bool:
        """The first use whose layer the node ``full`` applies again: ``shares``, or — inside
        a shared block instance made again — its counterpart in the first instance; None
        for a layer of its own; False after reporting a mismatch."""
        if shares is None and self.sharing:
            shares = self.shared_owner(full, op, span)  # type: ignore[assignment]
            if shares is False:
                return False
        if shares is not None:
            made = self.node_index[shares.name]  # type: ignore[union-attr]
            if [w.shape for w in weights] != [w.shape for w in made.op.weights([self.types[t] for t in made.inputs])]:  # type: ignore[attr-defined] # pragma: no cover - inputs like the first use's
                self.error(span, f"the shared layer '{shares.name}' would need other weights for these inputs")  # type: ignore[attr-defined, union-attr]
                return False
        return shares

    def shared_owner(self, full: str, op, span: Span) -> Node | None | bool:
        """Inside a shared block instance made again: the node of the first instance that
        the layer ``full`` applies again (False after reporting that it has none)."""
        for path, first in reversed(self.sharing):
            if full.startswith(path + "."):
                owner = self.node_index.get(first + full[len(path) :])
                if owner is None or owner.op != op:  # pragma: no cover - same block, same inputs: same layers
                    self.error(span, f"the shared block instance '{first}' makes other layers for these inputs")
                    return False
                return owner if owner.shares is None else self.node_index[owner.shares]
        return None
