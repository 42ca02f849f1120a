"""Keras layers and activations that reproduce the IR's semantics where Keras' built-ins
do not.  This file imports only ``keras`` (and its ``ops``): ``specc compile --to keras``
copies what a model uses into the generated source.  Every class is registered as
serializable, so ``model.save('m.keras')`` and ``keras.models.load_model`` work (import
this module, or the generated file, before loading)."""

from __future__ import annotations

import math

import keras
from keras import ops


def named(tensor, name):
    """Name the Keras operation that computed ``tensor`` (``a + b``, ``x * 0.5``,
    ``ops.not_equal(ids, 0)``) ``name``, and the ``expand_dims`` feeding it
    ``name__expand_<operand>_<k>``.  Keras numbers such operations itself across every model
    built in the process (add, add_1, …): without fixed names, building this model a second
    time would give it two operations called, say, add_2 (a layer and an operator)."""
    op = tensor._keras_history.operation
    op.name = name
    for j, x in enumerate(op._inbound_nodes[0].arguments.keras_tensors):
        k, inner = 0, x._keras_history.operation
        while type(inner).__name__ == "ExpandDims":
            inner.name = f"{name}__expand_{j}_{k}"
            k, inner = k + 1, inner._inbound_nodes[0].arguments.keras_tensors[0]._keras_history.operation
    return tensor


@keras.saving.register_keras_serializable(package="specc")
class SpeccActivation:
    """A parametrised activation as a serializable callable (``activation=`` of a layer)."""

    def __init__(self, kind: str, **params):
        self.kind = kind
        self.params = params

    def __call__(self, x):
        p = self.params
        if self.kind == "leaky_relu":
            # TF's LeakyRelu kernel keeps the slope as a float32 attribute: 0.2 would become
            # 0.2000000030 in a float64 model, so compute it in the tensor's own dtype
            return ops.where(x > 0, x, x * ops.convert_to_tensor(p["alpha"], dtype=x.dtype))
        if self.kind == "elu":
            return keras.activations.elu(x, alpha=p["alpha"])
        if self.kind == "gelu":
            # TF's gelu rounds its constants to float32 (1e-10 errors in float64 models);
            # torch's formulas, with the constants in the tensor's dtype
            if p["approximate"]:
                k = ops.convert_to_tensor(math.sqrt(2.0 / math.pi), dtype=x.dtype)
                c = ops.convert_to_tensor(0.044715, dtype=x.dtype)
                return 0.5 * x * (1.0 + ops.tanh(k * (x + c * x * x * x)))
            return x * 0.5 * (1.0 + ops.erf(x * ops.convert_to_tensor(math.sqrt(0.5), dtype=x.dtype)))
        if self.kind == "softmax":  # axis other than the last: no logits shortcut for the loss
            return ops.softmax(x, axis=p["axis"])
        if self.kind == "log_softmax":
            return ops.log_softmax(x, axis=p["axis"])
        raise ValueError(f"unknown activation {self.kind}")

    def get_config(self):
        return {"kind": self.kind, **self.params}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="specc")
