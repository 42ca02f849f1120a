"""Losses, penalties and metrics with the IR's exact semantics where Keras' built-ins differ
(self-contained: copied into generated code; the optimizers are in ``optimizers.py``)."""

from __future__ import annotations

import keras
from keras import ops

from .optimizers import _const


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
