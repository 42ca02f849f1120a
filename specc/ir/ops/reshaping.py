"""flatten, reshape and permute.  They reorder or regroup elements of each example in the
canonical (channels-last) order: ``flatten`` of an ``(h, w, c)`` image lists channels
fastest, as Keras does, whatever layout a backend uses internally."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from specc.ir.ops.base import LAYERS, Op, ShapeError
from specc.ir.types import TensorType, fmt_shape


@LAYERS.register
class Flatten(Op):
    """Collapse every non-batch axis into one (row-major, channels last)."""

    kind: Literal["flatten"] = "flatten"
    family: ClassVar[str] = "shape"
    integer_inputs: ClassVar[bool] = True
    summary: ClassVar[str] = "collapse all non-batch axes"

    def infer(self, ins: list[TensorType]) -> list[TensorType]:
        (x,) = ins
        return [x.with_shape(x.size())]


@LAYERS.register
class Reshape(Op):
    """Give each example a new shape with the same number of elements (one -1 allowed)."""

    kind: Literal["reshape"] = "reshape"
    family: ClassVar[str] = "shape"
    integer_inputs: ClassVar[bool] = True
    summary: ClassVar[str] = "new shape per example"
    shape: tuple[int, ...] = Field(..., description="target shape without the batch; one entry may be -1")
    positional = ("shape",)

    @field_validator("shape", mode="before")
    @classmethod
    def _shape(cls, v: Any):
        if isinstance(v, int) and not isinstance(v, bool):
            v = [v]
        if not isinstance(v, (list, tuple)) or not v:
            raise ValueError("expected a list of sizes, e.g. [4, 16]")
        if sum(1 for d in v if d == -1) > 1:
            raise ValueError("only one size may be -1")
        if any(not isinstance(d, int) or isinstance(d, bool) or (d <= 0 and d != -1) for d in v):
            raise ValueError("sizes must be positive integers (or one -1)")
        return tuple(v)

    def infer(self, ins: list[TensorType]) -> list[TensorType]:
        (x,) = ins
        n = x.size()
        fixed = 1
        for d in self.shape:
            if d != -1:
                fixed *= d
        if -1 in self.shape:
            if n is None:
                out = tuple(None if d == -1 else d for d in self.shape)
                return [x.with_shape(*out)]
            if n % fixed:
                raise ShapeError(
                    f"reshape: {n} elements per example cannot be split into {fmt_shape(self.shape)}",
                    hint=f"the known sizes multiply to {fixed}, which does not divide {n}",
                )
            return [x.with_shape(*(n // fixed if d == -1 else d for d in self.shape))]
        if n is not None and n != fixed:
            raise ShapeError(
                f"reshape: input {fmt_shape(x.shape, batch=True)} has {n} elements per example, "
                f"target {fmt_shape(self.shape, batch=True)} has {fixed}",
                hint="use -1 for the size that should be computed",
            )
        return [x.with_shape(*self.shape)]


@LAYERS.register
class Permute(Op):
    """Reorder the non-batch axes; axes are numbered from 1 (the batch is axis 0)."""

    kind: Literal["permute"] = "permute"
    family: ClassVar[str] = "shape"
    integer_inputs: ClassVar[bool] = True
    summary: ClassVar[str] = "reorder non-batch axes"
    dims: tuple[int, ...] = Field(..., description="new order of axes 1..n, e.g. [2, 1] swaps the two")
    positional = ("dims",)

    @field_validator("dims", mode="before")
    @classmethod
    def _dims(cls, v: Any):
        if (
            not isinstance(v, (list, tuple))
            or not all(isinstance(d, int) and not isinstance(d, bool) for d in v)
            or sorted(v) != list(range(1, len(v) + 1))
        ):
            raise ValueError("expected a permutation of 1..n, e.g. [2, 1]")
        return tuple(v)

    def infer(self, ins: list[TensorType]) -> list[TensorType]:
        (x,) = ins
        if len(self.dims) != x.rank:
            raise ShapeError(
                f"permute: {len(self.dims)} axes given for an input with {x.rank} non-batch axes "
                f"{fmt_shape(x.shape, batch=True)}",
                expected=f"a permutation of 1..{x.rank}",
            )
        return [x.with_shape(*(x.shape[d - 1] for d in self.dims))]
