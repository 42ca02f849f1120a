"""conv2d_transpose (channels-last).

Output size follows Keras' rule (``deconv_output_length``): with ``padding=valid``
``in·stride + max(k − stride, 0)``, with ``same`` ``in·stride``; with an explicit
``output_padding`` ``(in − 1)·stride + k − 2·pad + output_padding`` (pad = k // 2 for same).
The transposed convolution is the gradient of the matching forward convolution, so the
"full" result ``(in − 1)·stride + k`` is cropped to that size with the smaller half of the
crop at the start (TensorFlow's rule), or extended with zeros at the end when larger.

Canonical weights: ``kernel`` ``(kh, kw, filters, in_channels)`` (Keras' layout),
``bias`` ``(filters,)``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from specc.ir.initializers import GLOROT_UNIFORM, Initializer
from specc.ir.ops.base import LAYERS, WeightSpec, float_dtype, known, mul_known, require_rank, spatial_what
from specc.ir.ops.conv import ConvBase
from specc.ir.ops.padding import transpose_out
from specc.ir.regularizers import Regularizer
from specc.ir.types import TensorType


@LAYERS.register
class Conv2DTranspose(ConvBase):
    """Transposed 2-D convolution ("deconvolution")."""

    kind: Literal["conv2d_transpose"] = "conv2d_transpose"
    summary: ClassVar[str] = "transposed 2-D convolution"
    spatial: ClassVar[int] = 2
    filters: int = Field(..., gt=0, description="number of output channels")
    output_padding: tuple[int, int] | None = Field(None, description="extra rows/columns at the end of the output")
    init: Initializer = Field(GLOROT_UNIFORM, description="initialiser of the kernel")
    reg: Regularizer | None = Field(None, description="penalty on the kernel")
    positional = ("filters", "kernel")

    @field_validator("output_padding", mode="before")
    @classmethod
    def _op(cls, v: Any):
        if v is None:
            return None
        if isinstance(v, int) and not isinstance(v, bool):
            return (v, v)
        return v

    @model_validator(mode="after")
    def _check(self):
        if self.padding not in ("valid", "same"):
            raise ValueError("conv2d_transpose takes padding=valid or padding=same")
        if self.output_padding is not None:
            for op, s, d in zip(self.output_padding, self.stride, self.dilation, strict=True):
                if not 0 <= op < max(s, d):
                    raise ValueError("output_padding must be smaller than the stride (or the dilation)")
        return self

    def infer(self, ins: list[TensorType]) -> list[TensorType]:
        (x,) = ins
        require_rank(self.kind, x, (3,), spatial_what(2))
        known(self.kind, "number of input channels", x.shape[-1])
        out = [
            transpose_out(
                x.shape[i],
                self.kernel[i],
                self.stride[i],
                self.dilation[i],
                self.padding,  # type: ignore[arg-type]
                None if self.output_padding is None else self.output_padding[i],
            )
            for i in range(2)
        ]
        return [TensorType(dtype=float_dtype(ins), shape=(*out, self.filters))]

    def crops(self) -> tuple[tuple[int, int], ...]:
        """Per spatial axis, ``(start, end)``: rows removed from the full result at each
        end (``total // 2`` at the start); a negative ``end`` adds ``−end`` zero rows there.
        The amounts do not depend on the input size (the full result of one row is the
        dilated kernel)."""
        out = []
        for i in range(self.spatial):
            k, s, d = self.kernel[i], self.stride[i], self.dilation[i]
            eff = (k - 1) * d + 1
            opad = None if self.output_padding is None else self.output_padding[i]
            total = eff - transpose_out(1, k, s, d, self.padding, opad)  # type: ignore[arg-type, operator]
            out.append((total // 2, total - total // 2) if total >= 0 else (0, total))
        return tuple(out)

    def weights(self, ins: list[TensorType]) -> list[WeightSpec]:
        c = ins[0].shape[-1]
        ws = [WeightSpec("kernel", (*self.kernel, self.filters, c), self.init, regularizer=self.reg)]
        if self.use_bias:
            ws.append(WeightSpec("bias", (self.filters,), self.bias_init, regularizer=self.bias_reg))
        return ws

    def macs(self, ins: list[TensorType], outs: list[TensorType]) -> int | None:
        # each input position scatters the whole kernel; the bias is added per output position
        ws = {w.name: w.size for w in self.weights(ins)}
        k = mul_known(ws["kernel"], *ins[0].shape[:-1])
        b = mul_known(ws.get("bias", 0), *outs[0].shape[:-1])
        return None if k is None or b is None else k + b
