"""activation as a layer: ``activation(relu)``, or just ``relu`` / ``softmax(axis=1)`` in a
chain."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from specc.ir.activations import Activation as ActivationFn
from specc.ir.ops.base import LAYERS, Op, norm_axis
from specc.ir.types import TensorType


@LAYERS.register
class ActivationLayer(Op):
    """Apply an activation function."""

    kind: Literal["activation"] = "activation"
    summary: ClassVar[str] = "activation function"
    fn: ActivationFn = Field(..., description="the activation, e.g. relu or leaky_relu(0.2)")
    positional = ("fn",)

    def infer(self, ins: list[TensorType]) -> list[TensorType]:
        (x,) = ins
        axis = getattr(self.fn, "axis", None)
        if axis is not None:
            norm_axis(f"{self.fn.kind}", axis, x.rank)
        return [x]

    def activation_spec(self):
        return self.fn

    def describe(self) -> str:
        return self.fn.describe()
