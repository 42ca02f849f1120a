"""Optimizers and learning-rate schedules with the IR's exact semantics (self-contained:
copied into generated code, the base class and the one kind a model uses).

The optimizers implement PyTorch's update rules (the IR's, see ``specc/ir/optimizers.py``)
operation for operation, in the variable's own dtype — the learning rate and schedule too,
so float64 models really train in float64 (Keras' built-ins keep the learning rate in
float32; their Adam adds ε-hat to the raw root, their RMSprop/Adagrad add ε elsewhere, so
none computes the IR's step).  Order per step: clip values, clip the global norm,
decoupled weight decay, the kind's update.  The schedule, clipping and decay are objects
(TorchSchedule, TorchClip, TorchDecay) the optimizer is given only where the spec has them, so
generated code copies only what its spec uses.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf
from keras import ops


def _dense(g):
    """A gradient as a dense tensor: embeddings give IndexedSlices (torch's are dense)."""
    return tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g


def _const(x, dtype):
    """A Python number as a tensor of ``dtype`` — exactly (``ops.cast`` of a Python float
    goes through float32 first)."""
    return ops.convert_to_tensor(x, dtype=dtype)


def schedule_factor(schedule, t):
    """Multiplier of the base learning rate before step ``t`` (a float tensor, 0 first)."""
    kind = schedule["kind"]
    if kind == "step":
        return ops.power(_const(schedule["gamma"], t.dtype), ops.floor(t / schedule["step_size"]))
    if kind == "exponential":
        p = t / schedule["decay_steps"]
        if schedule.get("staircase"):
            p = ops.floor(p)
        return ops.power(_const(schedule["decay_rate"], t.dtype), p)
    if kind == "cosine":
        warm = schedule.get("warmup_steps", 0)
        ds = schedule["decay_steps"]
        alpha = schedule.get("alpha", 0.0)
        tt = ops.minimum(ops.maximum(t - warm, 0.0), ds)
        cos = (1.0 - alpha) * 0.5 * (1.0 + ops.cos(math.pi * tt / ds)) + alpha
        if warm:
            return ops.where(t < warm, (t + 1.0) / warm, cos)
        return cos
    if kind == "constant":
        return ops.ones_like(t)
    raise ValueError(f"unknown schedule {kind}")


class OptimizerPart:
    """A part of the IR's step an optimizer is given (schedule, clipping, decay): made from
    its arguments (``config``), saved as them."""

    def __init__(self, **config):
        self.config = config

    def get_config(self):
        return dict(self.config)

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="specc")
class TorchSchedule(OptimizerPart):
    """The IR's learning-rate schedule (``kind`` step, exponential, cosine or constant and
    its parameters): called with the step ``t`` (a float tensor, 0 first), the multiplier
    of the base rate, in ``t``'s dtype."""

    def __call__(self, t):
        return schedule_factor(self.config, t)


@keras.saving.register_keras_serializable(package="specc")
class TorchClip(OptimizerPart):
    """The IR's gradient clipping, in its order: each value to [−``value``, ``value``], then
    the global norm to ``norm`` (torch's ``clip_grad_norm_``: scaled by
    min(1, norm / (‖g‖ + 1e-6)); Keras' ``global_clipnorm`` has no 1e-6)."""

    def __call__(self, grads):
        value, norm = self.config.get("value"), self.config.get("norm")
        grads = [None if g is None else _dense(g) for g in grads]
        if value is not None:
            grads = [None if g is None else ops.clip(g, -value, value) for g in grads]
        real = [g for g in grads if g is not None]
        if norm is not None and real:
            total = ops.sqrt(sum(ops.sum(ops.square(g)) for g in real))
            scale = ops.minimum(norm / (total + 1e-6), 1.0)
            grads = [None if g is None else g * ops.cast(scale, g.dtype) for g in grads]
        return grads


