"""Metrics reported during training and evaluation (not differentiated).

* ``accuracy`` follows the loss: argmax match for (sparse) categorical outputs, threshold
  0.5 on probabilities (0 on logits) for binary ones, exact match otherwise.
* ``precision``, ``recall``, ``f1``: binary outputs use the threshold; multi-class outputs
  use argmax predictions and average over classes (``average=macro``, or ``micro``).
* ``mae``: mean absolute error.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from specc.ir.spec import Family, Spec

METRICS = Family("metric")


class MetricBase(Spec):
    @property
    def report_name(self) -> str:
        """The metric's key in reports and history (``f1``, ``f1_micro``, …)."""
        return self.kind + ("_micro" if getattr(self, "average", "macro") == "micro" and self.kind != "accuracy" else "")


@METRICS.register
class Accuracy(MetricBase):
    kind: Literal["accuracy"] = "accuracy"
    aliases = ("acc",)


class _Averaged(MetricBase):
    average: Literal["macro", "micro"] = Field("macro", description="how multi-class scores combine")
    threshold: float = Field(0.5, gt=0, lt=1, description="decision threshold on binary probabilities")


@METRICS.register
class Precision(_Averaged):
    kind: Literal["precision"] = "precision"


@METRICS.register
class Recall(_Averaged):
    kind: Literal["recall"] = "recall"


@METRICS.register
class F1(_Averaged):
    kind: Literal["f1"] = "f1"
    aliases = ("f1_score",)


@METRICS.register
class MeanAbsoluteErrorMetric(MetricBase):
    kind: Literal["mae"] = "mae"
    aliases = ("mean_absolute_error",)


Metric = METRICS.field_type()
