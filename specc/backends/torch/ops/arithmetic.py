"""Tensor expressions → Python's operators on torch tensors (``tok + pos``, ``x * 0.5``);
a lower-rank operand gets its missing axes after the batch (``torch.unsqueeze(b, dim=1)``)
so that broadcasting aligns per example, as the IR defines."""

from __future__ import annotations

from ..plan import CANON, TorchOp, torch_op


@torch_op
class ArithmeticOp(TorchOp):
    kinds = ("arithmetic",)

    def accepts(self, node, layouts, types):
        if len(layouts) == 1:
            return [layouts[0]]  # elementwise with a number: any layout
        same_rank = types[0].rank == types[1].rank
        if same_rank and layouts[0] == layouts[1] and layouts[0].kind != "perm":
            return list(layouts)
        return [CANON, CANON]

    def lower(self, node, ins, ctx):
        op = node.op
        if op.scalar is not None:
            y = ctx.fn(f"scalar.{op.fn}", ins, scalar=float(op.scalar), first=op.scalar_first)
            ctx.done([y], [ctx.in_layouts[0]])
            return
        ranks = [t.rank for t in ctx.in_types]
        vars_ = list(ins)
        for i in range(2):
            for _ in range(max(ranks) - ranks[i]):
                vars_[i] = ctx.fn("torch.unsqueeze", [vars_[i]], dim=1)
        y = ctx.fn(f"operator.{op.fn}", vars_)
        ctx.done([y], [ctx.in_layouts[0]])