@keras.saving.register_keras_serializable(package="specc")
class TorchDecay(OptimizerPart):
    """The IR's decoupled weight decay before the update: ``w ← w · (1 − lr · rate)``."""

    def __call__(self, optimizer, variables):
        rate = float(self.config["rate"])
        for v in variables:
            keep = optimizer._scalar("decay_keep", v.dtype, lambda v=v: 1.0 - optimizer._lr(v.dtype) * _const(rate, v.dtype))
            v.assign(v * keep)


@keras.saving.register_keras_serializable(package="specc")
class SpeccOptimizer(keras.optimizers.Optimizer):
    """The IR's optimizer step; a subclass per kind (``TorchSGD``, ``TorchAdam``, …) gives
    its state (``slot_names``) and update (``update_step``).  ``defaults``: the kind's
    hyper-parameters when ``hparams`` omits them.  ``schedule`` (a TorchSchedule), ``clip``
    (a TorchClip) and ``decay`` (a TorchDecay) replace Keras' own, which differ."""

    defaults: dict = {}

    def __init__(self, kind, lr=1e-3, schedule=None, clip=None, decay=None, hparams=None, name=None, **kwargs):
        kwargs.pop("learning_rate", None)
        super().__init__(learning_rate=lr, name=name or f"specc_{kind}", **kwargs)
        self.kind = kind
        self.base_lr = float(lr)
        # each given as the object or its Keras serialization (a dict), or None
        self.schedule, self.clip, self.decay = (keras.saving.deserialize_keras_object(x) if isinstance(x, dict) else x for x in (schedule, clip, decay))
        self.hparams = {**self.defaults, **(hparams or {})}

    # ---- state: the kind's slots, one per variable
    def slot_names(self):
        return []

    def slot_initializer(self, name):
        return "zeros"

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._slots = {s: [self.add_variable_from_reference(v, s, initializer=self.slot_initializer(s)) for v in variables] for s in self.slot_names()}

    def _slot(self, name, variable):
        return self._slots[name][self._get_variable_index(variable)]

    # ---- per-step scalars: made once per step and dtype, not once per variable (the
    # values are the same; the traced graph is smaller: the schedule, bias corrections and
    # constants are not repeated for every weight)
    def apply(self, grads, trainable_variables=None):
        object.__setattr__(self, "_step_scalars", {})  # not tracked: graph tensors of this step
        try:
            return super().apply(grads, trainable_variables)
        finally:
            object.__setattr__(self, "_step_scalars", None)

    def _scalar(self, key, dtype, make):
        cache = getattr(self, "_step_scalars", None)
        if cache is None:  # update_step called outside apply
            return make()
        k = (key, str(dtype))
        if k not in cache:
            cache[k] = make()
        return cache[k]

    def _c(self, x, dtype):
        return self._scalar(("const", x), dtype, lambda: _const(x, dtype))

    def _lr(self, dtype):
        def make():
            lr = _const(self.base_lr, dtype)
            return lr * self.schedule(ops.cast(self.iterations, dtype)) if self.schedule else lr

        return self._scalar("lr", dtype, make)

    def _step_t(self, dtype):
        """The 1-based number of the step being taken, in ``dtype``."""
        return self._scalar("t", dtype, lambda: ops.cast(self.iterations + 1, dtype))

    # ---- the IR's clipping and decay (Keras' hooks, called by ``apply`` before the update)
    def _clip_gradients(self, grads):
        return self.clip(grads) if self.clip else grads

    def _apply_weight_decay(self, variables):
        if self.decay:
            self.decay(self, variables)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(kind=self.kind, lr=self.base_lr, hparams=self.hparams)
        cfg.update({k: keras.saving.serialize_keras_object(getattr(self, k)) for k in ("schedule", "clip", "decay") if getattr(self, k)})
        for k in ("learning_rate", "weight_decay_rate"):
            cfg.pop(k, None)
        return cfg