class Pool(keras.layers.Layer):
    """Max or average pooling with explicit (lo, hi) padding per spatial axis: padded cells
    never win a max (−∞) and are not counted in an average."""

    def __init__(self, mode, pool, strides, padding, **kwargs):
        super().__init__(**kwargs)
        self.mode = mode
        self.pool = tuple(pool)
        self.strides = tuple(strides)
        self.padding = tuple(tuple(p) for p in padding)

    def call(self, x):
        pad = [(0, 0), *self.padding, (0, 0)]
        if self.mode == "max":
            return ops.max_pool(ops.pad(x, pad, constant_values=-math.inf), self.pool, self.strides, padding="valid")
        summed = ops.average_pool(ops.pad(x, pad), self.pool, self.strides, padding="valid")
        ones = ops.ones((1, *x.shape[1:-1], 1), dtype=x.dtype)
        counts = ops.average_pool(ops.pad(ones, pad), self.pool, self.strides, padding="valid")
        return summed / counts

    def compute_output_shape(self, input_shape):
        out = [input_shape[0]]
        for i, (lo, hi) in enumerate(self.padding):
            size = input_shape[1 + i]
            out.append(None if size is None else (size + lo + hi - self.pool[i]) // self.strides[i] + 1)
        return (*out, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "pool": self.pool, "strides": self.strides, "padding": self.padding}


@keras.saving.register_keras_serializable(package="specc")
class FanInitializer(keras.initializers.Initializer):
    """Variance scaling with explicitly given fans (the IR's fans for weights whose Keras
    shape would give other ones, e.g. attention projections)."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", fan_in=1.0, fan_out=1.0, seed=None):
        self.scale, self.mode, self.distribution = scale, mode, distribution
        self.fan_in, self.fan_out, self.seed = fan_in, fan_out, seed

    def __call__(self, shape, dtype=None):
        denom = {"fan_in": self.fan_in, "fan_out": self.fan_out, "fan_avg": (self.fan_in + self.fan_out) / 2.0}[self.mode]
        scale = self.scale / max(1.0, denom)
        if self.distribution == "truncated_normal":
            return keras.random.truncated_normal(shape, 0.0, math.sqrt(scale) / 0.87962566103423978, dtype=dtype, seed=self.seed)
        if self.distribution == "untruncated_normal":
            return keras.random.normal(shape, 0.0, math.sqrt(scale), dtype=dtype, seed=self.seed)
        limit = math.sqrt(3.0 * scale)
        return keras.random.uniform(shape, -limit, limit, dtype=dtype, seed=self.seed)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, "fan_in": self.fan_in, "fan_out": self.fan_out, "seed": self.seed}


def _bilinear_axis(x, axis, factor):
    """Half-pixel bilinear enlargement of one axis by an integer factor (TF's resize,
    computed in x's dtype): src = max((o + 0.5) / factor − 0.5, 0), lo = floor(src),
    hi = min(lo + 1, n − 1), out = (1 − λ)·x[lo] + λ·x[hi] with λ = src − lo."""
    n = ops.shape(x)[axis]
    o = ops.cast(ops.arange(n * factor), x.dtype)
    src = ops.maximum((o + 0.5) / factor - 0.5, 0.0)
    lo = ops.floor(src)
    lam = src - lo
    lo_i = ops.cast(lo, "int32")
    hi_i = ops.minimum(lo_i + 1, n - 1)
    shape = [1] * len(x.shape)
    shape[axis] = -1
    lam = ops.reshape(lam, shape)
    return (1.0 - lam) * ops.take(x, lo_i, axis=axis) + lam * ops.take(x, hi_i, axis=axis)


@keras.saving.register_keras_serializable(package="specc")
class BilinearUpSampling2D(keras.layers.Layer):
    """Enlarge a channels-last image by integer factors with bilinear interpolation
    (half-pixel centres, no antialias: ``UpSampling2D(interpolation="bilinear")``'s rule),
    in the layer's own dtype (Keras' resize kernel computes in float32)."""

    def __init__(self, size, **kwargs):
        super().__init__(**kwargs)
        self.size = tuple(size)

    def call(self, x):
        return _bilinear_axis(_bilinear_axis(x, 1, self.size[0]), 2, self.size[1])

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        return (b, None if h is None else h * self.size[0], None if w is None else w * self.size[1], c)

    def get_config(self):
        return {**super().get_config(), "size": self.size}


@keras.saving.register_keras_serializable(package="specc")
class Positions(keras.layers.Layer):
    """The positions 0 … T−1 along axis 1 of every example: (batch, T) int32."""

    def call(self, x):
        shape = ops.shape(x)
        return ops.broadcast_to(ops.expand_dims(ops.arange(shape[1], dtype="int32"), 0), (shape[0], shape[1]))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:2])


@keras.saving.register_keras_serializable(package="specc")
class SinusoidalEmbedding(keras.layers.Layer):
    """Fixed encodings of integer positions p: out[..., 2i] = sin(p·ω_i),
    out[..., 2i+1] = cos(p·ω_i), ω_i = base^(−2i/dim) (float64 values, then the layer's
    dtype)."""

    def __init__(self, dim, base=10000.0, **kwargs):
        super().__init__(**kwargs)
        self.dim = dim
        self.base = base

    def call(self, p):
        omega = ops.convert_to_tensor([self.base ** (-(2 * (j // 2)) / self.dim) for j in range(self.dim)], dtype=self.compute_dtype)
        angle = ops.expand_dims(ops.cast(p, self.compute_dtype), -1) * omega
        odd = ops.convert_to_tensor([j % 2 == 1 for j in range(self.dim)])
        return ops.where(odd, ops.cos(angle), ops.sin(angle))

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.dim)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "base": self.base}
