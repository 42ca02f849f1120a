"""conv1d / conv2d → nn.Conv1d / nn.Conv2d (channels-first inside the model).

kernel (*k, in/g, out) ↔ weight (out, in/g, *k).  Padding: symmetric padding goes to the
conv's own ``padding``; Keras' asymmetric 'same' (extra cell at the end) and explicit
asymmetric padding use specc's Conv subclass, which pads first; 'same' with stride > 1 on
a dimension unknown at build time is computed at run time."""

from __future__ import annotations

import numpy as np
from torch import nn

from specc.ir.ops.padding import pads_for

from .. import lib as L
from ..plan import CF, Construct, NodeInfo, TorchOp, torch_op


def conv_padding(op, in_shape) -> tuple[dict, type | None]:
    """(kwargs for the conv, specc class to use instead of nn's) for the IR padding."""
    n = len(op.kernel)
    pairs = [pads_for(op.padding, i, in_shape[i], op.kernel[i], op.stride[i], getattr(op, "dilation", (1,) * n)[i]) for i in range(n)]
    if any(p is None for p in pairs):
        return {"same": True}, (L.Conv1d if n == 1 else L.Conv2d)
    if all(lo == hi for lo, hi in pairs):
        pad = tuple(lo for lo, _ in pairs)
        return ({"padding": pad} if any(pad) else {}), None
    fpad: list[int] = []
    for lo, hi in reversed(pairs):  # F.pad lists the last axis first
        fpad += [lo, hi]
    return {"pad": tuple(fpad)}, (L.Conv1d if n == 1 else L.Conv2d)


def kernel_to_torch(k: np.ndarray) -> np.ndarray:
    """(*k, in, out) → (out, in, *k)."""
    n = k.ndim - 2
    return np.transpose(k, (n + 1, n, *range(n)))


def kernel_from_torch(w: np.ndarray) -> np.ndarray:
    """(out, in, *k) → (*k, in, out)."""
    n = w.ndim - 2
    return np.transpose(w, (*range(2, n + 2), 1, 0))


@torch_op
class ConvOp(TorchOp):
    kinds = ("conv1d", "conv2d")

    def accepts(self, node, layouts, types):
        return [CF]

    def lower(self, node, ins, ctx):
        op = node.op
        x = ctx.in_types[0]
        pad_kw, cls = conv_padding(op, x.shape)
        base = nn.Conv1d if op.spatial == 1 else nn.Conv2d
        kw: dict = {}  # only what differs from torch's defaults, for readable generated code
        if set(op.stride) != {1}:
            kw["stride"] = op.stride
        if set(op.dilation) != {1}:
            kw["dilation"] = op.dilation
        if op.groups != 1:
            kw["groups"] = op.groups
        if not op.use_bias:
            kw["bias"] = False
        kw.update(pad_kw)
        (y,) = ctx.module(Construct(cls or base, (x.shape[-1], op.filters, op.kernel), kw), ins)
        y = ctx.activation(op.activation, y, CF, ctx.out_types[0].rank)
        ctx.done([y], [CF])

    def to_torch(self, info: NodeInfo, w):
        out = {"weight": kernel_to_torch(w["kernel"])}
        if "bias" in w:
            out["bias"] = w["bias"]
        return out

    def from_torch(self, info: NodeInfo, sd):
        out = {"kernel": kernel_from_torch(sd["weight"])}
        if "bias" in sd:
            out["bias"] = sd["bias"]
        return out
