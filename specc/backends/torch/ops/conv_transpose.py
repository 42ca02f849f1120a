"""conv2d_transpose → nn.ConvTranspose2d, or specc's ConvTranspose2d when the IR's crop is
odd (channels-first inside the model).

The IR's output (Keras' rule) is the full transposed convolution ``(in − 1)·s + eff``
(``eff = (k − 1)·d + 1``) cropped by ``total = full − out`` rows, ``total // 2`` of them
at the start, or extended by ``−total`` rows at the end.  ``total`` does not depend on
``in``, so it is fixed when the model is built.  An even crop is torch's ``padding``; an
extension is torch's ``output_padding`` (extra rows holding the bias, as in Keras); an
odd crop needs the crop module.  kernel ``(kh, kw, out, in)`` ↔ weight
``(in, out, kh, kw)``."""

from __future__ import annotations

import numpy as np
from torch import nn

from .. import lib as L
from ..plan import CF, Construct, NodeInfo, TorchOp, torch_op


@torch_op
class ConvTransposeOp(TorchOp):
    kinds = ("conv2d_transpose",)

    def accepts(self, node, layouts, types):
        return [CF]

    def lower(self, node, ins, ctx):
        op = node.op
        # (start, end, extension) per axis; the IR's negative end is an extension
        crops = [(lo, max(hi, 0), max(-hi, 0)) for lo, hi in op.crops()]
        kw: dict = {}
        if set(op.stride) != {1}:
            kw["stride"] = op.stride
        if set(op.dilation) != {1}:
            kw["dilation"] = op.dilation
        if not op.use_bias:
            kw["bias"] = False
        ext = tuple(e for _, _, e in crops)
        if any(ext):
            kw["output_padding"] = ext
        # torch's oneDNN kernel crashes for a side of 1 extended by output_padding on a
        # channels-last input: specc's module takes its input contiguous (see lib)
        onednn_bug = any(e and k == 1 for e, k in zip(ext, op.kernel, strict=True))
        if all(lo == hi for lo, hi, _ in crops) and not onednn_bug:
            pad = tuple(lo for lo, _, _ in crops)
            if any(pad):
                kw["padding"] = pad
            cls = nn.ConvTranspose2d
        else:
            kw["crop"] = (crops[0][0], crops[0][1], crops[1][0], crops[1][1])
            cls = L.ConvTranspose2d
        (y,) = ctx.module(Construct(cls, (ctx.in_types[0].shape[-1], op.filters, op.kernel), kw), ins)
        y = ctx.activation(op.activation, y, CF, ctx.out_types[0].rank)
        ctx.done([y], [CF])

    def to_torch(self, info: NodeInfo, w):
        out = {"weight": np.transpose(w["kernel"], (3, 2, 0, 1))}
        if "bias" in w:
            out["bias"] = w["bias"]
        return out

    def from_torch(self, info: NodeInfo, sd):
        out = {"kernel": np.transpose(sd["weight"], (2, 3, 1, 0))}
        if "bias" in sd:
            out["bias"] = sd["bias"]
        return out
