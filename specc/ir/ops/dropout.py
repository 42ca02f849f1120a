"""dropout: in training, zero each element with probability ``rate`` and scale the rest by
1 / (1 − rate); identity in inference.  ``specc verify`` compares it in training mode, both
backends taking their masks from one seeded source (``specc/verification/masks.py``)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from specc.ir.ops.base import LAYERS, Op
from specc.ir.types import TensorType


@LAYERS.register
class Dropout(Op):
    """Randomly zero elements during training."""

    kind: Literal["dropout"] = "dropout"
    summary: ClassVar[str] = "random zeroing in training"
    stochastic: ClassVar[bool] = True
    rate: float = Field(..., ge=0, lt=1, description="probability of zeroing an element")
    positional = ("rate",)

    def infer(self, ins: list[TensorType]) -> list[TensorType]:
        return [ins[0]]
