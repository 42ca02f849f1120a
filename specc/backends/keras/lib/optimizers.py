"""Optimizers and learning-rate schedules with the IR's exact semantics (self-contained:
copied into generated code, the one kind a model uses and what it needs).

Each kind is Keras' own optimizer class (its slots, hyper-parameters and config) stepping
as torch.optim does (the IR's rules, see ``specc/ir/optimizers.py``): Keras' Adam adds ε to
the raw root, its RMSprop and Adagrad add ε inside it, its SGD folds the learning rate into
the momentum buffer — only Adadelta's update is already torch's.  The learning rate is a
float64 schedule (TorchLR, TorchSchedule), as torch's Python floats (Keras keeps it in a
float32 variable, so float64 models would step with a rounded rate); the step's scalars are
computed in float64 too and rounded once to the variable's dtype, as torch rounds its
Python-float scalars.  Order per step (Keras' two hooks, then the update): gradients made
dense, clip values, clip the global norm (TorchClip), decoupled weight decay (TorchDecay),
the kind's update.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf
from keras import ops


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


@keras.saving.register_keras_serializable(package="specc")
class TorchLR(keras.optimizers.schedules.LearningRateSchedule):
    """The learning rate ``lr`` in float64, as torch keeps it (a Python float)."""

    def __init__(self, lr):
        self.lr = float(lr)

    def __call__(self, step):
        return ops.convert_to_tensor(self.lr, dtype="float64")

    def get_config(self):
        return {"lr": self.lr}


@keras.saving.register_keras_serializable(package="specc")
class TorchSchedule(TorchLR):
    """``lr`` times the IR's schedule (``kind`` step, exponential, cosine or constant and its
    parameters) before step ``step`` (0 first), in float64 as torch's schedulers compute it."""

    def __init__(self, lr, **schedule):
        super().__init__(lr)
        self.schedule = schedule

    def __call__(self, step):
        return self.lr * schedule_factor(self.schedule, ops.cast(step, "float64"))

    def get_config(self):
        return {"lr": self.lr, **self.schedule}


class OptimizerPart:
    """A part of the IR's step an optimizer is given (clipping, decay): made from its
    arguments (``config``), saved as them."""

    def __init__(self, **config):
        self.config = config

    def get_config(self):
        return dict(self.config)

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="specc")
class TorchClip(OptimizerPart):
    """The IR's gradient clipping, in its order: each value to [−``value``, ``value``], then
    the global norm to ``norm`` (torch's ``clip_grad_norm_``: scaled by
    min(1, norm / (‖g‖ + 1e-6)); Keras' ``global_clipnorm`` has no 1e-6)."""

    def __call__(self, grads):
        value, norm = self.config.get("value"), self.config.get("norm")
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
    """The IR's decoupled weight decay before the update: ``w ← w · (1 − lr · rate)``, the
    factor in float64 as torch's Python float (Keras' ``weight_decay`` computes
    ``w − w·rate·lr`` with the rate rounded through float32)."""

    def __call__(self, lr, variables):
        keep = 1.0 - ops.cast(lr, "float64") * self.config["rate"]
        for v in variables:
            v.assign(v * ops.cast(keep, v.dtype))


class TorchHooks:
    """Keras' two hooks before every kind's update, as the IR runs them: the gradients made
    dense (embeddings give IndexedSlices; torch's are dense) and clipped by ``clip`` (a
    TorchClip: Keras' ``global_clipnorm`` lacks torch's 1e-6 and takes no value clip with
    it), then the decay ``decay`` (a TorchDecay)."""

    def __init__(self, *args, clip=None, decay=None, **kwargs):
        super().__init__(*args, **kwargs)
        # each given as the object or its Keras serialization (a dict), or None
        self.clip, self.decay = (keras.saving.deserialize_keras_object(x) if isinstance(x, dict) else x for x in (clip, decay))

    def _clip_gradients(self, grads):
        grads = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]
        return self.clip(grads) if self.clip else grads

    def _apply_weight_decay(self, variables):
        if self.decay:
            self.decay(self.learning_rate, variables)

    def get_config(self):
        parts = {k: keras.saving.serialize_keras_object(getattr(self, k)) for k in ("clip", "decay") if getattr(self, k)}
        return {**super().get_config(), **parts}


