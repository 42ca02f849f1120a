"""depthwise_conv2d → grouped nn.Conv2d (groups = C, C·dm outputs); separable_conv2d →
specc's SeparableConv2d (that depthwise convolution without bias, then a 1×1 convolution
with the only bias).  Padding as for conv2d (``conv_padding``: asymmetric 'same',
explicit, run-time 'same').

Torch's grouped output channel ``c·dm + m`` is computed from input channel ``c``, as in
the IR, so the depthwise kernel ``(kh, kw, C, dm)`` ↔ weight ``(C·dm, 1, kh, kw)`` is a
transpose and a reshape; the pointwise kernel ``(1, 1, C·dm, F)`` ↔ ``(F, C·dm, 1, 1)``."""

from __future__ import annotations

import numpy as np
from torch import nn

from .. import lib as L
from ..plan import CF, Construct, NodeInfo, TorchOp, torch_op
from .conv import conv_padding, kernel_from_torch, kernel_to_torch


def depthwise_to_torch(k: np.ndarray) -> np.ndarray:
    """(kh, kw, C, dm) → (C·dm, 1, kh, kw)."""
    kh, kw, c, dm = k.shape
    return np.transpose(k, (2, 3, 0, 1)).reshape(c * dm, 1, kh, kw)


def depthwise_from_torch(w: np.ndarray, dm: int) -> np.ndarray:
    """(C·dm, 1, kh, kw) → (kh, kw, C, dm)."""
    cdm, _, kh, kw = w.shape
    return np.transpose(w.reshape(cdm // dm, dm, kh, kw), (2, 3, 0, 1))


def _depthwise(op, x, bias: bool) -> Construct:
    c = x.shape[-1]
    pad_kw, cls = conv_padding(op, x.shape)
    kw: dict = {}
    if set(op.stride) != {1}:
        kw["stride"] = op.stride
    if set(op.dilation) != {1}:
        kw["dilation"] = op.dilation
    kw["groups"] = c
    if not bias:
        kw["bias"] = False
    kw.update(pad_kw)
    return Construct(cls or nn.Conv2d, (c, c * op.depth_multiplier, op.kernel), kw)


@torch_op
class DepthwiseOp(TorchOp):
    kinds = ("depthwise_conv2d",)

    def accepts(self, node, layouts, types):
        return [CF]

    def lower(self, node, ins, ctx):
        op = node.op
        (y,) = ctx.module(_depthwise(op, ctx.in_types[0], op.use_bias), ins)
        y = ctx.activation(op.activation, y, CF, ctx.out_types[0].rank)
        ctx.done([y], [CF])

    def to_torch(self, info: NodeInfo, w):
        out = {"weight": depthwise_to_torch(w["kernel"])}
        if "bias" in w:
            out["bias"] = w["bias"]
        return out

    def from_torch(self, info: NodeInfo, sd):
        out = {"kernel": depthwise_from_torch(sd["weight"], info.node.op.depth_multiplier)}
        if "bias" in sd:
            out["bias"] = sd["bias"]
        return out


@torch_op
class SeparableOp(TorchOp):
    kinds = ("separable_conv2d",)

    def accepts(self, node, layouts, types):
        return [CF]

    def lower(self, node, ins, ctx):
        op = node.op
        x = ctx.in_types[0]
        cdm = x.shape[-1] * op.depth_multiplier
        pw_kw = {} if op.use_bias else {"bias": False}
        pointwise = Construct(nn.Conv2d, (cdm, op.filters, 1), pw_kw)
        (y,) = ctx.module(Construct(L.SeparableConv2d, (_depthwise(op, x, False), pointwise)), ins)
        y = ctx.activation(op.activation, y, CF, ctx.out_types[0].rank)
        ctx.done([y], [CF])

    def to_torch(self, info: NodeInfo, w):
        out = {
            "depthwise.weight": depthwise_to_torch(w["depthwise_kernel"]),
            "pointwise.weight": kernel_to_torch(w["pointwise_kernel"]),
        }
        if "bias" in w:
            out["pointwise.bias"] = w["bias"]
        return out

    def from_torch(self, info: NodeInfo, sd):
        out = {
            "depthwise_kernel": depthwise_from_torch(sd["depthwise.weight"], info.node.op.depth_multiplier),
            "pointwise_kernel": kernel_from_torch(sd["pointwise.weight"]),
        }
        if "pointwise.bias" in sd:
            out["bias"] = sd["pointwise.bias"]
        return out
