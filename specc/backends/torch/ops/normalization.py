"""batch_norm → specc's BatchNorm (Keras' statistics conventions); layer_norm →
nn.LayerNorm (or specc's LayerNorm without scale/shift)."""

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
        return [CF if layouts[0] == CF else CANON]

    def lower(self, node, ins, ctx):
        op = node.op
        c = ctx.in_types[0].shape[-1]
        lay = ctx.in_layouts[0]
        kw = {"momentum": op.momentum, "eps": op.epsilon}
        if not op.center:
            kw["center"] = False
        if not op.scale:
            kw["scale"] = False
        if lay != CF:
            kw["channel_dim"] = -1
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
        c = ctx.in_types[0].shape[-1]
        if op.scale and op.center:
            construct = Construct(nn.LayerNorm, (c,), {"eps": op.epsilon})
        else:
            construct = Construct(L.LayerNorm, (c,), {"eps": op.epsilon, "scale": op.scale, "center": op.center})
        (y,) = ctx.module(construct, ins)
        ctx.done([y], [CANON])

    def to_torch(self, info: NodeInfo, w):
        return {_LN[k]: v for k, v in w.items()}

    def from_torch(self, info: NodeInfo, sd):
        inv = {v: k for k, v in _LN.items()}
        return {inv[k]: v for k, v in sd.items() if k in inv}
