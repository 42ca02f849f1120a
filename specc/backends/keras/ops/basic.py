"""Layers that map one-to-one onto Keras built-ins with the canonical weights unchanged:
dense, convolutions, pooling (valid/same), global pooling, flatten, reshape, permute,
dropout, activation, add, multiply, concat, embedding, batch_norm, layer_norm."""

from __future__ import annotations

from keras import layers

from specc.ir.ops.base import norm_axis
from specc.ir.ops.padding import pads_for

from .. import lib as KL
from ..activations import keras_activation
from ..plan import Construct, KerasOp, keras_op


def _act(ctx, spec):
    return keras_activation(spec, ctx.out_types[0].rank)


def regularizers(op, mapping: dict[str, str]) -> dict:
    """Keras ``*_regularizer`` arguments for the IR op's penalties: {ir field: keras kwarg}."""
    out = {}
    for field, kwarg in mapping.items():
        reg = getattr(op, field, None)
        if reg is not None and (reg.l1_coef or reg.l2_coef):
            out[kwarg] = Construct(KL.Penalty, (), {"l1": reg.l1_coef, "l2": reg.l2_coef})
    return out


KERNEL_REGS = {"reg": "kernel_regularizer", "bias_reg": "bias_regularizer"}


KERNEL_INITS = {"init": "kernel_initializer", "bias_init": "bias_initializer"}


@keras_op
class DenseOp(KerasOp):
    kinds = ("dense",)
    init_args = KERNEL_INITS

    def lower(self, node, ins, ctx):
        op = node.op
        kw = {"activation": _act(ctx, op.activation)} if op.activation.kind != "linear" else {}
        if not op.use_bias:
            kw["use_bias"] = False
        kw.update(regularizers(op, KERNEL_REGS))
        ctx.done(ctx.layer(Construct(layers.Dense, (op.units,), kw), ins))


_KERAS_CONV = {
    "conv1d": layers.Conv1D,
    "conv2d": layers.Conv2D,
    "depthwise_conv2d": layers.DepthwiseConv2D,
    "separable_conv2d": layers.SeparableConv2D,
}


def strided_dilated(op) -> bool:
    """Keras' convolution layers refuse stride > 1 together with dilation > 1."""
    return max(op.stride) > 1 and max(op.dilation) > 1


@keras_op
class ConvOp(KerasOp):
    """conv1d/conv2d/depthwise_conv2d/separable_conv2d → the Keras layer of that name.
    Explicit padding is a zero-padding layer before it.  Stride > 1 with dilation > 1
    (which Keras refuses) is specc's StridedDilatedConv: padding per the IR, the stride-1
    dilated Keras layer (its weights under ``conv/``), then every stride-th output."""

    kinds = ("conv1d", "conv2d", "depthwise_conv2d", "separable_conv2d")

    def initializer_args(self, node):
        if node.op.kind == "depthwise_conv2d":
            return {"init": "depthwise_initializer", "bias_init": "bias_initializer"}
        if node.op.kind == "separable_conv2d":
            return {"depthwise_init": "depthwise_initializer", "pointwise_init": "pointwise_initializer", "bias_init": "bias_initializer"}
        return KERNEL_INITS

    def var_path(self, info, name):
        return f"conv/{name}" if strided_dilated(info.node.op) else name

    def lower(self, node, ins, ctx):
        op = node.op
        n = op.spatial
        padding = op.padding
        x = ins
        wrap = strided_dilated(op)
        if isinstance(padding, tuple) and not wrap:  # explicit padding: a zero-padding layer first
            pad_cls = layers.ZeroPadding1D if n == 1 else layers.ZeroPadding2D
            arg = padding[0] if n == 1 else padding
            x = ctx.layer(Construct(pad_cls, (arg,)), x, suffix="pad")
            padding = "valid"
        kind = op.kind
        kw: dict = {}
        if set(op.stride) != {1} and not wrap:
            kw["strides"] = op.stride
        if padding != "valid" and not wrap:
            kw["padding"] = padding
        if set(op.dilation) != {1}:
            kw["dilation_rate"] = op.dilation
        if op.activation.kind != "linear":
            kw["activation"] = _act(ctx, op.activation)
        if not op.use_bias:
            kw["use_bias"] = False
        if kind in ("conv1d", "conv2d"):
            kw.update(regularizers(op, KERNEL_REGS))
            if op.groups != 1:
                kw["groups"] = op.groups
            args = (op.filters, op.kernel)
        elif kind == "depthwise_conv2d":
            kw.update(regularizers(op, {"reg": "depthwise_regularizer", "bias_reg": "bias_regularizer"}))
            if op.depth_multiplier != 1:
                kw["depth_multiplier"] = op.depth_multiplier
            args = (op.kernel,)
        else:
            kw.update(regularizers(op, {"depthwise_reg": "depthwise_regularizer", "pointwise_reg": "pointwise_regularizer", "bias_reg": "bias_regularizer"}))
            if op.depth_multiplier != 1:
                kw["depth_multiplier"] = op.depth_multiplier
            args = (op.filters, op.kernel)
        if wrap:
            shape = ctx.in_types[0].shape
            pads = []
            for i in range(n):
                p = pads_for(op.padding, i, shape[i], op.kernel[i], op.stride[i], op.dilation[i])
                pads.append("same" if p is None else p)  # None: 'same' on a size unknown until run time
            names = ("filters", "kernel_size") if len(args) == 2 else ("kernel_size",)
            kw.update(zip(names, args, strict=True))
            construct = Construct(KL.StridedDilatedConv, (kind, op.stride, tuple(pads)), kw)
        else:
            construct = Construct(_KERAS_CONV[kind], args, kw)
        ctx.done(ctx.layer(construct, x))


