"""batch_norm → specc's BatchNorm (Keras' statistics conventions); layer_norm →
nn.LayerNorm (or specc's LayerNorm without scale/shift, or over axes that are not the
trailing ones).  Both take the canonical layout unless batch_norm normalises channels."""

from __future__ import annotations

from torch import nn

from .. import lib as L
from ..plan import CANON, CF, Construct, NodeInfo, TorchOp, torch_op

_BN = {"gamma": "weight", "beta": "bias", "moving_mean": "moving_mean", "moving_variance": "moving_var"}
_LN = {"gamma": "weight", "beta": "bias"}


@torch_op
class BatchNormOp(TorchOp):
    kinds = ("batch_norm",)

    def accepts(self, node, layouts, types):
        rank = types[0].rank
        on_channels = node.op.axes(rank) == (rank - 1,)
        return [CF if layouts[0] == CF and on_channels else CANON]

    def lower(self, node, ins, ctx):
        op = node.op
        rank = ctx.in_types[0].rank
        (a,) = op.axes(rank)
        c = ctx.in_types[0].shape[a]
        lay = ctx.in_layouts[0]
        kw = {"momentum": op.momentum, "eps": op.epsilon}
        if not op.center:
            kw["center"] = False
        if not op.scale:
            kw["scale"] = False
        if lay != CF and a == rank - 1:
            kw["channel_dim"] = -1
        elif lay != CF and a != 0:  # axis 1 (a == 0) is BatchNorm's default channel_dim
            kw["channel_dim"] = a + 1
        (y,) = ctx.module(Construct(L.BatchNorm, (c,), kw), ins)
        ctx.done([y], [lay])

    def to_torch(self, info: NodeInfo, w):
        return {_BN[k]: v for k, v in w.items()}

    def from_torch(self, info: NodeInfo, sd):
        inv = {v: k for k, v in _BN.items()}
        return {inv[k]: v for k, v in sd.items() if k in inv}


@torch_op
class LayerNormOp(TorchOp):
    kinds = ("layer_norm",)

    def lower(self, node, ins, ctx):
        op = node.op
        rank = ctx.in_types[0].rank
        axes = op.axes(rank)
        shape = op.param_shape(ctx.in_types[0])
        arg = shape[0] if len(shape) == 1 else shape
        trailing = axes == tuple(range(rank - len(axes), rank))
        if op.scale and op.center and trailing:
            construct = Construct(nn.LayerNorm, (arg,), {"eps": op.epsilon})
        else:
            kw = {"eps": op.epsilon}
            if not op.scale:
                kw["scale"] = False
            if not op.center:
                kw["center"] = False
            if not trailing:
                kw["dims"] = tuple(a + 1 for a in axes)
            construct = Construct(L.LayerNorm, (arg,), kw)
        (y,) = ctx.module(construct, ins)
        ctx.done([y], [CANON])

    def to_torch(self, info: NodeInfo, w):
        return {_LN[k]: v for k, v in w.items()}

    def from_torch(self, info: NodeInfo, sd):
        inv = {v: k for k, v in _LN.items()}
        return {inv[k]: v for k, v in sd.items() if k in inv}
