"""Convolutions with stride > 1 *and* dilation > 1, which Keras' convolution layers
refuse although the IR's meaning is well defined.  Self-contained: imports only
``keras``; registered serializable (package "specc").

``y = conv_{stride 1, dilation d}(pad(x))[::stride]``: the strided convolution's output
``o`` is the stride-1 convolution's output ``o·stride`` on the same padded input, so
zero padding per the IR, Keras' own stride-1 dilated layer (sublayer ``conv``: weights,
bias, activation, regularisers unchanged) and a strided slice compute it exactly."""

from __future__ import annotations

import keras
from keras import ops

_KERAS_CONV = {"conv1d": "Conv1D", "conv2d": "Conv2D", "depthwise_conv2d": "DepthwiseConv2D", "separable_conv2d": "SeparableConv2D"}
_BASE_CONFIG = ("name", "trainable", "dtype", "strides", "padding")


@keras.saving.register_keras_serializable(package="specc")
class StridedDilatedConv(keras.layers.Layer):
    """``kind``: conv1d, conv2d, depthwise_conv2d or separable_conv2d; ``strides`` per
    spatial axis; ``padding`` per spatial axis: ``(lo, hi)`` zeros, or ``"same"`` for
    Keras' 'same' rule computed from the input size at run time (sizes unknown when the
    model is built).  The other keyword arguments configure the inner Keras layer (which
    must include ``dilation_rate``)."""

    def __init__(self, kind: str, strides, padding, name=None, dtype=None, trainable=True, **conv):
        super().__init__(name=name, dtype=dtype, trainable=trainable)
        self.kind = kind
        self.strides = tuple(int(s) for s in strides)
        self.padding = tuple(p if isinstance(p, str) else (int(p[0]), int(p[1])) for p in padding)
        cls = getattr(keras.layers, _KERAS_CONV[kind])
        self.conv = cls(**conv, strides=1, padding="valid", dtype=self.dtype_policy, name="conv")
        self.kernel_size = tuple(self.conv.kernel_size)
        self.dilation = tuple(self.conv.dilation_rate)

    def _pads(self, sizes):
        """(lo, hi) per spatial axis for input sizes (ints, or tensors when unknown)."""
        out = []
        for i, p in enumerate(self.padding):
            if p != "same":
                out.append(p)
                continue
            k, s, d = self.kernel_size[i], self.strides[i], self.dilation[i]
            size = sizes[i]
            total = ops.maximum((k - 1) * d - (size - 1) % s, 0)
            out.append((total // 2, total - total // 2))
        return out

    def build(self, input_shape):
        sizes = input_shape[1:-1]
        padded = []
        for size, p in zip(sizes, self.padding):
            padded.append(None if size is None or p == "same" else size + p[0] + p[1])
        self.conv.build((input_shape[0], *padded, input_shape[-1]))

    def call(self, x):
        shape = ops.shape(x)
        pads = self._pads(shape[1:-1])
        if any(not isinstance(v, int) or v for lo_hi in pads for v in lo_hi):
            x = ops.pad(x, [(0, 0), *pads, (0, 0)])
        y = self.conv(x)
        index = (slice(None), *(slice(None, None, s) for s in self.strides), slice(None))
        return y[index]

    def compute_output_shape(self, input_shape):
        out = [input_shape[0]]
        for i, size in enumerate(input_shape[1:-1]):
            s = self.strides[i]
            if size is None:
                out.append(None)
            elif self.padding[i] == "same":
                out.append(-(-size // s))
            else:
                lo, hi = self.padding[i]
                eff = (self.kernel_size[i] - 1) * self.dilation[i] + 1
                out.append((size + lo + hi - eff) // s + 1)
        window = [(k - 1) * d + 1 for k, d in zip(self.kernel_size, self.dilation)]
        channels = self.conv.compute_output_shape((None, *window, input_shape[-1]))[-1]
        return (*out, channels)

    def get_config(self):
        inner = {k: v for k, v in self.conv.get_config().items() if k not in _BASE_CONFIG}
        return {**super().get_config(), "kind": self.kind, "strides": self.strides, "padding": self.padding, **inner}
