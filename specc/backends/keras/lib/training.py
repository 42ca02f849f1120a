"""Optimizers, schedules, losses and metrics with the IR's exact semantics (self-contained:
copied into generated code).

The optimizers implement PyTorch's update rules (the IR's, see ``specc/ir/optimizers.py``)
operation for operation, in the variable's own dtype — the learning rate and schedule too,
so float64 models really train in float64 (Keras' built-ins keep the learning rate in
float32).  Order per step: clip values, clip the global norm, decoupled weight decay,
update.
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
    if not schedule or schedule["kind"] == "constant":
        return ops.ones_like(t)
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
    raise ValueError(f"unknown schedule {kind}")


@keras.saving.register_keras_serializable(package="specc")
class SpeccOptimizer(keras.optimizers.Optimizer):
    """sgd, adam, adamw, rmsprop, adagrad or adadelta with PyTorch's formulas."""

    def __init__(self, kind="adam", lr=1e-3, schedule=None, clip_norm=None, clip_value=None, weight_decay=0.0, hparams=None, name=None, **kwargs):
        kwargs.pop("learning_rate", None)
        super().__init__(learning_rate=lr, name=name or f"specc_{kind}", **kwargs)
        self.kind = kind
        self.base_lr = float(lr)
        self.schedule = dict(schedule) if schedule else None
        self.clip_norm = clip_norm
        self.clip_value = clip_value
        self.decay = float(weight_decay)
        self.hparams = dict(hparams or {})

    # ---- state
    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        h, k = self.hparams, self.kind
        slots: list[str] = []
        if k == "sgd" and h.get("momentum", 0.0):
            slots = ["momentum"]
        elif k in ("adam", "adamw"):
            slots = ["m", "v"] + (["vmax"] if h.get("amsgrad") else [])
        elif k == "rmsprop":
            slots = ["square_avg"] + (["grad_avg"] if h.get("centered") else []) + (["momentum"] if h.get("momentum", 0.0) else [])
        elif k == "adagrad":
            slots = ["sum"]
        elif k == "adadelta":
            slots = ["square_avg", "acc_delta"]
        acc = float(h.get("initial_accumulator", 0.0)) if k == "adagrad" else 0.0

        def filled(shape, dtype=None):  # keras' Constant initializer would round through float32
            return ops.full(shape, _const(acc, dtype), dtype=dtype)

        self._slots = {}
        for s in slots:
            init = filled if (s == "sum" and acc) else "zeros"
            self._slots[s] = [self.add_variable_from_reference(v, s, initializer=init) for v in variables]

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
            t = ops.cast(self.iterations, dtype)
            return _const(self.base_lr, dtype) * schedule_factor(self.schedule, t)

        return self._scalar("lr", dtype, make)

    def _step_t(self, dtype):
        """The 1-based number of the step being taken, in ``dtype``."""
        return self._scalar("t", dtype, lambda: ops.cast(self.iterations + 1, dtype))

    # ---- the IR's clipping and decay (replacing Keras' own)
    def _clip_gradients(self, grads):
        grads = [None if g is None else _dense(g) for g in grads]
        if self.clip_value is not None:
            grads = [None if g is None else ops.clip(g, -self.clip_value, self.clip_value) for g in grads]
        if self.clip_norm is not None:
            real = [g for g in grads if g is not None]
            if real:
                norm = ops.sqrt(sum(ops.sum(ops.square(g)) for g in real))
                # torch's clip_grad_norm_ (the IR's rule); Keras' global_clipnorm has no 1e-6
                scale = ops.minimum(self.clip_norm / (norm + 1e-6), 1.0)
                grads = [None if g is None else g * ops.cast(scale, g.dtype) for g in grads]
        return grads

    def _apply_weight_decay(self, variables):
        if not self.decay:
            return
        for v in variables:
            keep = self._scalar("decay_keep", v.dtype, lambda v=v: 1.0 - self._lr(v.dtype) * _const(self.decay, v.dtype))
            v.assign(v * keep)

    # ---- updates (torch.optim's single-tensor code paths).  ``assign_add(x, d)`` and
    # ``assign_sub(x, d)`` store exactly ``x + d`` and ``x − d``.
    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        g = ops.cast(_dense(gradient), dtype)
        lr = self._lr(dtype)
        h, k = self.hparams, self.kind

        def c(x):
            return self._c(x, dtype)

        if k == "sgd":
            mu = h.get("momentum", 0.0)
            if mu:
                buf = self._slot("momentum", variable)
                new = ops.where(self.iterations == 0, g, buf * c(mu) + g * c(1.0 - h.get("dampening", 0.0)))
                self.assign(buf, new)
                g = g + c(mu) * new if h.get("nesterov") else new
            self.assign_sub(variable, lr * g)
        elif k in ("adam", "adamw"):
            b1, b2, eps = c(h.get("beta1", 0.9)), c(h.get("beta2", 0.999)), c(h.get("epsilon", 1e-8))
            m, v = self._slot("m", variable), self._slot("v", variable)
            self.assign_add(m, (g - m) * self._scalar("1-b1", dtype, lambda: 1.0 - b1))
            self.assign(v, v * b2 + g * g * self._scalar("1-b2", dtype, lambda: 1.0 - b2))
            t = self._step_t(dtype)
            step = self._scalar("adam_step", dtype, lambda: lr / (1.0 - ops.power(b1, t)))
            bc2_sqrt = self._scalar("adam_bc2_sqrt", dtype, lambda: ops.sqrt(1.0 - ops.power(b2, t)))
            second = v
            if h.get("amsgrad"):
                vmax = self._slot("vmax", variable)
                self.assign(vmax, ops.maximum(vmax, v))
                second = vmax
            denom = ops.sqrt(second) / bc2_sqrt + eps
            self.assign_sub(variable, step * (m / denom))
        elif k == "rmsprop":
            alpha, eps, mu = c(h.get("rho", 0.99)), c(h.get("epsilon", 1e-8)), h.get("momentum", 0.0)
            one_minus_alpha = self._scalar("1-alpha", dtype, lambda: 1.0 - alpha)
            sq = self._slot("square_avg", variable)
            self.assign(sq, sq * alpha + g * g * one_minus_alpha)
            if h.get("centered"):
                ga = self._slot("grad_avg", variable)
                self.assign_add(ga, (g - ga) * one_minus_alpha)
                avg = ops.sqrt(sq - ga * ga) + eps
            else:
                avg = ops.sqrt(sq) + eps
            if mu:
                buf = self._slot("momentum", variable)
                self.assign(buf, buf * c(mu) + g / avg)
                self.assign_sub(variable, lr * buf)
            else:
                self.assign_sub(variable, lr * (g / avg))
        elif k == "adagrad":
            eps, decay = c(h.get("epsilon", 1e-10)), c(h.get("lr_decay", 0.0))
            s = self._slot("sum", variable)
            self.assign_add(s, g * g)
            t = self._step_t(dtype)
            clr = self._scalar("adagrad_lr", dtype, lambda: lr / (1.0 + (t - 1.0) * decay))
            self.assign_sub(variable, clr * (g / (ops.sqrt(s) + eps)))
        elif k == "adadelta":
            rho, eps = c(h.get("rho", 0.9)), c(h.get("epsilon", 1e-6))
            one_minus_rho = self._scalar("1-rho", dtype, lambda: 1.0 - rho)
            sq, acc = self._slot("square_avg", variable), self._slot("acc_delta", variable)
            self.assign(sq, sq * rho + g * g * one_minus_rho)
            std = ops.sqrt(sq + eps)
            delta = ops.sqrt(acc + eps) / std * g
            self.assign(acc, acc * rho + delta * delta * one_minus_rho)
            self.assign_sub(variable, lr * delta)
        else:
            raise ValueError(f"unknown optimizer {k}")

    def get_config(self):
        cfg = super().get_config()
        cfg.update(
            kind=self.kind,
            lr=self.base_lr,
            schedule=self.schedule,
            clip_norm=self.clip_norm,
            clip_value=self.clip_value,
            weight_decay=self.decay,
            hparams=self.hparams,
        )
        for k in ("learning_rate", "weight_decay_rate"):
            cfg.pop(k, None)
        return cfg


