"""conv2d_transpose → ``keras.layers.Conv2DTranspose`` where it computes the IR's result,
else specc's ConvTranspose2D (``lib/conv_transpose.py``): dilation > 1 (TensorFlow's CPU
kernels refuse it in float64, and Keras refuses it with stride > 1), output_padding ≥
stride (Keras refuses it; the IR allows it below the dilation), and 'same' with an even
dilated kernel and output_padding 0 (TensorFlow's size check refuses it).  The kernel
``(kh, kw, filters, in)`` is Keras' own."""

from __future__ import annotations

from keras import layers

from .. import lib as KL
from ..activations import keras_activation
from ..plan import Construct, KerasOp, keras_op
from .basic import KERNEL_REGS, regularizers


def native(op) -> bool:
    """Whether Conv2DTranspose runs this op as the IR means it."""
    if set(op.dilation) != {1}:
        return False
    if op.output_padding is None:
        return True
    for k, s, o in zip(op.kernel, op.stride, op.output_padding, strict=True):
        if o >= s or (op.padding == "same" and k % 2 == 0 and o == 0):
            return False
    return True


@keras_op
class ConvTransposeOp(KerasOp):
    kinds = ("conv2d_transpose",)

    def lower(self, node, ins, ctx):
        op = node.op
        kw: dict = {}
        if op.activation.kind != "linear":
            kw["activation"] = keras_activation(op.activation, ctx.out_types[0].rank)
        if not op.use_bias:
            kw["use_bias"] = False
        kw.update(regularizers(op, KERNEL_REGS))
        if native(op):
            if set(op.stride) != {1}:
                kw["strides"] = op.stride
            if op.padding != "valid":
                kw["padding"] = op.padding
            if op.output_padding is not None:
                kw["output_padding"] = op.output_padding
            construct = Construct(layers.Conv2DTranspose, (op.filters, op.kernel), kw)
        else:
            construct = Construct(KL.ConvTranspose2D, (op.filters, op.kernel, op.stride, op.dilation, op.crops()), kw)
        ctx.done(ctx.layer(construct, ins))
