"""embedding → nn.Embedding; the table is the same (vocab, dim) array."""

from __future__ import annotations

from torch import nn

from ..plan import CANON, Construct, NodeInfo, TorchOp, torch_op


@torch_op
class EmbeddingOp(TorchOp):
    kinds = ("embedding",)

    def lower(self, node, ins, ctx):
        (y,) = ctx.module(Construct(nn.Embedding, (node.op.vocab, node.op.dim)), ins)
        ctx.done([y], [CANON])

    def to_torch(self, info: NodeInfo, w):
        return {"weight": w["embeddings"]}

    def from_torch(self, info: NodeInfo, sd):
        return {"embeddings": sd["weight"]}
