"""What ``specc.build(spec, backend="keras")`` returns: a compiled ``keras.Model`` (the
spec's optimizer, loss, regularisers and metrics), with the canonical weights loaded.
``model.specc`` keeps the plan, for weight conversion and verification."""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import keras
import numpy as np

from specc.backends.common import loss_uses_logits, metric_setup, optimizer_args
from specc.ir.graph import Model

from .lib.optimizers import OPTIMIZER_CLASSES, TorchClip, TorchDecay, TorchLR, TorchSchedule
from .lib.training import ProbabilityLoss, SparseCategoricalCrossentropySmoothed, SpeccAccuracy, SpeccClassificationScore
from .model import build_functional, get_canonical, set_canonical
from .plan import Construct, KPlan, make_plan

__all__ = ["build_keras", "KerasInfo", "keras_loss", "keras_metrics", "keras_optimizer"]


@dataclass
class KerasInfo:
    spec: Model
    plan: KPlan
    tensors: dict  # plan variable → Keras tensor (for per-layer probes)
    dtype: str

    def get_weights(self, km) -> dict[str, np.ndarray]:
        return get_canonical(self.plan, km)

    def set_weights(self, km, weights: dict[str, np.ndarray]) -> None:
        set_canonical(self.plan, km, weights)


def loss_construct(model: Model, dtype) -> Construct:
    """The spec's loss as a Keras loss (a Construct: built in memory or rendered as source)."""
    loss = model.train.loss
    k = loss.kind
    kw = {"dtype": dtype}
    if k == "mse":
        base = Construct(keras.losses.MeanSquaredError, (), kw)
    elif k == "mae":
        base = Construct(keras.losses.MeanAbsoluteError, (), kw)
    elif k == "huber":
        base = Construct(keras.losses.Huber, (), {"delta": loss.delta, **kw})
    elif k == "binary_crossentropy":
        base = Construct(keras.losses.BinaryCrossentropy, (), {"from_logits": loss.from_logits, "label_smoothing": loss.label_smoothing, **kw})
    elif k == "categorical_crossentropy":
        base = Construct(keras.losses.CategoricalCrossentropy, (), {"from_logits": loss.from_logits, "label_smoothing": loss.label_smoothing, **kw})
    elif k == "sparse_categorical_crossentropy":
        if loss.label_smoothing:
            base = Construct(SparseCategoricalCrossentropySmoothed, (), {"label_smoothing": loss.label_smoothing, "from_logits": loss.from_logits, **kw})
        else:
            base = Construct(keras.losses.SparseCategoricalCrossentropy, (), {"from_logits": loss.from_logits, **kw})
    elif k == "kl_divergence":
        base = Construct(keras.losses.KLDivergence, (), kw)
    else:  # pragma: no cover
        raise ValueError(f"no keras loss for {k}")
    if loss.logits_through is None or getattr(loss, "from_logits", False):
        return base
    # Keras takes the logits of any softmax/sigmoid output; the IR only of the matching one
    out = model.outputs[0]
    node = model.producer(out)
    act = node.op.activation_spec() if node is not None else None
    if act is not None and act.kind in ("softmax", "sigmoid") and not loss_uses_logits(model, out):
        return Construct(ProbabilityLoss, (base,), kw)
    return base


#: Keras' argmax accuracies compare class indices as floats of the output's dtype: exact for
#: indices below 2⁸ in any float (bfloat16 has 8 significant bits), below 2²⁴ in float32/64
_EXACT_INDICES = {False: 2**24, True: 2**8}
_ARGMAX_ACCURACY = {"sparse": keras.metrics.SparseCategoricalAccuracy, "categorical": keras.metrics.CategoricalAccuracy}