# ---- the kinds (torch.optim's single-tensor code paths).  ``assign_add(x, d)`` and
# ``assign_sub(x, d)`` store exactly ``x + d`` and ``x − d``.
@keras.saving.register_keras_serializable(package="specc")
class TorchSGD(SpeccOptimizer):
    """torch.optim.SGD: the momentum buffer starts as the first gradient."""

    defaults = {"momentum": 0.0, "dampening": 0.0, "nesterov": False}

    def __init__(self, kind="sgd", **kwargs):
        super().__init__(kind, **kwargs)

    def slot_names(self):
        return ["momentum"] if self.hparams["momentum"] else []

    def update_step(self, gradient, variable, learning_rate):
        dtype, h = variable.dtype, self.hparams
        g = ops.cast(_dense(gradient), dtype)
        mu = h["momentum"]
        if mu:
            buf = self._slot("momentum", variable)
            new = ops.where(self.iterations == 0, g, buf * self._c(mu, dtype) + g * self._c(1.0 - h["dampening"], dtype))
            self.assign(buf, new)
            g = g + self._c(mu, dtype) * new if h["nesterov"] else new
        self.assign_sub(variable, self._lr(dtype) * g)


@keras.saving.register_keras_serializable(package="specc")
class TorchAdam(SpeccOptimizer):
    """torch.optim.Adam / AdamW (``kind="adamw"``: the decoupled decay is the base's):
    ε is added to the bias-corrected root."""

    defaults = {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "amsgrad": False}

    def __init__(self, kind="adam", **kwargs):
        super().__init__(kind, **kwargs)

    def slot_names(self):
        return ["m", "v"] + (["vmax"] if self.hparams["amsgrad"] else [])

    def update_step(self, gradient, variable, learning_rate):
        dtype, h = variable.dtype, self.hparams
        g = ops.cast(_dense(gradient), dtype)
        lr = self._lr(dtype)
        b1, b2, eps = self._c(h["beta1"], dtype), self._c(h["beta2"], dtype), self._c(h["epsilon"], dtype)
        m, v = self._slot("m", variable), self._slot("v", variable)
        self.assign_add(m, (g - m) * self._scalar("1-b1", dtype, lambda: 1.0 - b1))
        self.assign(v, v * b2 + g * g * self._scalar("1-b2", dtype, lambda: 1.0 - b2))
        t = self._step_t(dtype)
        step = self._scalar("adam_step", dtype, lambda: lr / (1.0 - ops.power(b1, t)))
        bc2_sqrt = self._scalar("adam_bc2_sqrt", dtype, lambda: ops.sqrt(1.0 - ops.power(b2, t)))
        second = v
        if h["amsgrad"]:
            vmax = self._slot("vmax", variable)
            self.assign(vmax, ops.maximum(vmax, v))
            second = vmax
        denom = ops.sqrt(second) / bc2_sqrt + eps
        self.assign_sub(variable, step * (m / denom))


@keras.saving.register_keras_serializable(package="specc")
class TorchRMSprop(SpeccOptimizer):
    """torch.optim.RMSprop: ε is added outside the root."""

    defaults = {"rho": 0.99, "epsilon": 1e-8, "momentum": 0.0, "centered": False}

    def __init__(self, kind="rmsprop", **kwargs):
        super().__init__(kind, **kwargs)

    def slot_names(self):
        h = self.hparams
        return ["square_avg"] + (["grad_avg"] if h["centered"] else []) + (["momentum"] if h["momentum"] else [])

    def update_step(self, gradient, variable, learning_rate):
        dtype, h = variable.dtype, self.hparams
        g = ops.cast(_dense(gradient), dtype)
        lr = self._lr(dtype)
        alpha, eps, mu = self._c(h["rho"], dtype), self._c(h["epsilon"], dtype), h["momentum"]
        one_minus_alpha = self._scalar("1-alpha", dtype, lambda: 1.0 - alpha)
        sq = self._slot("square_avg", variable)
        self.assign(sq, sq * alpha + g * g * one_minus_alpha)
        if h["centered"]:
            ga = self._slot("grad_avg", variable)
            self.assign_add(ga, (g - ga) * one_minus_alpha)
            avg = ops.sqrt(sq - ga * ga) + eps
        else:
            avg = ops.sqrt(sq) + eps
        if mu:
            buf = self._slot("momentum", variable)
            self.assign(buf, buf * self._c(mu, dtype) + g / avg)
            self.assign_sub(variable, lr * buf)
        else:
            self.assign_sub(variable, lr * (g / avg))


