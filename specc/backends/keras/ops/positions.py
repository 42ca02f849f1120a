"""positions → specc's Positions layer; sinusoidal_embedding → specc's
SinusoidalEmbedding (Keras has neither built in)."""

from __future__ import annotations

from .. import lib as KL
from ..plan import Construct, KerasOp, keras_op


@keras_op
class PositionsOp(KerasOp):
    kinds = ("positions",)

    def lower(self, node, ins, ctx):
        ctx.done(ctx.layer(Construct(KL.Positions), ins))


@keras_op
class SinusoidalEmbeddingOp(KerasOp):
    kinds = ("sinusoidal_embedding",)

    def lower(self, node, ins, ctx):
        kw = {} if node.op.base == 10000.0 else {"base": node.op.base}
        ctx.done(ctx.layer(Construct(KL.SinusoidalEmbedding, (node.op.dim,), kw), ins))
