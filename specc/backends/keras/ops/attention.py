"""multi_head_attention → ``keras.layers.MultiHeadAttention`` (specc's subclass in
``lib/attention.py``, which makes the ``1/√key_dim`` scale exact in float64), called as
``layer(query, value, key, use_causal_mask=…)``.  The canonical weights are Keras' own
einsum kernels: ``query_kernel`` ↔ ``query/kernel``, …, ``output_kernel`` ↔
``attention_output/kernel``."""

from __future__ import annotations

from .. import lib as KL
from ..plan import Construct, KerasOp, keras_op
from .basic import regularizers


@keras_op
class MultiHeadAttentionOp(KerasOp):
    kinds = ("multi_head_attention",)
    paths = {
        "query_kernel": "query/kernel",
        "query_bias": "query/bias",
        "key_kernel": "key/kernel",
        "key_bias": "key/bias",
        "value_kernel": "value/kernel",
        "value_bias": "value/bias",
        "output_kernel": "attention_output/kernel",
        "output_bias": "attention_output/bias",
    }

    def lower(self, node, ins, ctx):
        op = node.op
        kw: dict = {}
        if op.value_dim is not None and op.value_dim != op.key_dim:
            kw["value_dim"] = op.value_dim
        if op.dropout:
            kw["dropout"] = float(op.dropout)
        if not op.use_bias:
            kw["use_bias"] = False
        if op.output_dim is not None:
            kw["output_shape"] = op.output_dim
        kw.update(regularizers(op, {"reg": "kernel_regularizer", "bias_reg": "bias_regularizer"}))
        data, ids = op.data(ins), list(ins[len(op.data(ins)) :])
        args = data if len(data) > 1 else [data[0], data[0]]  # Keras wants (query, value[, key])
        call_kw = {"use_causal_mask": True} if op.causal else {}
        if op.masks:  # layer(query, value, query_mask=ids != 0, value_mask=…): Keras derives the attention mask
            masks = tuple(f"{role}_mask" for role in op.masks)
            ctx.done(ctx.layer(Construct(KL.MultiHeadAttention, (op.heads, op.key_dim), kw), [*args, *ids], call="masked", masks=masks, **call_kw))
            return
        ctx.done(ctx.layer(Construct(KL.MultiHeadAttention, (op.heads, op.key_dim), kw), args, call="args", **call_kw))
