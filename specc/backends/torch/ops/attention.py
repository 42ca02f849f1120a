"""multi_head_attention → specc's MultiHeadAttention (``lib/attention.py``): ``nn.Linear``
projections around ``F.scaled_dot_product_attention``.

Canonical einsum kernels ↔ ``nn.Linear`` weights: query/key/value ``(E, heads, d)`` →
``reshape(E, heads·d).T``; biases ``(heads, d)`` → ``reshape(heads·d)``; output kernel
``(heads, vd, Eo)`` → ``reshape(heads·vd, Eo).T``."""

from __future__ import annotations

import numpy as np

from .. import lib as L
from ..plan import CANON, Construct, NodeInfo, TorchOp, torch_op

_PROJ = ("query", "key", "value")


@torch_op
class MultiHeadAttentionOp(TorchOp):
    kinds = ("multi_head_attention",)

    def lower(self, node, ins, ctx):
        op = node.op
        q, v, k = op.qvk(op.data(ctx.in_types))
        out = ctx.out_types[0].shape[-1]
        args = (q.shape[-1], k.shape[-1], v.shape[-1], op.heads, op.key_dim, op.vdim, out)
        kw: dict = {}
        if op.dropout:
            kw["dropout"] = float(op.dropout)
        if op.causal:
            kw["causal"] = True
        if not op.use_bias:
            kw["bias"] = False
        if op.masks:  # (query, value, key, *ids): every data input given, then the ids
            kw["masks"] = tuple(op.masks)
            data = op.data(ins)
            ins = [*op.qvk(data), *ins[len(data) :]]
        (y,) = ctx.module(Construct(L.MultiHeadAttention, args, kw), ins)
        ctx.done([y], [CANON])

    def to_torch(self, info: NodeInfo, w):
        out: dict[str, np.ndarray] = {}
        for name in _PROJ:
            kern = w[f"{name}_kernel"]
            out[f"{name}.weight"] = kern.reshape(kern.shape[0], -1).T
            if f"{name}_bias" in w:
                out[f"{name}.bias"] = w[f"{name}_bias"].reshape(-1)
        ok = w["output_kernel"]
        out["output.weight"] = ok.reshape(-1, ok.shape[-1]).T
        if "output_bias" in w:
            out["output.bias"] = w["output_bias"]
        return out

    def from_torch(self, info: NodeInfo, sd):
        op = info.node.op
        h = op.heads
        out: dict[str, np.ndarray] = {}
        for name, d in (("query", op.key_dim), ("key", op.key_dim), ("value", op.vdim)):
            wt = sd[f"{name}.weight"]
            out[f"{name}_kernel"] = wt.T.reshape(wt.shape[1], h, d)
            if f"{name}.bias" in sd:
                out[f"{name}_bias"] = sd[f"{name}.bias"].reshape(h, d)
        wo = sd["output.weight"]
        out["output_kernel"] = wo.T.reshape(h, op.vdim, wo.shape[0])
        if "output.bias" in sd:
            out["output_bias"] = sd["output.bias"]
        return out