@keras.saving.register_keras_serializable(package="specc")
class SparseCategoricalCrossentropySmoothed(keras.losses.Loss):
    """Sparse categorical cross-entropy with label smoothing (Keras' has none): the
    integer targets become smoothed one-hot ones."""

    def __init__(self, label_smoothing=0.0, from_logits=False, **kwargs):
        super().__init__(**kwargs)
        self.label_smoothing = label_smoothing
        self.from_logits = from_logits

    def call(self, y_true, y_pred):
        y_true = ops.convert_to_tensor(y_true)
        if len(y_true.shape) == len(y_pred.shape):
            y_true = ops.squeeze(y_true, -1)
        onehot = ops.one_hot(ops.cast(y_true, "int32"), ops.shape(y_pred)[-1], dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(onehot, y_pred, from_logits=self.from_logits, label_smoothing=self.label_smoothing)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing, "from_logits": self.from_logits}


@keras.saving.register_keras_serializable(package="specc")
class Penalty(keras.regularizers.Regularizer):
    """l1·Σ|w| + l2·Σw², returned in Keras' float type: Keras adds penalties to its
    compiled loss, which it keeps in that type (gradients through the cast stay exact, so
    float64 models still train in float64)."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = float(l1)
        self.l2 = float(l2)

    def __call__(self, x):
        total = 0.0
        if self.l1:
            total = total + _const(self.l1, x.dtype) * ops.sum(ops.abs(x))
        if self.l2:
            total = total + _const(self.l2, x.dtype) * ops.sum(ops.square(x))
        return ops.cast(total, keras.config.floatx())

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


@keras.saving.register_keras_serializable(package="specc")
class ProbabilityLoss(keras.losses.Loss):
    """Run a loss on the probabilities themselves: hides the logits Keras would otherwise
    take from a softmax/sigmoid output (used when the IR's rule says not to)."""

    def __init__(self, inner, **kwargs):
        super().__init__(**kwargs)
        self.inner = inner if isinstance(inner, keras.losses.Loss) else keras.losses.deserialize(inner)

    def call(self, y_true, y_pred):
        return self.inner.call(y_true, ops.identity(y_pred))

    def get_config(self):
        return {**super().get_config(), "inner": keras.losses.serialize(self.inner)}


@keras.saving.register_keras_serializable(package="specc")
class SpeccAccuracy(keras.metrics.MeanMetricWrapper):
    """Accuracy as the IR defines it for the loss in use: ``binary`` (threshold on
    probabilities, 0 on logits), ``categorical`` (argmax of one-hot targets), ``sparse``
    (argmax vs integer targets) or ``exact``."""

    def __init__(self, mode="categorical", threshold=0.5, name="accuracy", dtype=None):
        def acc(y_true, y_pred):
            if mode == "binary":
                return ops.mean(ops.cast(ops.equal(ops.cast(y_pred > threshold, "int32"), ops.cast(y_true > 0.5, "int32")), "float32"), axis=-1)
            if mode == "categorical":
                return ops.cast(ops.equal(ops.argmax(y_pred, -1), ops.argmax(y_true, -1)), "float32")
            if mode == "sparse":
                yt = ops.convert_to_tensor(y_true)
                if len(yt.shape) == len(y_pred.shape):
                    yt = ops.squeeze(yt, -1)
                return ops.cast(ops.equal(ops.argmax(y_pred, -1), ops.cast(yt, "int64")), "float32")
            return ops.mean(ops.cast(ops.equal(y_true, y_pred), "float32"), axis=-1)

        super().__init__(acc, name=name, dtype=dtype)
        self.mode = mode
        self.threshold = threshold

    def get_config(self):
        return {"mode": self.mode, "threshold": self.threshold, "name": self.name, "dtype": self.dtype}


@keras.saving.register_keras_serializable(package="specc")
class SpeccClassificationScore(keras.metrics.Metric):
    """precision, recall or f1: binary (threshold) or multi-class (argmax; macro or micro
    average over classes, a class without predictions or targets scoring 0)."""

    def __init__(self, score="f1", mode="binary", classes=2, average="macro", threshold=0.5, name=None, dtype=None):
        super().__init__(name=name or score, dtype=dtype)
        self.score, self.mode, self.classes, self.average, self.threshold = score, mode, int(classes), average, threshold
        n = 1 if mode == "binary" else self.classes
        self.tp = self.add_variable(shape=(n,), initializer="zeros", name="tp")
        self.fp = self.add_variable(shape=(n,), initializer="zeros", name="fp")
        self.fn = self.add_variable(shape=(n,), initializer="zeros", name="fn")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = ops.convert_to_tensor(y_true)
        if self.mode == "binary":
            pred = ops.reshape(ops.cast(y_pred > self.threshold, "float32"), (-1, 1))
            true = ops.reshape(ops.cast(y_true > 0.5, "float32"), (-1, 1))
        else:
            pred = ops.one_hot(ops.reshape(ops.argmax(y_pred, -1), (-1,)), self.classes, dtype="float32")
            if self.mode == "sparse":
                true = ops.one_hot(ops.reshape(ops.cast(y_true, "int32"), (-1,)), self.classes, dtype="float32")
            else:
                true = ops.one_hot(ops.reshape(ops.argmax(y_true, -1), (-1,)), self.classes, dtype="float32")
        self.tp.assign_add(ops.cast(ops.sum(pred * true, 0), self.dtype))
        self.fp.assign_add(ops.cast(ops.sum(pred * (1.0 - true), 0), self.dtype))
        self.fn.assign_add(ops.cast(ops.sum((1.0 - pred) * true, 0), self.dtype))

    def result(self):
        tp, fp, fn = self.tp, self.fp, self.fn
        if self.average == "micro" or self.mode == "binary":
            tp, fp, fn = ops.sum(tp), ops.sum(fp), ops.sum(fn)

        def div(a, b):
            return ops.where(b > 0, a / ops.maximum(b, 1e-12), ops.zeros_like(a))

        p, r = div(tp, tp + fp), div(tp, tp + fn)
        s = {"precision": p, "recall": r, "f1": div(2 * p * r, p + r)}[self.score]
        return ops.mean(s)

    def reset_state(self):
        for v in (self.tp, self.fp, self.fn):
            v.assign(ops.zeros_like(v))

    def get_config(self):
        return {"score": self.score, "mode": self.mode, "classes": self.classes, "average": self.average, "threshold": self.threshold, "name": self.name, "dtype": self.dtype}
