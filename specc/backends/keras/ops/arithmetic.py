"""Tensor expressions → Python's operators on Keras tensors in the functional model
(``tok + pos``, ``x * 0.5``); a lower-rank operand gets its missing axes after the batch
(``keras.ops.expand_dims(b, 1)``) so that broadcasting aligns per example."""

from __future__ import annotations

from ..plan import KerasOp, keras_op


@keras_op
class ArithmeticOp(KerasOp):
    kinds = ("arithmetic",)

    def lower(self, node, ins, ctx):
        op = node.op
        if op.scalar is not None:
            ctx.done(ctx.operator(op.fn, ins, scalar=float(op.scalar), first=op.scalar_first))
            return
        ranks = [t.rank for t in ctx.in_types]
        expand = [max(ranks) - r for r in ranks]
        ctx.done(ctx.operator(op.fn, ins, expand=expand))
