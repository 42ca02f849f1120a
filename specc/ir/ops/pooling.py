"""Pooling (channels-last).

``maxpool*``/``avgpool*``: windows of ``pool`` positions moved by ``stride`` (default: the
pool size).  Padding as for convolutions.  Padded cells never win a max (they are −∞) and
are **not counted** in an average (TensorFlow's rule for 'same'; for explicit padding,
PyTorch's ``count_include_pad=False``).

``global_*pool*`` reduce every spatial axis: ``(h, w, c) → (c)``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from specc.ir.ops.base import LAYERS, Op, ShapeError, known, require_rank, spatial_what
from specc.ir.ops.padding import Padding, conv_out, normalize_padding
from specc.ir.spec import SET_BY_SPECC, positive_int_tuple
from specc.ir.types import TensorType, dims_equal


class PoolBase(Op):
    family: ClassVar[str] = "pool"
    spatial: ClassVar[int] = 2
    reduce: ClassVar[str] = "max"

    pool: tuple[int, ...] = Field(2, validate_default=True, description="window size: an integer or one per spatial axis")
    stride: tuple[int, ...] | None = Field(None, description="step of the window (default: the pool size)")
    padding: Padding = Field("valid", description="valid, same (Keras' rule), or explicit padding")
    positional = ("pool",)

    @field_validator("pool", "stride", mode="before")
    @classmethod
    def _tuples(cls, v: Any):
        if v is None:
            return None
        return positive_int_tuple(cls.spatial)(v)

    @field_validator("padding", mode="before")
    @classmethod
    def _padding(cls, v: Any):
        return normalize_padding(v, cls.spatial, allow_causal=False)

    @model_validator(mode="after")
    def _pads(self):
        if isinstance(self.padding, tuple):
            for (lo, hi), k in zip(self.padding, self.pool, strict=True):
                if max(lo, hi) * 2 > k:
                    raise ValueError("explicit padding must be at most half the pool size")
        return self

    @property
    def strides(self) -> tuple[int, ...]:
        return self.stride if self.stride is not None else self.pool

    def infer(self, ins: list[TensorType]) -> list[TensorType]:
        (x,) = ins
        what = spatial_what(self.spatial)
        require_rank(self.kind, x, (self.spatial + 1,), what)
        out = [
            conv_out(self.kind, x.shape[i], self.pool[i], self.strides[i], 1, self.padding, i)
            for i in range(self.spatial)
        ]
        return [x.with_shape(*out, x.shape[-1])]


@LAYERS.register
class MaxPool1D(PoolBase):
    """Maximum over 1-D windows."""

    kind: Literal["maxpool1d"] = "maxpool1d"
    summary: ClassVar[str] = "1-D max pooling"
    spatial: ClassVar[int] = 1


@LAYERS.register
class MaxPool2D(PoolBase):
    """Maximum over 2-D windows."""

    kind: Literal["maxpool2d"] = "maxpool2d"
    summary: ClassVar[str] = "2-D max pooling"


@LAYERS.register
class AvgPool1D(PoolBase):
    """Mean over 1-D windows (padding not counted)."""

    kind: Literal["avgpool1d"] = "avgpool1d"
    summary: ClassVar[str] = "1-D average pooling"
    spatial: ClassVar[int] = 1
    reduce: ClassVar[str] = "avg"


@LAYERS.register
class AvgPool2D(PoolBase):
    """Mean over 2-D windows (padding not counted)."""

    kind: Literal["avgpool2d"] = "avgpool2d"
    summary: ClassVar[str] = "2-D average pooling"
    reduce: ClassVar[str] = "avg"


class GlobalPoolBase(Op):
    family: ClassVar[str] = "pool"
    spatial: ClassVar[int] = 2
    reduce: ClassVar[str] = "max"

    def infer(self, ins: list[TensorType]) -> list[TensorType]:
        (x,) = ins
        what = spatial_what(self.spatial)
        require_rank(self.kind, x, (self.spatial + 1,), what)
        known(self.kind, "number of channels", x.shape[-1])
        return [x.with_shape(x.shape[-1])]


@LAYERS.register
class GlobalAvgPool1D(GlobalPoolBase):
    """Mean over time: (t, c) → (c).  With ``masked`` (set by specc where the input carries
    the padding mask of ``embedding(mask_zero=true)``) the ids are a second input and the
    mean is over the real steps only: ``Σ_t where(id_t ≠ 0, x_t, 0) / #{t: id_t ≠ 0}``
    (Keras' ``GlobalAveragePooling1D`` with a mask; an all-padding example gives 0/0)."""

    kind: Literal["global_avgpool1d"] = "global_avgpool1d"
    summary: ClassVar[str] = "mean over time"
    spatial: ClassVar[int] = 1
    reduce: ClassVar[str] = "avg"
    masked: bool = Field(False, description="reads the ids of an embedding(mask_zero=true) as a second input and averages the real steps only " + SET_BY_SPECC)

    def infer(self, ins: list[TensorType]) -> list[TensorType]:
        if self.masked:
            if len(ins) != 2 or not ins[1].is_int or len(ins[1].shape) != 1 or dims_equal(ins[1].shape[0], ins[0].shape[0]) is False:
                raise ShapeError("global_avgpool1d with masked=true reads a sequence and its ids", hint="masked is set where the input carries a padding mask; do not write it")
            ins = ins[:1]
        return super().infer(ins)


@LAYERS.register
class GlobalAvgPool2D(GlobalPoolBase):
    """Mean over height and width: (h, w, c) → (c)."""

    kind: Literal["global_avgpool2d"] = "global_avgpool2d"
    summary: ClassVar[str] = "mean over height and width"
    reduce: ClassVar[str] = "avg"


@LAYERS.register
class GlobalMaxPool1D(GlobalPoolBase):
    """Maximum over time: (t, c) → (c)."""

    kind: Literal["global_maxpool1d"] = "global_maxpool1d"
    summary: ClassVar[str] = "maximum over time"
    spatial: ClassVar[int] = 1


@LAYERS.register
class GlobalMaxPool2D(GlobalPoolBase):
    """Maximum over height and width: (h, w, c) → (c)."""

    kind: Literal["global_maxpool2d"] = "global_maxpool2d"
    summary: ClassVar[str] = "maximum over height and width"
