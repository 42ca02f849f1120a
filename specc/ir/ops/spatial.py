"""Resizing images and sequences without weights: ``upsampling1d/2d``,
``zero_padding1d/2d``, ``cropping1d/2d`` (Keras' layers of those names, channels-last).

**upsampling** multiplies each spatial size by ``size`` (an integer, or one per axis).
``interpolation=nearest`` repeats every row/column ``size`` times.  ``bilinear`` (2-D
only) is TensorFlow's ``resize`` as Keras 3 calls it: half-pixel centres, no antialias —
output cell ``o`` of an axis of ``n`` input cells reads the source coordinate
``src = max((o + 0.5) / size − 0.5, 0)``, ``lo = floor(src)``, ``hi = min(lo + 1, n − 1)``
and is ``(1 − λ)·x[lo] + λ·x[hi]`` with ``λ = src − lo`` (rows first, then columns; the
same as PyTorch's ``interpolate(mode='bilinear', align_corners=False)``).  The IR computes
it in the tensor's dtype (Keras' own layer computes bilinear in float32 even in a float64
model, so specc's Keras lowering does not use it for bilinear).

**zero_padding** adds zeros around each spatial axis; **cropping** removes cells.  Both
take ``p`` (both sides of every axis), ``[p_h, p_w]`` (both sides of each axis) or
``[[top, bottom], [left, right]]`` (``[left, right]`` for the 1-D layers).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from specc.ir.ops.base import LAYERS, Op, ShapeError, require_rank, spatial_what
from specc.ir.spec import positive_int_tuple
from specc.ir.types import TensorType


def _pairs(v: Any, n: int) -> tuple[tuple[int, int], ...]:
    """p, [p per axis] or [[lo, hi] per axis] (1-D: [lo, hi]) → one (lo, hi) pair per axis."""
    if isinstance(v, bool):
        raise ValueError("expected a number of cells, not true/false")
    if isinstance(v, int):
        v = [v] * n
    if isinstance(v, (list, tuple)):
        items = list(v)
        if n == 1 and len(items) == 2 and all(isinstance(i, int) and not isinstance(i, bool) for i in items):
            items = [items]  # 1-D: [left, right]
        if len(items) == n:
            pairs = []
            for it in items:
                if isinstance(it, int) and not isinstance(it, bool):
                    pairs.append((it, it))
                elif isinstance(it, (list, tuple)) and len(it) == 2 and all(isinstance(i, int) and not isinstance(i, bool) for i in it):
                    pairs.append((int(it[0]), int(it[1])))
                else:
                    break
            else:
                if any(p < 0 for pair in pairs for p in pair):
                    raise ValueError("must not be negative")
                return tuple(pairs)
    if n == 1:
        raise ValueError("expected an integer or [left, right]")
    raise ValueError(f"expected an integer, a list of {n} integers, or a list of {n} [lo, hi] pairs")


class _Spatial(Op):
    family: ClassVar[str] = "shape"
    spatial: ClassVar[int] = 2

    def infer(self, ins: list[TensorType]) -> list[TensorType]:
        (x,) = ins
        require_rank(self.kind, x, (self.spatial + 1,), spatial_what(self.spatial))
        return [x.with_shape(*(self.out_size(i, x.shape[i]) for i in range(self.spatial)), x.shape[-1])]

    def out_size(self, axis: int, size):  # pragma: no cover - abstract
        raise NotImplementedError


class _UpSampling(_Spatial):
    size: tuple[int, ...] = Field(2, validate_default=True, description="factor per spatial axis: an integer or one per axis")
    positional = ("size",)

    @field_validator("size", mode="before")
    @classmethod
    def _size(cls, v: Any):
        return positive_int_tuple(cls.spatial)(v)

    def out_size(self, axis: int, size):
        return size * self.size[axis] if isinstance(size, int) else None


@LAYERS.register
class UpSampling1D(_UpSampling):
    """Repeat each time step ``size`` times."""

    kind: Literal["upsampling1d"] = "upsampling1d"
    summary: ClassVar[str] = "repeat each time step"
    spatial: ClassVar[int] = 1


@LAYERS.register
class UpSampling2D(_UpSampling):
    """Enlarge an image by integer factors: nearest (repeat) or bilinear (half-pixel)."""

    kind: Literal["upsampling2d"] = "upsampling2d"
    summary: ClassVar[str] = "enlarge an image (nearest or bilinear)"
    interpolation: Literal["nearest", "bilinear"] = Field("nearest", description="nearest or bilinear")
    positional = ("size", "interpolation")


class _Edges(_Spatial):
    """A (lo, hi) number of cells per spatial axis."""

    @classmethod
    def _convert(cls, v: Any):
        return _pairs(v, cls.spatial)


class _ZeroPadding(_Edges):
    padding: tuple[tuple[int, int], ...] = Field(1, validate_default=True, description="zeros added: p, [p_h, p_w] or [[top, bottom], [left, right]]")
    positional = ("padding",)

    @field_validator("padding", mode="before")
    @classmethod
    def _padding(cls, v: Any):
        return cls._convert(v)

    def out_size(self, axis: int, size):
        lo, hi = self.padding[axis]
        return size + lo + hi if isinstance(size, int) else None


@LAYERS.register
class ZeroPadding1D(_ZeroPadding):
    """Add zero time steps at the start and end of a sequence."""

    kind: Literal["zero_padding1d"] = "zero_padding1d"
    summary: ClassVar[str] = "zeros around a sequence"
    spatial: ClassVar[int] = 1


@LAYERS.register
class ZeroPadding2D(_ZeroPadding):
    """Add rows and columns of zeros around an image."""

    kind: Literal["zero_padding2d"] = "zero_padding2d"
    summary: ClassVar[str] = "zeros around an image"


class _Cropping(_Edges):
    cropping: tuple[tuple[int, int], ...] = Field(..., description="cells removed: c, [c_h, c_w] or [[top, bottom], [left, right]]")
    positional = ("cropping",)

    @field_validator("cropping", mode="before")
    @classmethod
    def _cropping(cls, v: Any):
        return cls._convert(v)

    def out_size(self, axis: int, size):
        lo, hi = self.cropping[axis]
        if not isinstance(size, int):
            return None
        if lo + hi >= size:
            names = ("time",) if self.spatial == 1 else ("height", "width")
            raise ShapeError(
                f"{self.kind}: cropping {lo} + {hi} cells leaves nothing of the {names[axis]} ({size})",
                hint="crop less, or crop a larger input",
            )
        return size - lo - hi


@LAYERS.register
class Cropping1D(_Cropping):
    """Remove time steps at the start and end of a sequence."""

    kind: Literal["cropping1d"] = "cropping1d"
    summary: ClassVar[str] = "remove steps at a sequence's ends"
    spatial: ClassVar[int] = 1


@LAYERS.register
class Cropping2D(_Cropping):
    """Remove rows and columns at an image's borders."""

    kind: Literal["cropping2d"] = "cropping2d"
    summary: ClassVar[str] = "remove an image's borders"
