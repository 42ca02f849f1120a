"""Tensor arithmetic written as expressions: ``x = tok + pos``, ``h = (x -> dense(8)) * 0.5``.

One node per operator: ``fn`` is ``add``, ``subtract``, ``multiply`` or ``divide``; the
operands are two tensors, or one tensor and a number (``scalar``; ``scalar_first`` for
``2 - x`` and ``1 / x``).  Unary minus is ``x · −1``.  Spec text never names this layer:
the elaborator builds it from the operators.

**Broadcasting** is NumPy's, applied to each example: the shapes *without* the batch are
aligned at their last axes, a missing leading axis counts as size 1, and an axis of size
1 stretches to the other's size; the batch axis is matched, never broadcast.  So
``[batch, 32, 32] + [batch, 32]`` adds each example's 32-vector to every row of that
example's 32×32 matrix.  Other sizes must be equal (checked when the spec is checked;
unknown sizes at run time).  Floats only, IEEE operations in the model's dtype: both
backends compute the same correctly rounded values.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from specc.ir.ops.base import LAYERS, Op, ShapeError, float_dtype
from specc.ir.types import Dim, TensorType, fmt_shape

SYMBOLS = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/"}


def broadcast_dim(a: Dim, b: Dim) -> tuple[bool, Dim]:
    """(compatible, result) of two sizes under broadcasting (None = unknown)."""
    if a == 1:
        return True, b
    if b == 1:
        return True, a
    if isinstance(a, int) and isinstance(b, int):
        return a == b, a
    if isinstance(a, int):
        return True, a  # b unknown: it must be a or 1 at run time, the result is a
    if isinstance(b, int):
        return True, b
    return True, a if a == b else None


def broadcast_shapes(a: tuple[Dim, ...], b: tuple[Dim, ...]) -> tuple[Dim, ...] | None:
    """The per-example broadcast shape, or None when the shapes cannot broadcast."""
    n = max(len(a), len(b))
    a = (1,) * (n - len(a)) + tuple(a)
    b = (1,) * (n - len(b)) + tuple(b)
    out = []
    for x, y in zip(a, b, strict=True):
        ok, d = broadcast_dim(x, y)
        if not ok:
            return None
        out.append(d)
    return tuple(out)


@LAYERS.register
class Arithmetic(Op):
    """``a + b``, ``a - b``, ``a * b``, ``a / b`` on tensors (broadcast per example) or
    with a number."""

    kind: Literal["arithmetic"] = "arithmetic"
    summary: ClassVar[str] = "tensor arithmetic (+ - * /, broadcast per example)"
    arity: ClassVar[tuple[int, int | None]] = (1, 2)
    #: built from operators in spec text, never called by name
    expression_only: ClassVar[bool] = True

    fn: Literal["add", "subtract", "multiply", "divide"] = Field(..., description="the operator")
    scalar: float | None = Field(None, description="the number operand, if one operand is a number")
    scalar_first: bool = Field(False, description="the number is the left operand (2 - x)")

    @property
    def symbol(self) -> str:
        return SYMBOLS[self.fn]

    def describe(self) -> str:
        if self.scalar is None:
            return f"a {self.symbol} b"
        s = repr(self.scalar)
        return f"{s} {self.symbol} x" if self.scalar_first else f"x {self.symbol} {s}"

    def infer(self, ins: list[TensorType]) -> list[TensorType]:
        want = 1 if self.scalar is not None else 2
        if len(ins) != want:
            raise ShapeError(f"'{self.symbol}' with {'a number' if want == 1 else 'two tensors'} takes {want} input{'s' if want > 1 else ''}")
        for t in ins:
            if not t.is_float:
                raise ShapeError(
                    f"'{self.symbol}' needs float tensors, got {t.dtype}",
                    hint="integer ids become vectors with embedding(...) first",
                )
        if want == 1:
            return [ins[0]]
        a, b = ins
        shape = broadcast_shapes(a.shape, b.shape)
        if shape is None:
            raise ShapeError(
                f"'{self.symbol}' cannot broadcast {fmt_shape(a.shape, batch=True)} and {fmt_shape(b.shape, batch=True)}",
                expected="per example, sizes aligned at the last axis must be equal or 1",
                hint="project one side to the other's size (dense / conv2d(…, kernel=1)), or reshape it so that a size 1 stretches",
            )
        return [TensorType(dtype=float_dtype(ins), shape=shape)]
