"""Weight penalties added to the training loss: ``l1 · Σ|w| + l2 · Σw²`` (no ½ factor, as
Keras).  Both backends add them to the loss they differentiate, so they show in the loss
value and in every gradient."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from specc.ir.spec import Family, Spec

REGULARIZERS = Family("regularizer")


class RegularizerBase(Spec):
    @property
    def l1_coef(self) -> float:
        return float(getattr(self, "l1", 0.0))

    @property
    def l2_coef(self) -> float:
        return float(getattr(self, "l2", 0.0))


@REGULARIZERS.register
class L1(RegularizerBase):
    """l1 · Σ|w|."""

    kind: Literal["l1"] = "l1"
    l1: float = Field(0.01, ge=0, le=1e6, description="coefficient of Σ|w|")
    positional = ("l1",)


@REGULARIZERS.register
class L2(RegularizerBase):
    """l2 · Σw²."""

    kind: Literal["l2"] = "l2"
    l2: float = Field(0.01, ge=0, le=1e6, description="coefficient of Σw²")
    positional = ("l2",)


@REGULARIZERS.register
class L1L2(RegularizerBase):
    """l1 · Σ|w| + l2 · Σw²."""

    kind: Literal["l1_l2"] = "l1_l2"
    l1: float = Field(0.0, ge=0, le=1e6, description="coefficient of Σ|w|")
    l2: float = Field(0.0, ge=0, le=1e6, description="coefficient of Σw²")
    positional = ("l1", "l2")


Regularizer = REGULARIZERS.field_type()


def penalty_value(model, weights) -> float:
    """Σ over regularised weights of l1·Σ|w| + l2·Σw², in float64, from canonical weights."""
    import numpy as np

    total = 0.0
    for node, w in model.weights():
        reg = w.regularizer
        if reg is None or not (w.trainable and node.trainable):
            continue
        value = np.asarray(weights[f"{node.name}.{w.name}"], dtype=np.float64)
        total += reg.l1_coef * float(np.abs(value).sum()) + reg.l2_coef * float(np.square(value).sum())
    return total
