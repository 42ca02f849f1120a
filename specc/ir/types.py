"""Tensor types of the IR.

**Canonical layout.**  Every IR tensor is *batch first, channels last*: images are
``(batch, height, width, channels)``, sequences ``(batch, time, features)``, as in Keras.
Shapes in the IR leave the batch dimension out: ``float32[8, 8, 1]`` is an 8×8 image with
one channel.  A dimension is an ``int``, a symbolic name (``T``: unknown, but the same
name means the same size), or ``None`` (unknown, written ``?``).
"""

from __future__ import annotations

from typing import Literal, Union

from pydantic import BaseModel, ConfigDict

__all__ = ["DType", "Dim", "TensorType", "ShapeError", "FLOAT_DTYPES", "INT_DTYPES", "dims_equal", "fmt_shape"]

DType = Literal["float16", "bfloat16", "float32", "float64", "int32", "int64", "bool"]
FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")
INT_DTYPES = ("int32", "int64")

Dim = Union[int, str, None]  # noqa: UP007 - pydantic JSON schema reads this best


class ShapeError(Exception):
    """A shape rule refused its inputs.  The elaborator adds the location."""

    def __init__(self, message: str, hint: str | None = None, expected: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.expected = expected


class TensorType(BaseModel):
    """dtype and shape (without the batch dimension) of one tensor."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    dtype: DType = "float32"
    shape: tuple[Dim, ...] = ()

    @property
    def rank(self) -> int:
        """Rank without the batch dimension."""
        return len(self.shape)

    @property
    def is_float(self) -> bool:
        return self.dtype in FLOAT_DTYPES

    @property
    def is_int(self) -> bool:
        return self.dtype in INT_DTYPES

    def with_shape(self, *shape: Dim) -> TensorType:
        return TensorType(dtype=self.dtype, shape=tuple(shape))

    def size(self) -> int | None:
        """Number of elements per example, if every dimension is known."""
        n = 1
        for d in self.shape:
            if not isinstance(d, int):
                return None
            n *= d
        return n

    def __str__(self) -> str:
        return f"{self.dtype}{fmt_shape(self.shape)}"


def fmt_shape(shape: tuple[Dim, ...], batch: bool = False) -> str:
    dims = [("?" if d is None else str(d)) for d in shape]
    if batch:
        dims.insert(0, "batch")
    return "[" + ", ".join(dims) + "]"


def dims_equal(a: Dim, b: Dim) -> bool | None:
    """True/False when decidable; None when at least one side is unknown."""
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    if isinstance(a, str) and isinstance(b, str) and a == b:
        return True
    return None


def merge_dims(a: Dim, b: Dim) -> Dim:
    """The more precise of two compatible dims."""
    if isinstance(a, int):
        return a
    if isinstance(b, int):
        return b
    return a if a is not None else b
