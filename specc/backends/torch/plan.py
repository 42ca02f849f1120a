"""Lowering an IR model to a PyTorch *plan*: the list of steps both the in-memory model
(:mod:`specc.backends.torch.module`) and the generated source
(:mod:`specc.backends.torch.emit`) are made from, so the two cannot diverge.

A step is either a module call (``ModuleStep``: a module built from a
:class:`Construct` — class plus literal arguments — stored at an attribute path) or a
function call (``FnStep``: one of the functions in :data:`FUNCTIONS`, with literal
keyword arguments).  Each IR op kind has one :class:`TorchOp` (in
``specc/backends/torch/ops/``) that emits its steps and converts its canonical weights.

**Layouts.**  The IR is channels-last; torch kernels want channels-first.  Every torch
value carries a :class:`Layout`: ``CANON`` (as the IR), ``CF`` (channels moved to axis 1)
or ``Perm`` (a flattened channels-first image: features in another order, folded into the
next dense layer's weights so it costs nothing at run time).  Ops say which layouts they
accept; the planner inserts the conversions.
"""

from __future__ import annotations

import keyword
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from specc.backends.common import Construct, NodeContext, VarNames, loss_uses_logits, registrar
from specc.errors import Diagnostic, SpecError
from specc.ir.graph import Model, Node
from specc.ir.types import TensorType

from . import lib as L
from . import activations
from .layout import CANON, CF, Layout, Perm

__all__ = [
    "Layout",
    "CANON",
    "CF",
    "Perm",
    "Construct",
    "ModuleStep",
    "FnStep",
    "TorchOp",
    "torch_op",
    "Plan",
    "NodeInfo",
    "make_plan",
    "FUNCTIONS",
]

# --------------------------------------------------------------------------- steps

def _with_number(fn: Callable) -> Callable:
    """``x op number`` (or ``number op x`` when ``first``) as a plan function."""

    def apply(x, *, scalar: float, first: bool = False):
        return fn(scalar, x) if first else fn(x, scalar)

    return apply


#: infix spelling of the operator functions
OPERATORS = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/"}

#: the functions a plan may call, by the name the generated source uses
FUNCTIONS: dict[str, Callable] = {
    "torch.relu": torch.relu,
    "torch.sigmoid": torch.sigmoid,
    "torch.tanh": torch.tanh,
    "torch.softmax": torch.softmax,
    "torch.log_softmax": torch.log_softmax,
    "F.relu6": F.relu6,
    "F.leaky_relu": F.leaky_relu,
    "F.elu": F.elu,
    "F.selu": F.selu,
    "F.gelu": F.gelu,
    "F.silu": F.silu,
    "F.softplus": F.softplus,
    "hard_sigmoid": L.hard_sigmoid,
    "torch.mean": torch.mean,
    "torch.amax": torch.amax,
    "masked_mean": L.masked_mean,
    "to_channels_first": L.to_channels_first,
    "to_channels_last": L.to_channels_last,
    "flatten": L.flatten,
    "add": L.add,
    "multiply": L.multiply,
    "concat": L.concat,
    "torch.unsqueeze": torch.unsqueeze,
    "positions": L.positions,
    # tensor expressions: written as Python operators in generated code (see emit.fn_call)
    "operator.add": operator.add,
    "operator.subtract": operator.sub,
    "operator.multiply": operator.mul,
    "operator.divide": operator.truediv,
    "scalar.add": _with_number(operator.add),
    "scalar.subtract": _with_number(operator.sub),
    "scalar.multiply": _with_number(operator.mul),
    "scalar.divide": _with_number(operator.truediv),
}


@dataclass
class ModuleStep:
    attr: tuple[str, ...]  # attribute path from the model root
    construct: Construct
    inputs: list[str]
    outputs: list[str]
    node: str | None = None
    scope: str = ""  # block/repeat scope path the step belongs to


@dataclass
class FnStep:
    fn: str  # key of FUNCTIONS
    inputs: list[str]
    outputs: list[str]
    kwargs: dict[str, Any] = field(default_factory=dict)
    node: str | None = None
    scope: str = ""


Step = ModuleStep | FnStep


@dataclass
class NodeInfo:
    """What the planner decided for one IR node (weight conversion needs it)."""

    node: Node
    in_types: list[TensorType]
    in_layouts: list[Layout]
    attr: tuple[str, ...]  # attribute path of the node's module (weights live under it)
    out_vars: list[str] = field(default_factory=list)
    out_layouts: list[Layout] = field(default_factory=list)
    pre_activation: str | None = None  # var holding the value before a fused activation


# --------------------------------------------------------------------------- op registry


