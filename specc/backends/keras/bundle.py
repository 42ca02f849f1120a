"""What ``specc.build(spec, backend="keras")`` returns: a compiled ``keras.Model`` (the
spec's optimizer, loss, regularisers and metrics), with the canonical weights loaded.
``model.specc`` keeps the plan, for weight conversion and verification."""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from specc.backends.common import loss_uses_logits, metric_setup, optimizer_args
from specc.ir.graph import Model

from .lib.optimizers import OPTIMIZER_CLASSES, SpeccOptimizer, TorchClip, TorchDecay, TorchSchedule
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


def optimizer_construct(model: Model) -> Construct:
    """The kind's optimizer class with the spec's arguments; its defaults (``kind``, the
    hyper-parameters in ``defaults``, no schedule, clipping or decay) left out, so the
    generated code names (and copies) TorchSchedule / TorchClip / TorchDecay only when used."""
    args = optimizer_args(model.train)
    cls = OPTIMIZER_CLASSES[args.pop("kind")]
    kind = model.train.optimizer.kind
    kw: dict = {} if kind == cls.__init__.__defaults__[0] else {"kind": kind}
    kw["lr"] = args["lr"]
    if args["schedule"]:
        kw["schedule"] = Construct(TorchSchedule, (), args["schedule"])
    clip = {k: args[f"clip_{k}"] for k in ("value", "norm") if args[f"clip_{k}"] is not None}
    if clip:
        kw["clip"] = Construct(TorchClip, (), clip)
    if args["weight_decay"]:
        kw["decay"] = Construct(TorchDecay, (), {"rate": args["weight_decay"]})
    hparams = {k: v for k, v in args["hparams"].items() if cls.defaults.get(k, object()) != v}
    if hparams:
        kw["hparams"] = hparams
    return Construct(cls, (), kw)


def keras_loss(model: Model, dtype: str):
    return loss_construct(model, dtype).build()


def keras_metrics(model: Model, half_outputs: bool = False) -> list:
    """The metrics as ``compile`` takes them: on the first output (the IR's rule), none on
    the others (Keras refuses one flat list for several outputs)."""
    metrics = [c.build() for c in metric_constructs(model, half_outputs)]
    return metrics if len(model.outputs) == 1 else [metrics, *([] for _ in model.outputs[1:])]


def keras_optimizer(model: Model) -> SpeccOptimizer:
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
