"""Positions of a sequence, and fixed sinusoidal encodings of them.

``positions`` takes any tensor whose first non-batch axis is time, ``[batch, T, …]``, and
gives the integer positions ``0 … T−1`` of every example (``int32[batch, T]``): the source
keras.io's transformer classifier builds with ``arange(maxlen)``.  A learned positional
embedding is then an ordinary ``embedding(vocab=maxlen, dim)`` of the positions, added to
the token embedding: ``x = tok + (tokens -> positions -> embedding(maxlen, 32))``.  The
sequence may have any length (``int32[?]``) up to that embedding's ``vocab``; a longer one
is refused at run time by both backends (an id out of range).

``sinusoidal_embedding(dim, base=10000)`` maps integer positions ``p`` to the fixed
encodings of *Attention is all you need*, interleaved:
``out[…, 2i] = sin(p·ω_i)``, ``out[…, 2i+1] = cos(p·ω_i)`` with ``ω_i = base^(−2i/dim)``
(``ω`` computed in float64, then the model's dtype: both backends use the same numbers).
No weights.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from specc.ir.ops.base import LAYERS, Op, ShapeError
from specc.ir.types import TensorType


@LAYERS.register
class Positions(Op):
    """The positions 0 … T−1 along the time axis of each example."""

    kind: Literal["positions"] = "positions"
    family: ClassVar[str] = "shape"
    summary: ClassVar[str] = "positions 0 … T−1 of a sequence (int32)"
    integer_inputs: ClassVar[bool] = True  # reads only the shape: ids or features alike
    passes_values: ClassVar[bool] = False

    def infer(self, ins: list[TensorType]) -> list[TensorType]:
        (x,) = ins
        if x.rank < 1:
            raise ShapeError("positions needs a sequence: a tensor with a time axis after the batch")
        return [TensorType(dtype="int32", shape=(x.shape[0],))]


def frequencies(dim: int, base: float) -> list[float]:
    """ω of each output feature (float64): base^(−2·⌊j/2⌋/dim)."""
    return [base ** (-(2 * (j // 2)) / dim) for j in range(dim)]


@LAYERS.register
class SinusoidalEmbedding(Op):
    """Fixed sin/cos encodings of integer positions (no weights)."""

    kind: Literal["sinusoidal_embedding"] = "sinusoidal_embedding"
    summary: ClassVar[str] = "fixed sin/cos encodings of positions"
    integer_inputs: ClassVar[bool] = True  # positions (or any integer ids), like an embedding
    passes_values: ClassVar[bool] = False
    dim: int = Field(..., gt=0, description="size of each encoding")
    base: float = Field(10000.0, gt=1, description="the wavelengths' base")
    positional = ("dim",)

    def infer(self, ins: list[TensorType]) -> list[TensorType]:
        (x,) = ins
        if not x.is_int:
            raise ShapeError(
                f"sinusoidal_embedding needs integer positions, got {x.dtype}",
                hint="feed it positions: tokens -> positions -> sinusoidal_embedding(64)",
            )
        return [TensorType(dtype="float32", shape=(*x.shape, self.dim))]