class TorchOp:
    """The PyTorch lowering of one or more IR op kinds."""

    kinds: ClassVar[tuple[str, ...]] = ()

    def accepts(self, node: Node, layouts: list[Layout], types: list[TensorType]) -> list[Layout]:
        """The layouts this op wants its inputs in (default: canonical)."""
        return [CANON] * len(layouts)

    def lower(self, node: Node, ins: list[str], ctx: LowerCtx) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_torch(self, info: NodeInfo, w: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Canonical weights (local names) → state-dict entries (keys relative to info.attr)."""
        return {}

    def from_torch(self, info: NodeInfo, sd: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The inverse of :meth:`to_torch`."""
        return {}


TORCH_OPS: dict[str, TorchOp] = {}


torch_op = registrar(TORCH_OPS, "torch")


def _load_ops() -> None:
    from . import ops  # noqa: F401 - registers every lowering


# --------------------------------------------------------------------------- planning

#: attributes a layer's module may not be stored under: every attribute of an
#: ``nn.Module`` instance, those specc's in-memory model (``SpeccModule``) and the
#: generated classes define, and Python's own names
RESERVED_ATTRS = (
    frozenset(dir(nn.Module()))
    | {"training", "forward", "call", "reset_parameters"}  # generated classes
    | {"plan", "spec_name", "input_names", "run", "run_for_loss", "_program", "_loss_program", "_loss_keep", "_dies", "_drops", "_drop_plan"}  # SpeccModule
    | frozenset(keyword.kwlist)
)


def attr_name(name: str, taken: set[str]) -> str:
    """A safe attribute name for a layer: a layer named ``forward`` is stored as
    ``forward_`` (its state-dict keys read ``forward_.weight`` in every model)."""
    out = name
    while out.startswith("__"):  # a class body would mangle self.__x (a block ``_``'s 2nd instance is ``__1``)
        out = out[1:]
    while out in RESERVED_ATTRS or out in taken:
        out += "_"
    return out


class LowerCtx(NodeContext):
    """What a :class:`TorchOp` uses to emit steps for one node."""

    plan: Plan
    info: NodeInfo

    @property
    def in_layouts(self) -> list[Layout]:
        return self.info.in_layouts

    def module(self, construct: Construct, ins: list[str], n_out: int = 1, suffix: str | None = None) -> list[str]:
        """Call a module stored at the node's attribute (or a sibling ``<attr>_<suffix>``)."""
        attr = self.info.attr if suffix is None else (*self.info.attr[:-1], f"{self.info.attr[-1]}_{suffix}")
        outs = [self.plan.new_var(self.node.local_name) for _ in range(n_out)]
        self.plan.steps.append(ModuleStep(attr, construct, list(ins), outs, self.node.name, self.node.scope))
        return outs

    def fn(self, name: str, ins: list[str], **kwargs) -> str:
        out = self.plan.new_var(self.node.local_name)
        self.plan.steps.append(FnStep(name, list(ins), [out], kwargs, self.node.name, self.node.scope))
        return out

    def activation(self, spec, x: str, layout: Layout, rank: int) -> str:
        """Apply an IR activation (no step for linear); records the pre-activation value."""
        if spec is None or spec.kind == "linear":
            return x
        self.info.pre_activation = x
        self.plan.var_layout.setdefault(x, layout)
        fn, kwargs = activations.activation_step(spec, layout, rank)
        return self.fn(fn, [x], **kwargs)

    def done(self, outs: list[str], layouts: list[Layout]) -> None:
        self.info.out_vars = list(outs)
        self.info.out_layouts = list(layouts)


@dataclass
class Plan:
    model: Model
    steps: list[Step] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    nodes: dict[str, NodeInfo] = field(default_factory=dict)
    var_layout: dict[str, Layout] = field(default_factory=dict)
    tensor_var: dict[str, str] = field(default_factory=dict)  # IR tensor id → var (its own layout)
    names: VarNames = field(default_factory=VarNames)
    #: per output, the canonical-layout value its loss reads (the logits of a final
    #: softmax/sigmoid where the IR's rule says so, else the output itself), and the
    #: conversions that make it — run only when a loss is computed, never in inference
    loss_inputs: list[str] = field(default_factory=list)
    loss_steps: list[Step] = field(default_factory=list)
    _converted: dict[tuple[str, Layout], str] = field(default_factory=dict)

    @property
    def loss_reads_outputs(self) -> bool:
        """The loss reads the outputs themselves (no logits before a final softmax/sigmoid,
        no layout conversion): the module needs no second way out of ``forward``."""
        return self.loss_inputs == self.outputs and not self.loss_steps

    def new_var(self, hint: str) -> str:
        return self.names.new(hint)

    @property
    def var_hint(self) -> dict[str, str]:
        return self.names.hint

    def convert(self, var: str, to: Layout, scope: str, steps: list[Step] | None = None) -> str:
        """``var`` in layout ``to`` (inserting a conversion step once, into ``steps``:
        the plan's own by default)."""
        frm = self.var_layout[var]
        if frm == to:
            return var
        key = (var, to)
        if key in self._converted:
            return self._converted[key]
        if frm == CANON and to == CF:
            fn = "to_channels_first"
        elif frm == CF and to == CANON:
            fn = "to_channels_last"
        else:  # pragma: no cover - the planner never asks for other conversions
            raise AssertionError(f"no conversion {frm} → {to}")
        out = self.new_var(f"{var}_{'cf' if to == CF else 'cl'}")
        (self.steps if steps is None else steps).append(FnStep(fn, [var], [out], {}, None, scope))
        self.var_layout[out] = to
        self._converted[key] = out
        return out

    # ---- used by the module, the emitter and the verify harness
    def logits_var(self, tensor: str) -> str | None:
        """The pre-activation value of an output produced by softmax/sigmoid, if any."""
        node = self.model.producer(tensor)
        if node is None:
            return None
        info = self.nodes[node.name]
        spec = node.op.activation_spec()
        if spec is None or spec.kind not in ("softmax", "sigmoid"):
            return None
        if node.op.kind == "activation":
            return self.tensor_var[node.inputs[0]]
        return info.pre_activation


def _attr_paths(model: Model) -> dict[str, tuple[str, ...]]:
    """Attribute path of every node: scopes become nested containers.  A shared layer's
    later use applies the module of its first use (one module, one set of parameters)."""
    taken: dict[tuple[str, ...], set[str]] = {}
    mapping: dict[str, tuple[str, ...]] = {}
    seg_map: dict[tuple[str, ...], str] = {}
    for n in model.nodes:
        if n.shares is not None:
            mapping[n.name] = mapping[n.shares]
            continue
        parts = n.name.split(".")
        path: tuple[str, ...] = ()
        for depth, seg in enumerate(parts):
            key = (*tuple(parts[:depth]), seg)
            if key not in seg_map:
                siblings = taken.setdefault(path, set())
                a = seg if seg.isdigit() else attr_name(seg, siblings)
                siblings.add(a)
                seg_map[key] = a
            path = (*path, seg_map[key])
        mapping[n.name] = path
    return mapping


def make_plan(model: Model) -> Plan:
    """Lower ``model`` to a torch plan, or raise SpecError for ops torch cannot express."""
    _load_ops()
    missing = [n for n in model.nodes if n.op.kind not in TORCH_OPS]
    if missing:
        raise SpecError(
            [Diagnostic(n.span, f"the torch backend cannot lower layer '{n.op.kind}' (node {n.name})") for n in missing],
            {},
        )
    plan = Plan(model)
    attrs = _attr_paths(model)
    for i in model.inputs:
        var = plan.new_var(i.name)
        plan.inputs.append(var)
        plan.var_layout[var] = CANON
        plan.tensor_var[i.name] = var
    perm_ok = _perm_ok(model)
    for node in model.nodes:
        op = TORCH_OPS[node.op.kind]
        in_vars = [plan.tensor_var[t] for t in node.inputs]
        in_types = model.input_types(node)
        have = [plan.var_layout[v] for v in in_vars]
        want = op.accepts(node, have, in_types)
        if node.op.kind == "flatten" and want[0] == CF and not perm_ok.get(node.name, False):
            want = [CANON]
        if node.shares is not None:  # the first use's layouts: its module, its weight layout
            want = list(plan.nodes[node.shares].in_layouts)
        in_vars = [plan.convert(v, w, node.scope) for v, w in zip(in_vars, want, strict=True)]
        info = NodeInfo(node, in_types, list(want), attrs[node.name])
        plan.nodes[node.name] = info
        op.lower(node, in_vars, LowerCtx(plan, info))
        for tid, var, lay in zip(node.outputs, info.out_vars, info.out_layouts, strict=True):
            plan.tensor_var[tid] = var
            plan.var_layout[var] = lay
    plan.outputs = [plan.convert(plan.tensor_var[o], CANON, "") for o in model.outputs]
    for o, out_var in zip(model.outputs, plan.outputs, strict=True):
        # the loss is defined on canonical (channels-last) values: a per-pixel loss on the
        # logits of a convolution reads them channels-last, like the output itself
        logits = plan.logits_var(o) if loss_uses_logits(model, o) else None
        plan.loss_inputs.append(out_var if logits is None else plan.convert(logits, CANON, "", plan.loss_steps))
    return plan


# a flatten of a channels-first image may hand its features over in channels-first order
# when every use of the result, looking through layout-agnostic layers, is a dense layer
_TRANSPARENT = {"dropout"}


def _perm_ok(model: Model) -> dict[str, bool]:
    out: dict[str, bool] = {}
    outputs = set(model.outputs)

    def only_dense(tensor: str) -> bool:
        if tensor in outputs:
            return False
        users = model.consumers(tensor)
        if not users:
            return False
        for u in users:
            if u.op.kind == "dense" and u.name not in model.shared:  # a shared dense's weights serve every use
                continue
            elementwise_act = u.op.kind == "activation" and getattr(u.op.fn, "elementwise", False)
            if (u.op.kind in _TRANSPARENT or elementwise_act) and only_dense(u.name):
                continue
            return False
        return True

    for n in model.nodes:
        if n.op.kind == "flatten":
            out[n.name] = only_dense(n.name)
    return out
