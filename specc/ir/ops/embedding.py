"""embedding: integer ids → rows of a ``(vocab, dim)`` table.  Default initialiser
U(−0.05, 0.05) (Keras'; PyTorch draws N(0, 1)).  Ids must lie in ``[0, vocab)``."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from specc.ir.initializers import Initializer, RandomUniform
from specc.ir.ops.base import LAYERS, Op, ShapeError, WeightSpec
from specc.ir.regularizers import Regularizer
from specc.ir.types import TensorType


@LAYERS.register
class Embedding(Op):
    """Look up a learned vector per integer id."""

    kind: Literal["embedding"] = "embedding"
    family: ClassVar[str] = "dense"
    summary: ClassVar[str] = "lookup table of learned vectors"
    vocab: int = Field(..., gt=0, description="number of distinct ids")
    dim: int = Field(..., gt=0, description="size of each vector")
    init: Initializer = Field(RandomUniform.model_construct(), description="initialiser of the table")
    reg: Regularizer | None = Field(None, description="penalty on the table")
    mask_zero: bool = Field(False, description="id 0 is padding: a recurrence reading the vectors skips those steps (Keras' mask_zero)")
    positional = ("vocab", "dim")
    integer_inputs: ClassVar[bool] = True

    def infer(self, ins: list[TensorType]) -> list[TensorType]:
        (x,) = ins
        if not x.is_int:
            raise ShapeError(
                f"embedding needs integer ids, got {x.dtype}",
                hint="declare the input as int32[...] or int64[...]",
            )
        return [TensorType(dtype="float32", shape=(*x.shape, self.dim))]

    def weights(self, ins: list[TensorType]) -> list[WeightSpec]:
        return [WeightSpec("embeddings", (self.vocab, self.dim), self.init, regularizer=self.reg)]

    def macs(self, ins: list[TensorType], outs: list[TensorType]) -> int | None:
        return 0  # a table lookup (torchinfo counts vocab·dim: the weight's size)
