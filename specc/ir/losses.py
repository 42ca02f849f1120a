"""Losses.  Every loss is averaged over the batch ("sum over batch size", which equals
PyTorch's ``reduction='mean'`` for per-example losses).

* Regression losses (``mse``, ``mae``, ``huber``) average over the last axis per example,
  then over the batch — i.e. over all elements for equal shapes.
* ``categorical_crossentropy`` / ``sparse_categorical_crossentropy`` sum over the class
  axis (the last), ``binary_crossentropy`` averages over the last axis.
* With ``from_logits=false`` the prediction is a probability.  If the model's output comes
  straight from a ``softmax`` (``sigmoid`` for binary) activation, the loss is computed
  from that activation's input (the logits) with log-softmax — exactly, as Keras does.
  Otherwise probabilities are clipped to [1e-7, 1 − 1e-7] first (categorical: rescaled to
  sum to 1).
* ``label_smoothing`` ε replaces targets by ``y(1−ε) + ε/C`` (C classes; binary: C = 2).
* ``kl_divergence`` clips both sides to [1e-7, 1] and sums ``y·log(y/p)`` over the last
  axis, then averages over the batch (= torch ``kl_div(log p, y, reduction='batchmean')``
  for 2-D inputs).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from specc.ir.spec import Family, Spec

LOSSES = Family("loss")

EPSILON = 1e-7  # probability clipping, as Keras' backend.epsilon()


class LossBase(Spec):
    #: what the targets look like: "same" (same shape as the output), "class_index", "one_hot"
    target: ClassVar[str] = "same"
    #: the activation whose logits a from_logits=false loss reads through ("softmax"/"sigmoid")
    logits_through: ClassVar[str | None] = None


@LOSSES.register
class MeanSquaredError(LossBase):
    """mean((y − p)²)."""

    kind: Literal["mse"] = "mse"
    aliases = ("mean_squared_error",)


@LOSSES.register
class MeanAbsoluteError(LossBase):
    """mean(|y − p|)."""

    kind: Literal["mae"] = "mae"
    aliases = ("mean_absolute_error",)


@LOSSES.register
class Huber(LossBase):
    """½e² where |e| ≤ delta, else delta·(|e| − ½delta); mean over elements."""

    kind: Literal["huber"] = "huber"
    delta: float = Field(1.0, gt=0, le=1e6, description="where the loss turns from quadratic to linear")
    positional = ("delta",)


@LOSSES.register
class BinaryCrossentropy(LossBase):
    """−mean(y·log p + (1−y)·log(1−p)) over the last axis."""

    kind: Literal["binary_crossentropy"] = "binary_crossentropy"
    from_logits: bool = Field(False, description="the model outputs logits, not probabilities")
    label_smoothing: float = Field(0.0, ge=0, le=1, description="ε: targets become y(1−ε) + ε/2")
    logits_through = "sigmoid"


@LOSSES.register
class CategoricalCrossentropy(LossBase):
    """−Σ y·log p over the class axis (one-hot / soft targets)."""

    kind: Literal["categorical_crossentropy"] = "categorical_crossentropy"
    from_logits: bool = Field(False, description="the model outputs logits, not probabilities")
    label_smoothing: float = Field(0.0, ge=0, le=1, description="ε: targets become y(1−ε) + ε/C")
    target = "one_hot"
    logits_through = "softmax"


@LOSSES.register
class SparseCategoricalCrossentropy(LossBase):
    """−log p[class] (integer class targets)."""

    kind: Literal["sparse_categorical_crossentropy"] = "sparse_categorical_crossentropy"
    from_logits: bool = Field(False, description="the model outputs logits, not probabilities")
    label_smoothing: float = Field(0.0, ge=0, le=1, description="ε: the one-hot target becomes y(1−ε) + ε/C")
    target = "class_index"
    logits_through = "softmax"


@LOSSES.register
class KLDivergence(LossBase):
    """Σ y·log(y / p) over the last axis, both clipped to [1e-7, 1]."""

    kind: Literal["kl_divergence"] = "kl_divergence"
    aliases = ("kld",)


Loss = LOSSES.field_type()
