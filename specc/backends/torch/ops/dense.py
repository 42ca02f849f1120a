"""dense → nn.Linear (+ activation).  kernel (in, out) ↔ weight (out, in).  After a
flatten of a channels-first image the input features arrive in channels-first order:
the kernel's rows are permuted to match, so the flatten costs nothing."""

from __future__ import annotations

import numpy as np
from torch import nn

from ..plan import CANON, Construct, NodeInfo, TorchOp, torch_op


@torch_op
class DenseOp(TorchOp):
    kinds = ("dense",)

    def accepts(self, node, layouts, types):
        if types[0].rank == 1 and layouts[0].kind == "perm":
            return [layouts[0]]
        return [CANON]

    def lower(self, node, ins, ctx):
        op = node.op
        n_in = ctx.in_types[0].shape[-1]
        (y,) = ctx.module(Construct(nn.Linear, (n_in, op.units), {} if op.use_bias else {"bias": False}), ins)
        y = ctx.activation(op.activation, y, CANON, ctx.out_types[0].rank)
        ctx.done([y], [CANON])

    def to_torch(self, info: NodeInfo, w):
        k = w["kernel"]
        lay = info.in_layouts[0]
        if lay.kind == "perm":
            k = k[np.asarray(lay.perm)]
        out = {"weight": k.T}
        if "bias" in w:
            out["bias"] = w["bias"]
        return out

    def from_torch(self, info: NodeInfo, sd):
        k = sd["weight"].T
        lay = info.in_layouts[0]
        if lay.kind == "perm":
            canon = np.empty_like(k)
            canon[np.asarray(lay.perm)] = k
            k = canon
        out = {"kernel": k}
        if "bias" in sd:
            out["bias"] = sd["bias"]
        return out
