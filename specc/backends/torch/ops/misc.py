"""Layout-free and reshaping layers: activation, dropout, add, multiply, concat,
flatten, reshape, permute."""

from __future__ import annotations

import numpy as np
from torch import nn

from specc.ir.ops.base import norm_axis

from .. import lib as L
from ..activations import torch_axis
from ..plan import CANON, CF, Construct, Perm, TorchOp, torch_op


@torch_op
class ActivationOp(TorchOp):
    kinds = ("activation",)

    def accepts(self, node, layouts, types):
        return [layouts[0]]  # elementwise, or an axis we can remap

    def lower(self, node, ins, ctx):
        lay = ctx.in_layouts[0]
        y = ctx.activation(node.op.fn, ins[0], lay, ctx.in_types[0].rank)
        ctx.done([y], [lay])


@torch_op
class DropoutOp(TorchOp):
    kinds = ("dropout",)

    def accepts(self, node, layouts, types):
        return [layouts[0]]

    def lower(self, node, ins, ctx):
        (y,) = ctx.module(Construct(nn.Dropout, (node.op.rate,)), ins)
        ctx.done([y], [ctx.in_layouts[0]])


@torch_op
class ElementwiseOp(TorchOp):
    kinds = ("add", "multiply")

    def accepts(self, node, layouts, types):
        return list(layouts) if len(set(layouts)) == 1 else [CANON] * len(layouts)

    def lower(self, node, ins, ctx):
        y = ctx.fn(node.op.kind, ins)
        ctx.done([y], [ctx.in_layouts[0]])


@torch_op
class ConcatOp(TorchOp):
    kinds = ("concat",)

    def accepts(self, node, layouts, types):
        if all(lay == CF for lay in layouts):
            return list(layouts)
        return [CANON] * len(layouts)

    def lower(self, node, ins, ctx):
        rank = ctx.in_types[0].rank
        norm_axis("concat", node.op.axis, rank)
        dim = torch_axis(node.op.axis, rank, ctx.in_layouts[0])
        y = ctx.fn("concat", ins, dim=dim)
        ctx.done([y], [ctx.in_layouts[0]])


@torch_op
class FlattenOp(TorchOp):
    kinds = ("flatten",)

    def accepts(self, node, layouts, types):
        known = all(isinstance(d, int) for d in types[0].shape)
        return [CF if layouts[0] == CF and known and types[0].rank >= 2 else CANON]

    def lower(self, node, ins, ctx):
        y = ctx.fn("flatten", ins)
        shape = ctx.in_types[0].shape
        if ctx.in_layouts[0] == CF:
            c = shape[-1]
            s = int(np.prod(shape[:-1]))
            ctx.done([y], [Perm(np.arange(s * c).reshape(s, c).T.reshape(-1))])
        else:
            ctx.done([y], [CANON])


@torch_op
class ReshapeOp(TorchOp):
    kinds = ("reshape",)

    def lower(self, node, ins, ctx):
        (y,) = ctx.module(Construct(L.Reshape, (node.op.shape,)), ins)
        ctx.done([y], [CANON])


@torch_op
class PermuteOp(TorchOp):
    kinds = ("permute",)

    def lower(self, node, ins, ctx):
        (y,) = ctx.module(Construct(L.Permute, ((0, *node.op.dims),)), ins)
        ctx.done([y], [CANON])
