"""Keras' Bidirectional with the model's precision.  This file imports only ``keras``:
``specc compile --to keras`` copies what a model uses into the generated source."""

from __future__ import annotations

import keras


def _rnn_with_dtype(layer, dtype):
    """``layer`` rebuilt from its config with the dtype policy ``dtype`` (its cell too)."""
    policy = keras.dtype_policies.get(dtype)
    if layer.dtype_policy.name == policy.name:
        return layer
    return type(layer).from_config({**layer.get_config(), "dtype": policy.name})


@keras.saving.register_keras_serializable(package="specc")
class SpeccBidirectional(keras.layers.Bidirectional):
    """``keras.layers.Bidirectional`` whose wrapped layers compute in the wrapper's dtype.

    Keras' own wrapper copies the wrapped layer's config, dtype policy included, so a
    ``Bidirectional(LSTM(8), dtype="float64")`` keeps float32 weights and math and only
    casts the result.  Here the wrapped layer takes the ``dtype`` given to the wrapper;
    otherwise it is Keras' layer unchanged (weights ``forward_<layer>/…`` and
    ``backward_<layer>/…``)."""

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        dtype = kwargs.get("dtype")
        if dtype is not None:
            layer = _rnn_with_dtype(layer, dtype)
            if backward_layer is not None:
                backward_layer = _rnn_with_dtype(backward_layer, dtype)
        super().__init__(layer, merge_mode=merge_mode, weights=weights, backward_layer=backward_layer, **kwargs)
