"""``keras.layers.MultiHeadAttention`` with the IR's exact scale.  Self-contained:
imports only ``keras``; registered serializable (package "specc").

Keras scales the scores by ``1/√key_dim`` converted from a Python float with
``ops.cast``/``tf.cast``, which goes through float32: in float64 the scale is off by up
to ~3e-8 (relative) whenever ``√key_dim`` is irrational, and so is every output.  This
subclass multiplies the projected query by the scale made directly in the query's dtype
(exact) and lets the inherited computation scale by 1.0 (exact in every dtype).
Weights, call signature and config are Keras' own; an explicit ``query_mask`` is
honoured (Keras' own call reads the query's mask only from the tensor's Keras mask)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="specc")
class MultiHeadAttention(keras.layers.MultiHeadAttention):
    """Keras' MultiHeadAttention, scores scaled by ``1/√key_dim`` in the input's dtype."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._query_scale = self._inverse_sqrt_key_dim
        self._inverse_sqrt_key_dim = 1.0  # what the inherited code multiplies by

    def call(
        self,
        query,
        value,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
    ):
        # Keras' call takes the query's mask from the tensor's Keras mask only, never from
        # ``query_mask``: an explicit one joins the attention mask here (the same rows)
        if query_mask is not None:
            rows = ops.expand_dims(ops.cast(query_mask, "bool"), -1)
            attention_mask = rows if attention_mask is None else ops.logical_and(ops.cast(attention_mask, "bool"), rows)
        return super().call(
            query,
            value,
            key,
            value_mask=value_mask,
            key_mask=key_mask,
            attention_mask=attention_mask,
            return_attention_scores=return_attention_scores,
            training=training,
            use_causal_mask=use_causal_mask,
        )

    def _compute_attention(self, query, key, value, *args, **kwargs):
        scale = ops.convert_to_tensor(self._query_scale, dtype=query.dtype)
        return super()._compute_attention(ops.multiply(query, scale), key, value, *args, **kwargs)
