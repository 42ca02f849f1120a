"""Transposed 2-D convolution with the IR's exact output (Keras' size rule, see
``specc/ir/ops/conv_transpose.py``) for what ``keras.layers.Conv2DTranspose`` cannot
run: dilation > 1 (TensorFlow's CPU kernels refuse it in float64 and with stride > 1),
``output_padding`` ≥ stride, and 'same' with an even (dilated) kernel and
``output_padding`` 0 (TensorFlow's size check refuses it).  Self-contained: imports only
``keras``; registered serializable (package "specc").

The kernel is dilated by inserting zeros between its taps, the "full" transposed
convolution is computed with ``ops.conv_transpose`` (stride, padding 'valid', no
dilation), then cropped / extended with zeros at the end to the IR's size and the bias is
added.  Weights ``kernel`` ``(kh, kw, filters, in)`` and ``bias`` as in Keras."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="specc")
class ConvTranspose2D(keras.layers.Layer):
    """``crop``: ``((top, bottom), (left, right))`` rows/columns removed from the full
    result ``(in − 1)·stride + (k − 1)·dilation + 1``; a negative ``bottom``/``right``
    adds that many zero rows/columns at the end instead."""

    def __init__(
        self,
        filters,
        kernel_size,
        strides,
        dilation_rate,
        crop,
        use_bias=True,
        activation=None,
        kernel_regularizer=None,
        bias_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = tuple(int(k) for k in kernel_size)
        self.strides = tuple(int(s) for s in strides)
        self.dilation_rate = tuple(int(d) for d in dilation_rate)
        self.crop = tuple((int(lo), int(hi)) for lo, hi in crop)
        self.use_bias = use_bias
        self.activation = keras.activations.get(activation)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)

    def build(self, input_shape):
        shape = (*self.kernel_size, self.filters, input_shape[-1])
        self.kernel = self.add_weight(name="kernel", shape=shape, initializer="glorot_uniform", regularizer=self.kernel_regularizer)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros", regularizer=self.bias_regularizer)

    def _eff(self, i):
        return (self.kernel_size[i] - 1) * self.dilation_rate[i] + 1

    def _dilated_kernel(self):
        k = self.kernel
        (dh, dw), (kh, kw) = self.dilation_rate, self.kernel_size
        if dh == 1 and dw == 1:
            return k
        o, c = self.filters, k.shape[-1]
        k = ops.reshape(k, (kh, 1, kw, 1, o, c))
        k = ops.pad(k, [(0, 0), (0, dh - 1), (0, 0), (0, dw - 1), (0, 0), (0, 0)])
        k = ops.reshape(k, (kh * dh, kw * dw, o, c))
        return k[: self._eff(0), : self._eff(1)]

    def call(self, x):
        y = ops.conv_transpose(x, self._dilated_kernel(), self.strides, padding="valid")
        # 'valid' gives in·s + max(eff − s, 0): the full result plus max(s − eff, 0) zero rows
        index, pads = [slice(None)], [(0, 0)]
        for i, (lo, hi) in enumerate(self.crop):
            end = max(self.strides[i] - self._eff(i), 0) + hi  # rows to remove at the end
            index.append(slice(lo, -end if end > 0 else None))
            pads.append((0, max(-end, 0)))
        y = y[tuple(index)]
        if any(p for _, p in pads):
            y = ops.pad(y, [*pads, (0, 0)])
        if self.use_bias:
            y = y + self.bias
        return self.activation(y) if self.activation is not None else y

    def compute_output_shape(self, input_shape):
        out = [input_shape[0]]
        for i, size in enumerate(input_shape[1:-1]):
            lo, hi = self.crop[i]
            out.append(None if size is None else (size - 1) * self.strides[i] + self._eff(i) - lo - hi)
        return (*out, self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "dilation_rate": self.dilation_rate,
            "crop": self.crop,
            "use_bias": self.use_bias,
            "activation": keras.activations.serialize(self.activation),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer) if self.kernel_regularizer else None,
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer) if self.bias_regularizer else None,
        }
