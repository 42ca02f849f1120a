"""dense: ``activation(x @ kernel + bias)`` over the last axis of features ``[n]`` or of a
sequence ``[t, n]`` (an image must be flattened or pooled first).

Canonical weights: ``kernel`` ``(in_features, units)`` (Keras' layout; PyTorch's
``Linear.weight`` is its transpose), ``bias`` ``(units,)``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from specc.ir.activations import LINEAR, Activation
from specc.ir.initializers import GLOROT_UNIFORM, ZEROS, Initializer
from specc.ir.ops.base import LAYERS, Op, WeightSpec, float_dtype, known, require_rank
from specc.ir.regularizers import Regularizer
from specc.ir.types import TensorType


@LAYERS.register
class Dense(Op):
    """Fully connected layer over the last axis."""

    kind: Literal["dense"] = "dense"
    family: ClassVar[str] = "dense"
    summary: ClassVar[str] = "fully connected layer"
    units: int = Field(..., gt=0, description="number of output features")
    activation: Activation = Field(LINEAR, description="applied to the output")
    use_bias: bool = Field(True, description="add a learned bias")
    init: Initializer = Field(GLOROT_UNIFORM, description="initialiser of the kernel")
    bias_init: Initializer = Field(ZEROS, description="initialiser of the bias")
    reg: Regularizer | None = Field(None, description="penalty on the kernel")
    bias_reg: Regularizer | None = Field(None, description="penalty on the bias")
    positional = ("units",)

    def infer(self, ins: list[TensorType]) -> list[TensorType]:
        (x,) = ins
        # features, or a sequence of feature vectors; an image must be flattened or pooled
        # first (a per-pixel layer is conv2d(units, kernel=1))
        require_rank(self.kind, x, (1, 2), "a vector of features or a sequence of them")
        known(self.kind, "number of input features (last axis)", x.shape[-1])
        return [TensorType(dtype=float_dtype(ins), shape=(*x.shape[:-1], self.units))]

    def weights(self, ins: list[TensorType]) -> list[WeightSpec]:
        n_in = ins[0].shape[-1]
        ws = [WeightSpec("kernel", (n_in, self.units), self.init, regularizer=self.reg)]
        if self.use_bias:
            ws.append(WeightSpec("bias", (self.units,), self.bias_init, regularizer=self.bias_reg))
        return ws
