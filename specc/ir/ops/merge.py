"""Layers joining several tensors: ``(a, b) -> add``, ``concat(axis=-1)``, ``multiply``."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from specc.ir.ops.base import LAYERS, Op, ShapeError, check_same_shapes, float_dtype, norm_axis
from specc.ir.types import TensorType, dims_equal, fmt_shape


class _Elementwise(Op):
    arity: ClassVar[tuple[int, int | None]] = (2, None)

    def infer(self, ins: list[TensorType]) -> list[TensorType]:
        return [TensorType(dtype=float_dtype(ins), shape=check_same_shapes(self.kind, ins))]


@LAYERS.register
class Add(_Elementwise):
    """Elementwise sum of two or more tensors of one shape."""

    kind: Literal["add"] = "add"
    summary: ClassVar[str] = "elementwise sum"


@LAYERS.register
class Multiply(_Elementwise):
    """Elementwise product of two or more tensors of one shape."""

    kind: Literal["multiply"] = "multiply"
    summary: ClassVar[str] = "elementwise product"


@LAYERS.register
class Concat(Op):
    """Join tensors along an axis (default the last, i.e. channels/features)."""

    kind: Literal["concat"] = "concat"
    family: ClassVar[str] = "shape"
    summary: ClassVar[str] = "join along an axis"
    arity: ClassVar[tuple[int, int | None]] = (2, None)
    axis: int = Field(-1, description="axis to join along (batch is axis 0)")
    positional = ("axis",)

    def infer(self, ins: list[TensorType]) -> list[TensorType]:
        rank = ins[0].rank
        if any(t.rank != rank for t in ins):
            raise ShapeError(
                "concat needs inputs of the same rank, got " + " and ".join(fmt_shape(t.shape, batch=True) for t in ins)
            )
        a = norm_axis("concat", self.axis, rank)
        out = list(ins[0].shape)
        total = 0
        for t in ins:
            for i, (d0, d) in enumerate(zip(ins[0].shape, t.shape, strict=True)):
                if i != a and dims_equal(d0, d) is False:
                    raise ShapeError(
                        f"concat along axis {self.axis}: the other axes must match, got "
                        + " and ".join(fmt_shape(t.shape, batch=True) for t in ins)
                    )
            d = t.shape[a]
            total = total + d if isinstance(total, int) and isinstance(d, int) else None
        out[a] = total
        return [TensorType(dtype=float_dtype(ins), shape=tuple(out))]
