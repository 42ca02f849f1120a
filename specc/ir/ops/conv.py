"""conv1d and conv2d (channels-last).

Canonical weights: ``kernel`` of shape ``(*kernel_size, in_channels // groups, filters)``
(Keras' HWIO), ``bias`` of shape ``(filters,)``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from specc.ir.activations import LINEAR, Activation
from specc.ir.initializers import GLOROT_UNIFORM, ZEROS, Initializer
from specc.ir.ops.base import LAYERS, Op, ShapeError, WeightSpec, float_dtype, known, require_rank, spatial_what
from specc.ir.ops.padding import Padding, conv_out, normalize_padding
from specc.ir.regularizers import Regularizer
from specc.ir.spec import positive_int_tuple
from specc.ir.types import TensorType


class ConvBase(Op):
    """Shared by every convolution: window geometry, activation, weights' options."""

    spatial: ClassVar[int] = 2
    family: ClassVar[str] = "conv"

    kernel: tuple[int, ...] = Field(..., description="window size: an integer or one per spatial axis")
    stride: tuple[int, ...] = Field(1, validate_default=True, description="step of the window: an integer or one per spatial axis")
    padding: Padding = Field("valid", description="valid, same (Keras' rule), or explicit zeros")
    dilation: tuple[int, ...] = Field(1, validate_default=True, description="spacing of the window's taps")
    activation: Activation = Field(LINEAR, description="applied to the output")
    use_bias: bool = Field(True, description="add a learned bias")
    bias_init: Initializer = Field(ZEROS, description="initialiser of the bias")
    bias_reg: Regularizer | None = Field(None, description="penalty on the bias")

    @field_validator("kernel", "stride", "dilation", mode="before")
    @classmethod
    def _tuples(cls, v: Any) -> tuple[int, ...]:
        return positive_int_tuple(cls.spatial)(v)

    @field_validator("padding", mode="before")
    @classmethod
    def _padding(cls, v: Any) -> Padding:
        return normalize_padding(v, cls.spatial, allow_causal=cls.spatial == 1)

    def out_spatial(self, op: str, shape: tuple) -> list:
        return [
            conv_out(op, shape[i], self.kernel[i], self.stride[i], self.dilation[i], self.padding, i)
            for i in range(self.spatial)
        ]


class _Conv(ConvBase):
    filters: int = Field(..., gt=0, description="number of output channels")
    groups: int = Field(1, gt=0, description="split channels into groups convolved separately")
    init: Initializer = Field(GLOROT_UNIFORM, description="initialiser of the kernel")
    reg: Regularizer | None = Field(None, description="penalty on the kernel")
    positional = ("filters", "kernel")

    @model_validator(mode="after")
    def _groups(self):
        if self.filters % self.groups:
            raise ValueError(f"filters ({self.filters}) must be divisible by groups ({self.groups})")
        return self

    def infer(self, ins: list[TensorType]) -> list[TensorType]:
        (x,) = ins
        what = spatial_what(self.spatial)
        require_rank(self.kind, x, (self.spatial + 1,), what)
        c = known(self.kind, "number of input channels", x.shape[-1])
        if c % self.groups:
            raise ShapeError(f"{self.kind}: input channels ({c}) must be divisible by groups ({self.groups})")
        return [x.with_shape(*self.out_spatial(self.kind, x.shape), self.filters).model_copy(
            update={"dtype": float_dtype(ins)}
        )]

    def weights(self, ins: list[TensorType]) -> list[WeightSpec]:
        c = ins[0].shape[-1]
        ws = [WeightSpec("kernel", (*self.kernel, c // self.groups, self.filters), self.init, regularizer=self.reg)]
        if self.use_bias:
            ws.append(WeightSpec("bias", (self.filters,), self.bias_init, regularizer=self.bias_reg))
        return ws


@LAYERS.register
class Conv1D(_Conv):
    """1-D convolution over (time, channels)."""

    kind: Literal["conv1d"] = "conv1d"
    spatial: ClassVar[int] = 1
    summary: ClassVar[str] = "1-D convolution"


@LAYERS.register
class Conv2D(_Conv):
    """2-D convolution over (height, width, channels)."""

    kind: Literal["conv2d"] = "conv2d"
    spatial: ClassVar[int] = 2
    summary: ClassVar[str] = "2-D convolution"