@keras_op
class PoolOp(KerasOp):
    kinds = ("maxpool1d", "maxpool2d", "avgpool1d", "avgpool2d")

    def lower(self, node, ins, ctx):
        op = node.op
        if isinstance(op.padding, tuple):
            construct = Construct(KL.Pool, ("max" if op.reduce == "max" else "avg", op.pool, op.strides, op.padding))
        else:
            cls = {
                ("max", 1): layers.MaxPooling1D,
                ("max", 2): layers.MaxPooling2D,
                ("avg", 1): layers.AveragePooling1D,
                ("avg", 2): layers.AveragePooling2D,
            }[(op.reduce, op.spatial)]
            kw: dict = {}
            if op.stride is not None and op.stride != op.pool:
                kw["strides"] = op.stride
            if op.padding != "valid":
                kw["padding"] = op.padding
            construct = Construct(cls, (op.pool,), kw)
        ctx.done(ctx.layer(construct, ins))


@keras_op
class GlobalPoolOp(KerasOp):
    kinds = ("global_avgpool1d", "global_avgpool2d", "global_maxpool1d", "global_maxpool2d")

    def lower(self, node, ins, ctx):
        cls = {
            "global_avgpool1d": layers.GlobalAveragePooling1D,
            "global_avgpool2d": layers.GlobalAveragePooling2D,
            "global_maxpool1d": layers.GlobalMaxPooling1D,
            "global_maxpool2d": layers.GlobalMaxPooling2D,
        }[node.op.kind]
        if getattr(node.op, "masked", False):  # (x, ids): the mean over the real steps
            ctx.done(ctx.layer(Construct(cls), ins, call="masked", masks=("mask",)))
        else:
            ctx.done(ctx.layer(Construct(cls), ins))


@keras_op
class ShapeOps(KerasOp):
    kinds = ("flatten", "reshape", "permute")

    def lower(self, node, ins, ctx):
        op = node.op
        if op.kind == "flatten":
            construct = Construct(layers.Flatten)
        elif op.kind == "reshape":
            construct = Construct(layers.Reshape, (op.shape,))
        else:
            construct = Construct(layers.Permute, (op.dims,))
        ctx.done(ctx.layer(construct, ins))


@keras_op
class DropoutOp(KerasOp):
    kinds = ("dropout",)

    def lower(self, node, ins, ctx):
        ctx.done(ctx.layer(Construct(layers.Dropout, (node.op.rate,)), ins))


@keras_op
class ActivationOp(KerasOp):
    kinds = ("activation",)

    def lower(self, node, ins, ctx):
        ctx.done(ctx.layer(Construct(layers.Activation, (_act(ctx, node.op.fn),)), ins))


@keras_op
class MergeOps(KerasOp):
    kinds = ("add", "multiply", "concat")

    def lower(self, node, ins, ctx):
        op = node.op
        if op.kind == "concat":
            rank = ctx.in_types[0].rank
            axis = norm_axis("concat", op.axis, rank) + 1
            construct = Construct(layers.Concatenate, (), {"axis": -1 if axis == rank else axis})
        else:
            construct = Construct(layers.Add if op.kind == "add" else layers.Multiply)
        ctx.done(ctx.layer(construct, ins, call="list"))


@keras_op
class EmbeddingOp(KerasOp):
    kinds = ("embedding",)
    init_args = {"init": "embeddings_initializer"}

    def lower(self, node, ins, ctx):
        kw = regularizers(node.op, {"reg": "embeddings_regularizer"})
        ctx.done(ctx.layer(Construct(layers.Embedding, (node.op.vocab, node.op.dim), kw), ins))


@keras_op
class NormOps(KerasOp):
    kinds = ("batch_norm", "layer_norm")
    init_args = {
        "gamma_init": "gamma_initializer",
        "beta_init": "beta_initializer",
        "moving_mean_init": "moving_mean_initializer",
        "moving_variance_init": "moving_variance_initializer",
    }

    def lower(self, node, ins, ctx):
        op = node.op
        kw: dict = {"epsilon": op.epsilon}
        if not op.center:
            kw["center"] = False
        if not op.scale:
            kw["scale"] = False
        kw.update(regularizers(op, {"gamma_reg": "gamma_regularizer", "beta_reg": "beta_regularizer"}))
        rank = ctx.in_types[0].rank
        axes = [a + 1 for a in op.axes(rank)]
        if axes != [rank]:
            kw["axis"] = axes[0] if len(axes) == 1 else axes
        if op.kind == "batch_norm":
            kw["momentum"] = op.momentum
            construct = Construct(layers.BatchNormalization, (), kw)
        else:
            construct = Construct(layers.LayerNormalization, (), kw)
        ctx.done(ctx.layer(construct, ins))