# ---- the kinds: torch.optim's single-tensor code paths on Keras' own classes (their slots
# and hyper-parameters).  ``assign_add(x, d)`` / ``assign_sub(x, d)`` store exactly x ± d.
@keras.saving.register_keras_serializable(package="specc")
class TorchSGD(TorchHooks, keras.optimizers.SGD):
    """keras.optimizers.SGD stepping as torch.optim.SGD: the momentum buffer holds gradients
    (Keras': learning rate × gradients), starts as the first one and is damped by ``dampening``."""

    def __init__(self, *args, dampening=0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.dampening = dampening

    def update_step(self, gradient, variable, learning_rate):
        g = ops.cast(gradient, variable.dtype)
        if self.momentum:
            buf = self.momentums[self._get_variable_index(variable)]
            new = ops.where(self.iterations == 0, g, buf * self.momentum + g * (1.0 - self.dampening))
            self.assign(buf, new)
            g = g + new * self.momentum if self.nesterov else new
        self.assign_sub(variable, ops.cast(learning_rate, variable.dtype) * g)

    def get_config(self):
        return {**super().get_config(), "dampening": self.dampening}


@keras.saving.register_keras_serializable(package="specc")
class TorchAdam(TorchHooks, keras.optimizers.Adam):
    """keras.optimizers.Adam stepping as torch.optim.Adam: ε added to the bias-corrected
    root (Keras adds it to the raw root)."""

    def update_step(self, gradient, variable, learning_rate):
        dtype, i = variable.dtype, self._get_variable_index(variable)
        g, m, v = ops.cast(gradient, dtype), self._momentums[i], self._velocities[i]
        self.assign_add(m, (g - m) * (1.0 - self.beta_1))
        self.assign(v, v * self.beta_2 + g * g * (1.0 - self.beta_2))
        if self.amsgrad:
            self.assign(self._velocity_hats[i], ops.maximum(self._velocity_hats[i], v))
            v = self._velocity_hats[i]
        t = ops.cast(self.iterations + 1, "float64")
        step = ops.cast(ops.cast(learning_rate, "float64") / (1.0 - ops.power(self.beta_1, t)), dtype)
        root = ops.cast(ops.sqrt(1.0 - ops.power(self.beta_2, t)), dtype)
        self.assign_sub(variable, step * (m / (ops.sqrt(v) / root + self.epsilon)))


@keras.saving.register_keras_serializable(package="specc")
class TorchRMSprop(TorchHooks, keras.optimizers.RMSprop):
    """keras.optimizers.RMSprop stepping as torch.optim.RMSprop: ε added outside the root
    (Keras: inside), the learning rate outside the momentum buffer (Keras: inside)."""

    def update_step(self, gradient, variable, learning_rate):
        dtype, i, rho = variable.dtype, self._get_variable_index(variable), self.rho
        g, sq, lr = ops.cast(gradient, dtype), self._velocities[i], ops.cast(learning_rate, dtype)
        self.assign(sq, sq * rho + g * g * (1.0 - rho))
        if self.centered:
            ga = self._average_gradients[i]
            self.assign_add(ga, (g - ga) * (1.0 - rho))
            avg = ops.sqrt(sq - ga * ga) + self.epsilon
        else:
            avg = ops.sqrt(sq) + self.epsilon
        if self.momentum:
            buf = self._momentums[i]
            self.assign(buf, buf * self.momentum + g / avg)
            self.assign_sub(variable, lr * buf)
        else:
            self.assign_sub(variable, lr * (g / avg))


@keras.saving.register_keras_serializable(package="specc")
class TorchAdagrad(TorchHooks, keras.optimizers.Adagrad):
    """keras.optimizers.Adagrad stepping as torch.optim.Adagrad: ε added outside the root
    (Keras: inside), the learning rate decayed per step by ``lr_decay``, the accumulator
    started exactly (Keras' Constant initializer rounds through float32)."""

    def __init__(self, *args, lr_decay=0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.lr_decay = lr_decay

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        for s in self._accumulators:
            s.assign(ops.full(s.shape, _const(self.initial_accumulator_value, s.dtype), dtype=s.dtype))

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        g, s = ops.cast(gradient, dtype), self._accumulators[self._get_variable_index(variable)]
        t = ops.cast(self.iterations + 1, "float64")
        clr = ops.cast(ops.cast(learning_rate, "float64") / (1.0 + (t - 1.0) * self.lr_decay), dtype)
        self.assign_add(s, g * g)
        self.assign_sub(variable, clr * (g / (ops.sqrt(s) + self.epsilon)))

    def get_config(self):
        return {**super().get_config(), "lr_decay": self.lr_decay}


@keras.saving.register_keras_serializable(package="specc")
class TorchAdadelta(TorchHooks, keras.optimizers.Adadelta):
    """keras.optimizers.Adadelta: its update is torch.optim.Adadelta's."""


#: the class of each optimizer kind (AdamW: TorchAdam with a TorchDecay)
OPTIMIZER_CLASSES = {"sgd": TorchSGD, "adam": TorchAdam, "adamw": TorchAdam, "rmsprop": TorchRMSprop, "adagrad": TorchAdagrad, "adadelta": TorchAdadelta}
