"""Pooling → nn.MaxPool*/nn.AvgPool* where their padding rules match the IR, else specc's
Pool (−∞ padding for max, real-cell counts for average, run-time 'same')."""

from __future__ import annotations

from torch import nn

from specc.ir.ops.padding import pads_for

from .. import lib as L
from ..plan import CANON, CF, Construct, TorchOp, torch_op


@torch_op
class PoolOp(TorchOp):
    kinds = ("maxpool1d", "maxpool2d", "avgpool1d", "avgpool2d")

    def accepts(self, node, layouts, types):
        return [CF]

    def lower(self, node, ins, ctx):
        op = node.op
        n = op.spatial
        shape = ctx.in_types[0].shape
        stride = op.strides
        pairs = [pads_for(op.padding, i, shape[i], op.pool[i], stride[i], 1) for i in range(n)]
        mode = "max" if op.reduce == "max" else "avg"
        k = op.pool if n > 1 else op.pool[0]
        s = stride if n > 1 else stride[0]
        if all(p is not None and p[0] == p[1] for p in pairs):
            pad = tuple(p[0] for p in pairs)
            cls = {("max", 1): nn.MaxPool1d, ("max", 2): nn.MaxPool2d, ("avg", 1): nn.AvgPool1d, ("avg", 2): nn.AvgPool2d}[(mode, n)]
            kw = {}
            if s != k:
                kw["stride"] = s
            if any(pad):
                kw["padding"] = pad if n > 1 else pad[0]
                if mode == "avg":
                    kw["count_include_pad"] = False
            construct = Construct(cls, (k,), kw)
        elif any(p is None for p in pairs):
            construct = Construct(L.Pool, (mode, op.pool, stride), {"same": True})
        else:
            fpad: list[int] = []
            for lo, hi in reversed(pairs):
                fpad += [lo, hi]
            construct = Construct(L.Pool, (mode, op.pool, stride), {"pad": tuple(fpad)})
        (y,) = ctx.module(construct, ins)
        ctx.done([y], [CF])


@torch_op
class GlobalPoolOp(TorchOp):
    kinds = ("global_avgpool1d", "global_avgpool2d", "global_maxpool1d", "global_maxpool2d")

    def accepts(self, node, layouts, types):
        if getattr(node.op, "masked", False):
            return [CANON, CANON]
        return [CF if layouts[0] == CF else CANON]

    def lower(self, node, ins, ctx):
        op = node.op
        n = op.spatial
        lay = ctx.in_layouts[0]
        dims = tuple(range(2, 2 + n)) if lay == CF else tuple(range(1, 1 + n))
        if getattr(op, "masked", False):  # (x, ids): the mean over the real steps (Keras' masked mean)
            ctx.done([ctx.fn("masked_mean", ins)], [CANON])
            return
        fn = "torch.mean" if op.reduce == "avg" else "torch.amax"
        y = ctx.fn(fn, ins, dim=dims)
        ctx.done([y], [CANON])
