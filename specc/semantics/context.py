"""What the elaborator's parts share: the scope a body is elaborated in, how IR objects are
assembled from validated parts, and small helpers."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from specc.errors import Span
from specc.ir.graph import Node
from specc.ir.spec import ArgValue, CallValue, Symbol

__all__ = ["BodyScope", "Tensors", "Abort", "BUDGET_HINT", "HINTS_UNTIL", "join_path", "trusted", "jsonable", "op_key", "node_of", "NODE_FIELDS"]

Tensors = list[str]  # tensor ids a statement produced
HINTS_UNTIL = 100  # diagnostics after which no "did you mean" is computed (they are not shown)
BUDGET_HINT = "if this is intended, raise the budget: specc check {flag} N, or the environment variable {var}"


class Abort(Exception):
    """Stop elaborating (a budget is exceeded)."""


@dataclass
class BodyScope:
    """Where a body (the model's, a block instance's, a repetition's) is elaborated."""

    path: str  # "" for the model, "encoder.0" inside an instance
    values: dict[str, ArgValue]  # parameters and loop variables
    tensors: dict[str, tuple[str, Span]]  # user names → tensor id
    # visible from outside: a view of the enclosing scopes (a copy per repetition was
    # quadratic: 10,000 repetitions × 50,000 names)
    parent_tensors: Mapping[str, tuple[str, Span]] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    blocks: tuple[str, ...] = ()  # block call stack, for recursion errors
    trainable: bool = True
    is_block: bool = False
    block_inputs: list[str] | None = None
    n_inputs_bound: int = 0
    current: Tensors | None = None
    outputs: Tensors | None = None
    output_span: Span | None = None

    def lookup(self, name: str) -> tuple[str, Span] | None:
        return self.tensors.get(name) or self.parent_tensors.get(name)


def join_path(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


#: per IR class: (field, required, default) in declaration order (see trusted)
_FIELDS: dict[type, tuple[tuple[str, bool, Any], ...]] = {}


def trusted(cls, **given: Any):
    """An IR object (``Model``, ``Node``, ``Input``, ``Scope``) made of parts the elaborator
    has validated already — ops and sections by :func:`~specc.ir.spec.build_spec` (strict),
    tensor types by the shape rules, names by :meth:`~specc.semantics.elaborate._Elaborator.check_identifier` — so it
    is not validated a second time.  What pydantic's ``model_construct`` does (the given
    values, the defaults of the others, the fields set), without its per-call overhead:
    validating a ``Node`` again would cost more than the rest of its elaboration, and
    building the validator of the union of every layer is a large part of ``specc check``'s
    start-up.  No field here is coerced by validation, so the object equals the validated
    one (tests/test_frontend_fast.py)."""
    fields = _FIELDS.get(cls)
    if fields is None:
        fields = _FIELDS[cls] = tuple(
            (name, f.is_required(), None if f.is_required() else f.get_default(call_default_factory=True)) for name, f in cls.model_fields.items()
        )
    values: dict[str, Any] = {}
    for name, required, default in fields:
        if name in given:
            values[name] = given[name]
        elif not required:
            values[name] = copy.copy(default) if isinstance(default, (dict, list, set)) else default
    obj = cls.__new__(cls)
    object.__setattr__(obj, "__dict__", values)
    object.__setattr__(obj, "__pydantic_fields_set__", set(given))
    object.__setattr__(obj, "__pydantic_extra__", None)
    object.__setattr__(obj, "__pydantic_private__", None)
    return obj


class _Unkeyed(Exception):
    """A value op_key does not key (an already built Spec): the call is built every time."""


#: Node's fields, in declaration order (tests/test_frontend_memo.py holds them to Node's)
NODE_FIELDS = ("name", "op", "inputs", "types", "trainable", "shares", "span")


def node_of(name: str, op: Any, inputs: tuple, types: tuple, trainable: bool, shares: str | None, span: Any) -> Node:
    """``trusted(Node, …)`` with every field given (one per layer: without the generic loop)."""
    obj = Node.__new__(Node)
    _set(obj, "__dict__", {"name": name, "op": op, "inputs": inputs, "types": types, "trainable": trainable, "shares": shares, "span": span})
    _set(obj, "__pydantic_fields_set__", set(NODE_FIELDS))
    _set(obj, "__pydantic_extra__", None)
    _set(obj, "__pydantic_private__", None)
    return obj


_set = object.__setattr__


def _frozen(v: Any) -> Any:
    t = type(v)
    if t is int or t is bool or t is str or t is Symbol:
        return (t, v)
    if t is float:
        return (t, v.hex())  # -0.0 is not 0.0
    if v is None:
        return None
    if isinstance(v, list):  # a list literal (its items' spans only locate errors)
        return (list, tuple(_frozen(i) for i in v))
    if t is CallValue:
        return (t, v.name, tuple((k, _frozen(a.value)) for k, a in v.args))
    raise _Unkeyed


def op_key(name: str, args: list[tuple[str | None, ArgValue]]) -> tuple | None:
    """What a layer call's op depends on: its name and its arguments' values, each with its
    exact type (``1``, ``1.0``, ``true``; ``relu`` and ``"relu"``; ``0.0`` and ``-0.0`` all
    differ) and how it was passed (position or keyword) — not where it was written, which
    only locates errors.  Ops are frozen and hold no positions, so the elaborator builds one
    per key and every layer with that key shares it (a cache of successes: a call that
    fails is built, and reported, at each place).  None: not keyed (a Spec value)."""
    try:
        return (name, tuple((k, _frozen(a.value)) for k, a in args))
    except _Unkeyed:
        return None


def jsonable(v: Any) -> Any:
    if isinstance(v, (bool, int, float)) or v is None:
        return v
    if isinstance(v, str):
        return str(v)
    if isinstance(v, list):
        return [jsonable(i) for i in v]
    if isinstance(v, CallValue):
        return f"{v.name}(…)"
    return str(v)
