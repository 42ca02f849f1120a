"""upsampling1d/2d → UpSampling1D/2D (nearest) or specc's BilinearUpSampling2D (Keras'
own bilinear computes in float32 whatever the model's dtype); zero_padding1d/2d →
ZeroPadding1D/2D; cropping1d/2d → Cropping1D/2D."""

from __future__ import annotations

from keras import layers

from .. import lib as KL
from ..plan import Construct, KerasOp, keras_op


@keras_op
class UpSamplingOp(KerasOp):
    kinds = ("upsampling1d", "upsampling2d")

    def lower(self, node, ins, ctx):
        op = node.op
        if op.spatial == 1:
            construct = Construct(layers.UpSampling1D, (op.size[0],))
        elif op.interpolation == "bilinear":
            construct = Construct(KL.BilinearUpSampling2D, (tuple(op.size),))
        else:
            construct = Construct(layers.UpSampling2D, (tuple(op.size),))
        ctx.done(ctx.layer(construct, ins))


@keras_op
class ZeroPaddingOp(KerasOp):
    kinds = ("zero_padding1d", "zero_padding2d")

    def lower(self, node, ins, ctx):
        pads = tuple(tuple(p) for p in node.op.padding)
        if node.op.spatial == 1:
            construct = Construct(layers.ZeroPadding1D, (pads[0],))
        else:
            construct = Construct(layers.ZeroPadding2D, (pads,))
        ctx.done(ctx.layer(construct, ins))


@keras_op
class CroppingOp(KerasOp):
    kinds = ("cropping1d", "cropping2d")

    def lower(self, node, ins, ctx):
        crops = tuple(tuple(p) for p in node.op.cropping)
        if node.op.spatial == 1:
            construct = Construct(layers.Cropping1D, (crops[0],))
        else:
            construct = Construct(layers.Cropping2D, (crops,))
        ctx.done(ctx.layer(construct, ins))
