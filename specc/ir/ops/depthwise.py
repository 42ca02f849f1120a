"""depthwise_conv2d and separable_conv2d (channels-last).

depthwise_conv2d convolves each input channel with ``depth_multiplier`` filters of its
own; output channel ``c·depth_multiplier + m`` comes from input channel ``c``.
Canonical weights: ``kernel`` ``(kh, kw, in_channels, depth_multiplier)``,
``bias`` ``(in_channels·depth_multiplier,)``.

separable_conv2d is a depthwise convolution (no bias) followed by a 1×1 convolution:
``depthwise_kernel`` ``(kh, kw, in_channels, depth_multiplier)``,
``pointwise_kernel`` ``(1, 1, in_channels·depth_multiplier, filters)``, ``bias`` ``(filters,)``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from specc.ir.initializers import GLOROT_UNIFORM, Initializer
from specc.ir.ops.base import LAYERS, WeightSpec, float_dtype, known, require_rank, spatial_what
from specc.ir.ops.conv import ConvBase
from specc.ir.regularizers import Regularizer
from specc.ir.types import TensorType


@LAYERS.register
class DepthwiseConv2D(ConvBase):
    """Per-channel 2-D convolution."""

    kind: Literal["depthwise_conv2d"] = "depthwise_conv2d"
    summary: ClassVar[str] = "depthwise 2-D convolution"
    depth_multiplier: int = Field(1, gt=0, description="filters per input channel")
    init: Initializer = Field(GLOROT_UNIFORM, description="initialiser of the kernel")
    reg: Regularizer | None = Field(None, description="penalty on the kernel")
    positional = ("kernel",)

    def infer(self, ins: list[TensorType]) -> list[TensorType]:
        (x,) = ins
        require_rank(self.kind, x, (3,), spatial_what(2))
        c = known(self.kind, "number of input channels", x.shape[-1])
        return [TensorType(dtype=float_dtype(ins), shape=(*self.out_spatial(self.kind, x.shape), c * self.depth_multiplier))]

    def weights(self, ins: list[TensorType]) -> list[WeightSpec]:
        c = ins[0].shape[-1]
        ws = [WeightSpec("kernel", (*self.kernel, c, self.depth_multiplier), self.init, regularizer=self.reg)]
        if self.use_bias:
            ws.append(WeightSpec("bias", (c * self.depth_multiplier,), self.bias_init, regularizer=self.bias_reg))
        return ws


@LAYERS.register
class SeparableConv2D(ConvBase):
    """Depthwise convolution then a pointwise (1×1) convolution."""

    kind: Literal["separable_conv2d"] = "separable_conv2d"
    summary: ClassVar[str] = "depthwise-separable 2-D convolution"
    filters: int = Field(..., gt=0, description="number of output channels")
    depth_multiplier: int = Field(1, gt=0, description="depthwise filters per input channel")
    depthwise_init: Initializer = Field(GLOROT_UNIFORM, description="initialiser of the depthwise kernel")
    pointwise_init: Initializer = Field(GLOROT_UNIFORM, description="initialiser of the pointwise kernel")
    depthwise_reg: Regularizer | None = Field(None, description="penalty on the depthwise kernel")
    pointwise_reg: Regularizer | None = Field(None, description="penalty on the pointwise kernel")
    positional = ("filters", "kernel")

    def infer(self, ins: list[TensorType]) -> list[TensorType]:
        (x,) = ins
        require_rank(self.kind, x, (3,), spatial_what(2))
        known(self.kind, "number of input channels", x.shape[-1])
        return [TensorType(dtype=float_dtype(ins), shape=(*self.out_spatial(self.kind, x.shape), self.filters))]

    def weights(self, ins: list[TensorType]) -> list[WeightSpec]:
        c = ins[0].shape[-1]
        dm = self.depth_multiplier
        ws = [
            WeightSpec("depthwise_kernel", (*self.kernel, c, dm), self.depthwise_init, regularizer=self.depthwise_reg),
            WeightSpec("pointwise_kernel", (1, 1, c * dm, self.filters), self.pointwise_init, regularizer=self.pointwise_reg),
        ]
        if self.use_bias:
            ws.append(WeightSpec("bias", (self.filters,), self.bias_init, regularizer=self.bias_reg))
        return ws
