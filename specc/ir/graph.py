"""The validated model: what every backend lowers and every tool reads.

A :class:`Model` is a DAG in topological order.  Tensors are named by ids: a model input
by its name, a node's first output by the node's name, further outputs ``name:1``,
``name:2``….  Node names are dotted paths: ``encoder.0.dense_1`` is the layer
``dense_1`` inside the first repetition of block ``encoder``.  Every part is a frozen
pydantic model, so a Model round-trips through JSON (``specc check --json``) and two
Models compare equal when they mean the same network (source positions are ignored).
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from specc.errors import Span
from specc.ir.callbacks import Callback, EarlyStopping, monitor_mode
from specc.ir.losses import Loss
from specc.ir.metrics import Metric
from specc.ir.ops import LAYERS, Op, WeightSpec
from specc.ir.optimizers import Adam, Optimizer
from specc.ir.schedules import Schedule
from specc.ir.spec import Spec
from specc.ir.types import TensorType

__all__ = ["Model", "Node", "Input", "Scope", "TrainConfig", "VerifyConfig", "IDENTIFIER", "IR_VERSION"]

if TYPE_CHECKING:
    from specc.ir.ops import AnyOp

IR_VERSION = 1
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True, defer_build=True)

    # Source positions are annotations, not meaning: two IR objects that differ only in
    # where they were written are equal (so ``parse(fmt(x)) == parse(x)``), and a model
    # read back from JSON equals the one written.
    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.model_dump() == other.model_dump()  # type: ignore[union-attr]

    def __hash__(self) -> int:
        return hash(self.model_dump_json())

    # ``Node.op`` is any layer: a discriminated union of every layer class, which exists
    # only once every layer module is imported (specc.ir.ops imports them on first use).
    # pydantic builds these classes' validators and serializers on first use (defer_build)
    # through ``model_rebuild``: the vocabulary is completed first.  Assembling the IR
    # (``model_construct``) and reading it need neither.
    @classmethod
    def model_rebuild(cls, *args: Any, **kwargs: Any):
        if "AnyOp" not in globals():
            globals()["AnyOp"] = LAYERS.union
        return super().model_rebuild(*args, **kwargs)


class Input(_Frozen):
    name: str
    type: TensorType
    span: Span | None = Field(None, exclude=True)


class Node(_Frozen):
    """One layer application."""

    name: str  # dotted path, unique in the model
    op: AnyOp
    inputs: tuple[str, ...]
    types: tuple[TensorType, ...]  # one per output
    trainable: bool = True
    #: a shared layer's later use: the name of the node whose layer (and weights) it applies
    #: again (``eb = b -> enc``); such a node has no weights of its own
    shares: str | None = None
    span: Span | None = Field(None, exclude=True)

    @property
    def outputs(self) -> tuple[str, ...]:
        n = len(self.types)
        if n == 1:  # almost every layer
            return (self.name,)
        return tuple(self.name if i == 0 else f"{self.name}:{i}" for i in range(n))

    @property
    def local_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    @property
    def scope(self) -> str:
        return self.name.rsplit(".", 1)[0] if "." in self.name else ""


class Scope(_Frozen):
    """A block instance or one repetition of a ``repeat`` body."""

    path: str
    block: str | None  # block name; None for a repeat body
    args: dict[str, Any] = {}
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    #: a shared block instance's later use: the path of the instance it applies again
    shares: str | None = None
    #: where it is written: the block call, or the ``repeat`` statement of a repetition
    span: Span | None = Field(None, exclude=True)


class TrainConfig(Spec):
    """The ``train { ... }`` section."""

    kind: Literal["train"] = "train"
    loss: Loss = Field(..., description="the loss to minimise")
    optimizer: Optimizer = Field(Adam.model_construct(), description="the optimizer, e.g. adam(lr=1e-3)")
    schedule: Schedule | None = Field(None, description="learning-rate schedule over optimizer steps")
    metrics: tuple[Metric, ...] = Field((), description="metrics to report, e.g. [accuracy, f1]")
    batch: int = Field(32, gt=0, description="examples per optimizer step")
    epochs: int = Field(1, gt=0, description="passes over the training data")
    seed: int = Field(0, ge=0, lt=2**32, description="seed of initial weights, shuffling and dropout (below 2**32, what NumPy, torch and TensorFlow all take)")
    ema: float | None = Field(None, gt=0, lt=1, description="decay of an exponential moving average of weights used to evaluate")
    validation_split: float = Field(0.2, ge=0, lt=1, description="fraction held out when the data has no validation set")
    callbacks: tuple[Callback, ...] = Field((), description="decisions after each epoch: early_stopping(…), best_checkpoint(…)")

    @model_validator(mode="after")
    def _check_callbacks(self):
        kinds = [c.kind for c in self.callbacks]
        for k in set(kinds):
            if kinds.count(k) > 1:
                raise ValueError(f"callbacks: {k} is given {kinds.count(k)} times (give it once)")
        names = ["loss", *dict.fromkeys(m.report_name for m in self.metrics)]
        allowed = [*names, *(f"val_{n}" for n in names)]
        for c in self.callbacks:
            if c.monitor not in allowed:
                raise ValueError(f"{c.kind}: cannot monitor {c.monitor!r}; this model reports {', '.join(allowed)}")
        return self

    @property
    def early_stopping(self) -> EarlyStopping | None:
        return next((c for c in self.callbacks if c.kind == "early_stopping"), None)

    def best_monitor(self, has_val: bool) -> tuple[str, str]:
        """(monitor, mode) of the best checkpoint every run keeps (see specc.ir.callbacks)."""
        for kind in ("best_checkpoint", "early_stopping"):
            c = next((c for c in self.callbacks if c.kind == kind), None)
            if c is not None:
                return c.monitor, c.resolved_mode()
        monitor = "val_loss" if has_val else "loss"
        return monitor, monitor_mode(monitor)


class VerifyConfig(Spec):
    """The ``verify { ... }`` section: how `specc verify` compares backends."""

    kind: Literal["verify"] = "verify"
    rtol: float | None = Field(None, gt=0, description="relative tolerance in float32 (default per layer family)")
    atol: float | None = Field(None, gt=0, description="absolute tolerance in float32 (default per layer family)")
    rtol64: float | None = Field(None, gt=0, description="relative tolerance in float64")
    atol64: float | None = Field(None, gt=0, description="absolute tolerance in float64")
    steps: int = Field(3, ge=0, description="optimizer steps to compare")
    batch: int = Field(4, gt=0, description="examples per compared batch")


class Model(_Frozen):
    """A validated model spec."""

    ir_version: Literal[1] = Field(IR_VERSION, description="version of this IR's JSON format")
    name: str
    inputs: tuple[Input, ...]
    nodes: tuple[Node, ...]
    outputs: tuple[str, ...]
    scopes: tuple[Scope, ...] = ()
    train: TrainConfig | None = None
    verify: VerifyConfig = VerifyConfig.model_construct()  # (defaults: no validator built at import)
    source: str | None = Field(None, exclude=True)  # file the model came from

    @model_validator(mode="after")
    def _check(self):
        seen = {i.name for i in self.inputs}
        earlier: dict[str, Node] = {}
        for n in self.nodes:
            for t in n.inputs:
                if t not in seen:
                    raise ValueError(f"node {n.name} reads tensor {t!r} before it is defined")
            if n.shares is not None:
                owner = earlier.get(n.shares)
                if owner is None or owner.shares is not None:
                    raise ValueError(f"node {n.name} shares {n.shares!r}, which is not an earlier node with weights of its own")
                if owner.op != n.op or owner.trainable != n.trainable:
                    raise ValueError(f"node {n.name} shares {n.shares!r} but is another layer")
            seen.update(n.outputs)
            earlier[n.name] = n
        for o in self.outputs:
            if o not in seen:
                raise ValueError(f"output {o!r} is not a tensor of the model")
        return self

    # ---- lookups
    @cached_property
    def _types(self) -> dict[str, TensorType]:
        out = {i.name: i.type for i in self.inputs}
        for n in self.nodes:
            out.update(zip(n.outputs, n.types, strict=True))
        return out

    @cached_property
    def _producers(self) -> dict[str, Node]:
        return {o: n for n in self.nodes for o in n.outputs}

    @cached_property
    def _by_name(self) -> dict[str, Node]:
        return {n.name: n for n in self.nodes}

    def type_of(self, tensor: str) -> TensorType:
        return self._types[tensor]

    def producer(self, tensor: str) -> Node | None:
        """The node computing ``tensor`` (None for a model input)."""
        return self._producers.get(tensor)

    def node(self, name: str) -> Node:
        return self._by_name[name]

    def consumers(self, tensor: str) -> list[Node]:
        return [n for n in self.nodes if tensor in n.inputs]

    def vocabs(self, tensor: str) -> list[int]:
        """Vocabulary sizes of the embeddings reading ``tensor`` (integer ids), directly or
        through layers that only move values (flatten, reshape, permute)."""
        out, stack, seen = [], [tensor], set()
        while stack:
            t = stack.pop()
            for n in self.consumers(t):
                if n.name in seen:
                    continue
                seen.add(n.name)
                if n.op.kind == "embedding":
                    out.append(n.op.vocab)
                elif n.op.integer_inputs and n.op.passes_values:
                    stack.extend(n.outputs)
        return out

    def padded(self, tensor: str) -> bool:
        """Whether ``tensor`` holds ids an ``embedding(mask_zero=true)`` reads: 0 is padding."""
        return any(n.op.kind == "embedding" and getattr(n.op, "mask_zero", False) for n in self.consumers(tensor))

    def input_types(self, node: Node) -> list[TensorType]:
        types = self._types
        return [types[t] for t in node.inputs]

    # ---- weights
    def node_weights(self, node: Node, ins: list[TensorType] | None = None) -> list[WeightSpec]:
        """The canonical weights ``node`` owns: none for a shared layer's later use (it
        applies the weights of the node it shares).  ``ins``: its input types, when the
        caller has them at hand."""
        if node.shares is not None:
            return []
        if self._by_name.get(node.name) is not node:  # a node of another model
            return node.op.weights(self.input_types(node))
        known = self._weights.get(node.name)
        if known is None:  # computed once a node (the summary's costs and counts both ask) …
            ins = self.input_types(node) if ins is None else ins
            # … and once per op and input types (the layers of a repeat or of a block called
            # again are one op on the same types; the ops are this model's: ids are their own)
            key = (id(node.op), *[(t.dtype, t.shape) for t in ins])
            known = self._weights_by_op.get(key)
            if known is None:
                known = self._weights_by_op[key] = tuple(node.op.weights(ins))
            self._weights[node.name] = known
        return list(known)

    @cached_property
    def _weights(self) -> dict[str, tuple[WeightSpec, ...]]:
        return {}

    @cached_property
    def _weights_by_op(self) -> dict[tuple, tuple[WeightSpec, ...]]:
        return {}

    def owner(self, node: Node) -> Node:
        """The node whose layer ``node`` applies: itself, or the first use of a shared layer."""
        return node if node.shares is None else self.node(node.shares)

    @cached_property
    def shared(self) -> frozenset[str]:
        """Names of the nodes of shared layers (first uses and later ones)."""
        out = set()
        for n in self.nodes:
            if n.shares is not None:
                out.update((n.name, n.shares))
        return frozenset(out)

    def weights(self) -> list[tuple[Node, WeightSpec]]:
        """Every canonical weight, in model order: (node, spec); full name = node.name + '.' + spec.name."""
        return [(n, w) for n in self.nodes for w in self.node_weights(n)]

    def weight_names(self) -> list[str]:
        return [f"{n.name}.{w.name}" for n, w in self.weights()]

    def count_params(self) -> tuple[int, int]:
        """(trainable, non-trainable) parameter counts, as Keras' summary counts them."""
        trainable = frozen = 0
        for n in self.nodes:
            for w in self.node_weights(n):
                if w.trainable and n.trainable:
                    trainable += w.size
                else:
                    frozen += w.size
        return trainable, frozen

    @property
    def stochastic(self) -> bool:
        return any(n.op.stochastic for n in self.nodes)

    def ops(self) -> list[Op]:
        out: list[Op] = []
        for n in self.nodes:
            out.append(n.op)
            out.extend(n.op.sublayers())
        return out

    # ---- JSON
    def to_json(self, indent: int | None = 2) -> str:
        return self.model_dump_json(indent=indent, exclude_none=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> Model:
        """Read what :meth:`to_json` wrote.  Strict, like the JSON Schema (`specc schema`):
        ``"yes"`` is not a boolean nor ``2.0`` an integer."""
        return cls.model_validate_json(text, strict=True)
