"""Lowering an IR model to a Keras *plan*: layer steps that both the in-memory functional
model (:mod:`specc.backends.keras.model`) and the generated source
(:mod:`specc.backends.keras.emit`) are made from.

Keras is channels-last like the IR, and the IR's weight layouts are Keras' own, so most
ops map to one built-in layer with the same weights.  Each IR op kind has one
:class:`KerasOp` (in ``specc/backends/keras/ops/``).  A node's main layer is named after
the node (``encoder.0.dense``); helper layers get ``<node>__<suffix>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from specc.backends.common import Construct, NodeContext, VarNames, registrar
from specc.errors import Diagnostic, SpecError
from specc.ir.graph import Model, Node
from specc.ir.types import TensorType

__all__ = ["keras_model_name", "LayerStep", "KerasOp", "keras_op", "KPlan", "KNodeInfo", "make_plan", "Construct", "KERAS_OPS"]


def keras_model_name(name: str) -> str:
    """The model's name as Keras accepts it: TensorFlow's root name scope must start with a
    letter, digit or '.', so a model ``_x`` is named ``model_x`` (in memory and generated)."""
    return name if name[:1].isalnum() and name[:1].isascii() else f"model{name}"


@dataclass
class LayerStep:
    name: str  # Keras layer name
    construct: Construct | None  # None for call="operator"
    inputs: list[str]
    outputs: list[str]
    call: str = "one"  # "one": layer(x); "list": layer([a, b]); "args": layer(a, b, ...); "masked": layer(x, …, mask=ids != 0) — the trailing inputs are ids, one per name in ``masks``; "operator": a + b (no layer)
    call_kwargs: dict[str, Any] = field(default_factory=dict)
    node: str | None = None
    scope: str = ""
    masks: tuple[str, ...] = ()  # call="masked": the keyword of each trailing ids input (mask, query_mask, …)


@dataclass
class KNodeInfo:
    node: Node
    in_types: list[TensorType]
    layers: list[str] = field(default_factory=list)
    out_vars: list[str] = field(default_factory=list)


class KerasOp:
    """The Keras lowering of one or more IR op kinds."""

    kinds: ClassVar[tuple[str, ...]] = ()
    #: canonical weight name → variable path under the node's main layer
    paths: ClassVar[dict[str, str]] = {}
    #: IR initialiser field → Keras ``*_initializer`` argument of the node's main layer;
    #: added automatically (where not the default) so generated code draws the spec's weights
    init_args: ClassVar[dict[str, str]] = {}

    def initializer_args(self, node: Node) -> dict[str, str]:
        """:attr:`init_args` for this node (override when it depends on the op's kind)."""
        return self.init_args

    def lower(self, node: Node, ins: list[str], ctx: KCtx) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def check(self, node: Node, in_types: list[TensorType]) -> str | None:
        """Why Keras cannot express this node, if it cannot."""
        return None

    def var_path(self, info: KNodeInfo, name: str) -> str:
        return self.paths.get(name, name)

    def to_keras(self, info: KNodeInfo, w: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Canonical weights (local names) → {variable path under the node's layer: array}."""
        return {self.var_path(info, k): v for k, v in w.items()}

    def from_keras(self, info: KNodeInfo, names: list[str], vals: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The inverse of :meth:`to_keras` for the canonical weights ``names``."""
        return {n: vals[self.var_path(info, n)] for n in names}


KERAS_OPS: dict[str, KerasOp] = {}


keras_op = registrar(KERAS_OPS, "keras")


def _field_of(weight: str) -> str:
    """The IR initialiser field of a weight (attention: query_kernel → init)."""
    return "bias_init" if weight.endswith("bias") else "init"


def _load_ops() -> None:
    from . import ops  # noqa: F401 - registers every lowering


class KCtx(NodeContext):
    """What a :class:`KerasOp` uses to add layers for one node."""

    plan: KPlan
    info: KNodeInfo

    def layer(self, construct: Construct, ins: list[str], *, call: str = "one", n_out: int = 1, suffix: str | None = None, masks: tuple[str, ...] = (), **call_kwargs) -> list[str]:
        """Call a layer named after the node (``<node>__<suffix>`` for a helper); a shared
        layer's later use names its first use's layer, which is called again."""
        owner = self.node.shares or self.node.name
        name = owner if suffix is None else f"{owner}__{suffix}"
        op = KERAS_OPS[self.node.op.kind]
        init_args = op.initializer_args(self.node) if suffix is None else {}
        if init_args:
            from .initializers import initializer_kwargs

            fans = {f: w.fans for f in init_args for w in self.plan.model.node_weights(self.node) if w.fans and _field_of(w.name) == f}
            extra = initializer_kwargs(self.node.op, {f: k for f, k in init_args.items() if hasattr(self.node.op, f)}, fans)
            construct = Construct(construct.cls, construct.args, {**construct.kwargs, **extra})
        outs = [self.plan.new_var(self.node.local_name) for _ in range(n_out)]
        self.plan.steps.append(LayerStep(name, construct, list(ins), outs, call, call_kwargs, self.node.name, self.node.scope, tuple(masks)))
        self.info.layers.append(name)
        return outs

    def operator(self, fn: str, ins: list[str], **kwargs) -> list[str]:
        """A Python operator on Keras tensors (``a + b``, ``x * 0.5``): no layer, no weights."""
        outs = [self.plan.new_var(self.node.local_name)]
        self.plan.steps.append(LayerStep(self.node.name, None, list(ins), outs, "operator", {"fn": fn, **kwargs}, self.node.name, self.node.scope))
        return outs

    def done(self, outs: list[str]) -> None:
        self.info.out_vars = list(outs)


@dataclass
class KPlan:
    model: Model
    steps: list[LayerStep] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    nodes: dict[str, KNodeInfo] = field(default_factory=dict)
    tensor_var: dict[str, str] = field(default_factory=dict)
    names: VarNames = field(default_factory=VarNames)

    def new_var(self, hint: str) -> str:
        return self.names.new(hint)

    @property
    def var_hint(self) -> dict[str, str]:
        return self.names.hint


def make_plan(model: Model) -> KPlan:
    """Lower ``model`` to a Keras plan, or raise SpecError for what Keras cannot express."""
    _load_ops()
    diags = []
    for n in model.nodes:
        op = KERAS_OPS.get(n.op.kind)
        why = f"the keras backend cannot lower layer '{n.op.kind}'" if op is None else op.check(n, model.input_types(n))
        if why:
            diags.append(Diagnostic(n.span, f"{why} (node {n.name})", hint="build this spec with backend torch, or change the layer"))
    if diags:
        raise SpecError(diags)
    plan = KPlan(model)
    for i in model.inputs:
        var = plan.new_var(i.name)
        plan.inputs.append(var)
        plan.tensor_var[i.name] = var
    for node in model.nodes:
        info = KNodeInfo(node, model.input_types(node))
        plan.nodes[node.name] = info
        KERAS_OPS[node.op.kind].lower(node, [plan.tensor_var[t] for t in node.inputs], KCtx(plan, info))
        for tid, var in zip(node.outputs, info.out_vars, strict=True):
            plan.tensor_var[tid] = var
    plan.outputs = [plan.tensor_var[o] for o in model.outputs]
    return plan


def graph_recursion_limit(plan: KPlan) -> int | None:
    """The recursion limit a deep model needs (None: Python's default will do).  Keras
    maps a functional model's graph recursively (``keras.src.ops.function._build_map_helper``,
    one Python call per layer of depth), so a chain of ~1000 layers — the 809 block names
    of tests/test_emit_names.py, each block used twice — overflows the default limit of
    1000 with a RecursionError.  The limit is raised (never lowered) and kept: Keras walks
    the graph again later (cloning, saving)."""
    n = len(plan.steps)
    return 1000 + 2 * n if n > 300 else None

