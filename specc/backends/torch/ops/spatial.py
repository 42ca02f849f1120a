"""upsampling1d/2d → nn.Upsample (nearest; bilinear with align_corners=False, which is
the IR's half-pixel rule), zero_padding1d/2d → nn.ZeroPad1d/2d, cropping1d/2d → specc's
Crop.  All run on channels-first tensors."""

from __future__ import annotations

from torch import nn

from .. import lib as L
from ..plan import CF, Construct, TorchOp, torch_op


@torch_op
class UpSamplingOp(TorchOp):
    kinds = ("upsampling1d", "upsampling2d")

    def accepts(self, node, layouts, types):
        return [CF]

    def lower(self, node, ins, ctx):
        op = node.op
        scale = op.size[0] if op.spatial == 1 else tuple(op.size)
        mode = getattr(op, "interpolation", "nearest")
        kw = {"scale_factor": scale, "mode": mode}
        if mode == "bilinear":
            kw["align_corners"] = False
        (y,) = ctx.module(Construct(nn.Upsample, (), kw), ins)
        ctx.done([y], [CF])


@torch_op
class ZeroPaddingOp(TorchOp):
    kinds = ("zero_padding1d", "zero_padding2d")

    def accepts(self, node, layouts, types):
        return [CF]

    def lower(self, node, ins, ctx):
        pads = node.op.padding
        if node.op.spatial == 1:
            construct = Construct(nn.ZeroPad1d, (tuple(pads[0]),))
        else:
            (top, bottom), (left, right) = pads
            construct = Construct(nn.ZeroPad2d, ((left, right, top, bottom),))
        (y,) = ctx.module(construct, ins)
        ctx.done([y], [CF])


@torch_op
class CroppingOp(TorchOp):
    kinds = ("cropping1d", "cropping2d")

    def accepts(self, node, layouts, types):
        return [CF]

    def lower(self, node, ins, ctx):
        (y,) = ctx.module(Construct(L.Crop, (tuple(tuple(p) for p in node.op.cropping),)), ins)
        ctx.done([y], [CF])
