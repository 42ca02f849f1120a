"""``keras.layers.MultiHeadAttention`` with the IR's exact scale.  Self-contained:
imports only ``keras``; registered serializable (package "specc").

Keras scales the scores by ``1/√key_dim`` converted from a Python float with
``ops.cast``/``tf.cast``, which goes through float32: in float64 the scale is off by up
to ~3e-8 (relative) whenever ``√key_dim`` is irrational, and so is every output.  This
subclass multiplies the projected query by the scale made directly in the query's dtype
(exact) and lets the inherited computation scale by 1.0 (exact in every dtype).
Weights, call signature and config are Keras' own."""

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

    def _compute_attention(self, query, key, value, *args, **kwargs):
        scale = ops.convert_to_tensor(self._query_scale, dtype=query.dtype)
        return super()._compute_attention(ops.multiply(query, scale), key, value, *args, **kwargs)
