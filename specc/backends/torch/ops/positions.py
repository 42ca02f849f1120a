"""positions → specc's ``positions`` function (torch.arange per example);
sinusoidal_embedding → specc's SinusoidalEmbedding (no weights)."""

from __future__ import annotations

from .. import lib as L
from ..plan import CANON, Construct, TorchOp, torch_op


@torch_op
class PositionsOp(TorchOp):
    kinds = ("positions",)

    def lower(self, node, ins, ctx):
        ctx.done([ctx.fn("positions", ins)], [CANON])


@torch_op
class SinusoidalEmbeddingOp(TorchOp):
    kinds = ("sinusoidal_embedding",)

    def lower(self, node, ins, ctx):
        kw = {} if node.op.base == 10000.0 else {"base": node.op.base}
        (y,) = ctx.module(Construct(L.SinusoidalEmbedding, (node.op.dim,), kw), ins)
        ctx.done([y], [CANON])