@keras.saving.register_keras_serializable(package="specc")
class TorchAdagrad(SpeccOptimizer):
    """torch.optim.Adagrad: ε outside the root, the learning rate decayed per step."""

    defaults = {"epsilon": 1e-10, "lr_decay": 0.0, "initial_accumulator": 0.0}

    def __init__(self, kind="adagrad", **kwargs):
        super().__init__(kind, **kwargs)

    def slot_names(self):
        return ["sum"]

    def slot_initializer(self, name):
        acc = float(self.hparams["initial_accumulator"])

        def filled(shape, dtype=None):  # keras' Constant initializer would round through float32
            return ops.full(shape, _const(acc, dtype), dtype=dtype)

        return filled if acc else "zeros"

    def update_step(self, gradient, variable, learning_rate):
        dtype, h = variable.dtype, self.hparams
        g = ops.cast(_dense(gradient), dtype)
        lr = self._lr(dtype)
        eps, decay = self._c(h["epsilon"], dtype), self._c(h["lr_decay"], dtype)
        s = self._slot("sum", variable)
        self.assign_add(s, g * g)
        t = self._step_t(dtype)
        clr = self._scalar("adagrad_lr", dtype, lambda: lr / (1.0 + (t - 1.0) * decay))
        self.assign_sub(variable, clr * (g / (ops.sqrt(s) + eps)))


@keras.saving.register_keras_serializable(package="specc")
class TorchAdadelta(SpeccOptimizer):
    """torch.optim.Adadelta."""

    defaults = {"rho": 0.9, "epsilon": 1e-6}

    def __init__(self, kind="adadelta", **kwargs):
        super().__init__(kind, **kwargs)

    def slot_names(self):
        return ["square_avg", "acc_delta"]

    def update_step(self, gradient, variable, learning_rate):
        dtype, h = variable.dtype, self.hparams
        g = ops.cast(_dense(gradient), dtype)
        rho, eps = self._c(h["rho"], dtype), self._c(h["epsilon"], dtype)
        one_minus_rho = self._scalar("1-rho", dtype, lambda: 1.0 - rho)
        sq, acc = self._slot("square_avg", variable), self._slot("acc_delta", variable)
        self.assign(sq, sq * rho + g * g * one_minus_rho)
        std = ops.sqrt(sq + eps)
        delta = ops.sqrt(acc + eps) / std * g
        self.assign(acc, acc * rho + delta * delta * one_minus_rho)
        self.assign_sub(variable, self._lr(dtype) * delta)


#: the class of each optimizer kind
OPTIMIZER_CLASSES = {"sgd": TorchSGD, "adam": TorchAdam, "adamw": TorchAdam, "rmsprop": TorchRMSprop, "adagrad": TorchAdagrad, "adadelta": TorchAdadelta}


def specc_optimizer(kind="adam", schedule=None, clip_norm=None, clip_value=None, weight_decay=0.0, **kwargs):
    """The optimizer of ``kind`` from ``specc.backends.common.optimizer_args``' keywords
    (``schedule``: the IR's schedule as a dict)."""
    clip = {k: v for k, v in (("value", clip_value), ("norm", clip_norm)) if v is not None}
    clip, decay = TorchClip(**clip) if clip else None, TorchDecay(rate=weight_decay) if weight_decay else None
    return OPTIMIZER_CLASSES[kind](kind=kind, schedule=TorchSchedule(**schedule) if schedule else None, clip=clip, decay=decay, **kwargs)