def metric_constructs(model: Model, half_outputs: bool = False) -> list[Construct]:
    """The spec's metrics; ``half_outputs``: the model may compute in float16/bfloat16."""
    if model.train is None:
        return []
    setup = metric_setup(model)
    classes = model.type_of(model.outputs[0]).shape[-1] if model.type_of(model.outputs[0]).rank else None
    out = []
    for m in model.train.metrics:
        if m.kind == "accuracy" and setup["mode"] in _ARGMAX_ACCURACY and isinstance(classes, int) and classes <= _EXACT_INDICES[half_outputs]:
            # argmax vs the target index / the target's argmax: Keras' own metric is the IR's
            out.append(Construct(_ARGMAX_ACCURACY[setup["mode"]], (), {"name": "accuracy"}))
        elif m.kind == "accuracy":
            out.append(Construct(SpeccAccuracy, (), {"mode": setup["mode"], "threshold": setup["threshold"]}))
        elif m.kind in ("precision", "recall", "f1"):
            mode = "binary" if setup["mode"] in ("binary", "exact") or setup["classes"] == 1 else setup["mode"]
            threshold = 0.0 if setup["threshold"] == 0.0 else m.threshold  # 0 on logits
            out.append(Construct(SpeccClassificationScore, (), {"score": m.kind, "mode": mode, "classes": setup["classes"], "average": m.average, "threshold": threshold}))
        elif m.kind == "mae":
            out.append(Construct(keras.metrics.MeanAbsoluteError, (), {"name": "mae"}))
    return out


#: the IR's hyper-parameters as Keras' optimizers name them
_KERAS_HPARAMS = {"beta1": "beta_1", "beta2": "beta_2", "initial_accumulator": "initial_accumulator_value"}


def _defaults(cls) -> dict:
    """The keyword defaults of ``cls``'s constructors (the nearest class's first)."""
    out: dict = {}
    for klass in reversed(cls.__mro__):
        if "__init__" in vars(klass):
            out.update({p.name: p.default for p in inspect.signature(vars(klass)["__init__"]).parameters.values() if p.default is not p.empty})
    return out


def _optimizer_construct(kind, lr, schedule=None, clip_norm=None, clip_value=None, weight_decay=0.0, hparams=None) -> Construct:
    cls = OPTIMIZER_CLASSES[kind]
    kw: dict = {"learning_rate": Construct(TorchSchedule, (lr,), schedule) if schedule else Construct(TorchLR, (lr,))}
    defaults = _defaults(cls)
    for k, v in (hparams or {}).items():
        k = _KERAS_HPARAMS.get(k, k)
        if k not in defaults:  # pragma: no cover - every IR hyper-parameter is a keyword of its class
            raise TypeError(f"{cls.__name__} takes no {k}")
        if defaults[k] != v or type(defaults[k]) is not type(v):
            kw[k] = v
    clip = {k: v for k, v in (("value", clip_value), ("norm", clip_norm)) if v is not None}
    if clip:
        kw["clip"] = Construct(TorchClip, (), clip)
    if weight_decay:
        kw["decay"] = Construct(TorchDecay, (), {"rate": weight_decay})
    return Construct(cls, (), kw)


def optimizer_construct(model: Model) -> Construct:
    """The kind's optimizer class (Keras' own with torch's update) with the spec's arguments:
    those equal to Keras' defaults left out, TorchClip / TorchDecay only where the spec
    clips or decays, so the generated code copies only what it uses."""
    return _optimizer_construct(**optimizer_args(model.train))


def specc_optimizer(**args) -> keras.optimizers.Optimizer:
    """The optimizer of ``specc.backends.common.optimizer_args``' keywords (``schedule``:
    the IR's schedule as a dict)."""
    return _optimizer_construct(**args).build()


def keras_loss(model: Model, dtype: str):
    return loss_construct(model, dtype).build()


def keras_metrics(model: Model, half_outputs: bool = False) -> list:
    """The metrics as ``compile`` takes them: on the first output (the IR's rule), none on
    the others (Keras refuses one flat list for several outputs)."""
    metrics = [c.build() for c in metric_constructs(model, half_outputs)]
    return metrics if len(model.outputs) == 1 else [metrics, *([] for _ in model.outputs[1:])]


def keras_optimizer(model: Model) -> keras.optimizers.Optimizer:
    return optimizer_construct(model).build()


def build_keras(model: Model, weights: dict[str, np.ndarray] | None, *, device=None, dtype: str = "float32", compile: bool = True, mixed_precision: str | None = None) -> keras.Model:
    """``mixed_precision`` ("mixed_bfloat16", "mixed_float16"): the layers' Keras dtype
    policy — float32 variables, computation in the half type; inputs and loss stay ``dtype``."""
    plan = make_plan(model)
    km, env = build_functional(plan, dtype, layer_dtype=mixed_precision)
    info = KerasInfo(model, plan, env, dtype)
    km.specc = info
    if weights is not None:
        info.set_weights(km, weights)
    if compile and model.train is not None:
        km.compile(optimizer=keras_optimizer(model), loss=keras_loss(model, dtype), metrics=keras_metrics(model, mixed_precision is not None))
    return km
