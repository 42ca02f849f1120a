"""What both backends' plans share: how to describe building a layer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Construct", "registrar", "VarNames", "NodeContext"]


@dataclass
class Construct:
    """How to build a layer/module: its class and literal constructor arguments.

    Arguments are literals (numbers, strings, booleans, tuples, None) or nested Constructs,
    so the same description builds the object in memory and renders as source."""

    cls: type
    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def build(self, **extra: Any):
        def b(v):
            if isinstance(v, Construct):
                return v.build()
            if isinstance(v, (list, tuple)):
                return type(v)(b(i) for i in v)
            return v

        return self.cls(*[b(a) for a in self.args], **{k: b(v) for k, v in self.kwargs.items()}, **extra)


def registrar(registry: dict, backend: str):
    """A class decorator registering one lowering instance under each of its ``kinds``."""

    def register(cls):
        inst = cls()
        for k in cls.kinds:
            if k in registry:
                raise RuntimeError(f"{backend} lowering for {k} registered twice")
            registry[k] = inst
        return cls

    return register


class NodeContext:
    """What a lowering sees of the node it lowers (both backends' contexts extend it)."""

    def __init__(self, plan, info):
        self.plan = plan
        self.info = info

    @property
    def node(self):
        return self.info.node

    @property
    def in_types(self):
        return self.info.in_types

    @property
    def out_types(self):
        return list(self.info.node.types)


class VarNames:
    """Unique, valid variable names for a plan's values, made from layer names
    (``dense``, ``dense_1``, …), remembering what each was made from."""

    def __init__(self) -> None:
        self.hint: dict[str, str] = {}

    def new(self, hint: str) -> str:
        import keyword

        base = hint if hint.isidentifier() and not keyword.iskeyword(hint) else "x"
        name, i = base, 1
        while name in self.hint:
            name = f"{base}_{i}"
            i += 1
        self.hint[name] = base
        return name


def schedule_args(schedule) -> dict | None:
    """An IR schedule as the plain dict the self-contained libraries take."""
    if schedule is None:
        return None
    return {"kind": schedule.kind, **schedule.params()}


def optimizer_args(train) -> dict:
    """``SpeccOptimizer`` keyword arguments (both backends) for a TrainConfig."""
    opt = train.optimizer
    p = opt.model_dump(exclude={"kind"})
    common = {k: p.pop(k) for k in ("lr", "weight_decay", "clip_norm", "clip_value")}
    return {"kind": opt.kind, **common, "schedule": schedule_args(train.schedule), "hparams": p}


def loss_uses_logits(model, tensor: str) -> bool:
    """Whether the loss on output ``tensor`` is computed from the logits of the softmax /
    sigmoid that produced it (the IR's rule, see ``specc/ir/losses.py``)."""
    train = model.train
    if train is None or getattr(train.loss, "from_logits", True):
        return False
    through = train.loss.logits_through
    node = model.producer(tensor)
    if through is None or node is None:
        return False
    act = node.op.activation_spec()
    if act is None or act.kind != through:
        return False
    return act.kind == "sigmoid" or act.axis in (-1, model.type_of(tensor).rank)


def metric_setup(model) -> dict:
    """How classification metrics read the output: mode (binary / categorical / sparse /
    exact), decision threshold, number of classes — derived from the loss and output."""
    train = model.train
    out = model.type_of(model.outputs[0])
    classes = out.shape[-1] if out.rank and isinstance(out.shape[-1], int) else 2
    kind = train.loss.kind if train is not None else "mse"
    logits = bool(getattr(train.loss, "from_logits", False)) if train is not None else False
    if kind == "sparse_categorical_crossentropy":
        return {"mode": "sparse", "threshold": 0.5, "classes": classes}
    if kind == "categorical_crossentropy":
        return {"mode": "categorical", "threshold": 0.5, "classes": classes}
    if kind == "binary_crossentropy":
        return {"mode": "binary", "threshold": 0.0 if logits else 0.5, "classes": 2}
    return {"mode": "exact", "threshold": 0.5, "classes": classes}
