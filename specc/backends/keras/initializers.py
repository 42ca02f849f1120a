"""IR initialisers as Keras initialisers, for the layers' ``*_initializer`` arguments.

``specc.build`` loads canonical weights, so these only decide the weights of generated
standalone code (``specc compile --to keras``).  Keras' own initialisers have the IR's
formulas for the Keras-named kinds; PyTorch-named kinds become the equivalent
``VarianceScaling``.  Where the IR states other fans than Keras would compute (attention
projections), specc's ``FanInitializer`` is used with the IR's fans."""

from __future__ import annotations

import keras

from specc.backends.common import Construct
from specc.ir.initializers import torch_gain

from .lib import FanInitializer

_SIMPLE = {
    "zeros": "zeros",
    "ones": "ones",
    "glorot_uniform": "glorot_uniform",
    "glorot_normal": "glorot_normal",
    "he_uniform": "he_uniform",
    "he_normal": "he_normal",
    "lecun_uniform": "lecun_uniform",
    "lecun_normal": "lecun_normal",
}


def keras_initializer(init, fans: tuple[float, float] | None = None):
    """A string or Construct for a Keras ``*_initializer`` argument."""
    k = init.kind
    p = init.params()
    if k == "unit_forget_bias":  # pragma: no cover - handled by the lstm lowering
        raise ValueError(k)
    if k in ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform", "lecun_normal", "variance_scaling", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal"):
        scale, mode, dist = _variance_scaling(init)
        if fans is not None:
            return Construct(FanInitializer, (), {"scale": scale, "mode": mode, "distribution": dist, "fan_in": float(fans[0]), "fan_out": float(fans[1])})
        if k in _SIMPLE:
            return _SIMPLE[k]
        return Construct(keras.initializers.VarianceScaling, (), {"scale": scale, "mode": mode, "distribution": dist})
    if k in _SIMPLE:
        return _SIMPLE[k]
    if k == "constant":
        return Construct(keras.initializers.Constant, (), {"value": float(init.value)})
    if k == "random_normal":
        return Construct(keras.initializers.RandomNormal, (), {"mean": float(init.mean), "stddev": float(init.stddev)})
    if k == "random_uniform":
        return Construct(keras.initializers.RandomUniform, (), {"minval": float(init.minval), "maxval": float(init.maxval)})
    if k == "truncated_normal":
        return Construct(keras.initializers.TruncatedNormal, (), {"mean": float(init.mean), "stddev": float(init.stddev)})
    if k == "orthogonal":
        return Construct(keras.initializers.Orthogonal, (), p)
    raise ValueError(f"no keras initializer for {k}")  # pragma: no cover


def _variance_scaling(init) -> tuple[float, str, str]:
    k = init.kind
    table = {
        "glorot_uniform": (1.0, "fan_avg", "uniform"),
        "glorot_normal": (1.0, "fan_avg", "truncated_normal"),
        "he_uniform": (2.0, "fan_in", "uniform"),
        "he_normal": (2.0, "fan_in", "truncated_normal"),
        "lecun_uniform": (1.0, "fan_in", "uniform"),
        "lecun_normal": (1.0, "fan_in", "truncated_normal"),
    }
    if k in table:
        return table[k]
    if k == "variance_scaling":
        return float(init.scale), init.mode, init.distribution
    if k in ("xavier_uniform", "xavier_normal"):
        return float(init.gain) ** 2, "fan_avg", "uniform" if k == "xavier_uniform" else "untruncated_normal"
    gain = torch_gain(init.nonlinearity, init.a)
    return gain**2, init.mode, "uniform" if k == "kaiming_uniform" else "untruncated_normal"


def initializer_kwargs(op, mapping: dict[str, str], fans: dict[str, tuple[float, float]] | None = None) -> dict:
    """``{keras kwarg: initializer}`` for the IR op's initialiser fields that differ from
    the IR's defaults (which are Keras' defaults), or whose fans Keras would get wrong."""
    out = {}
    for field, kwarg in mapping.items():
        init = getattr(op, field)
        default = type(op).model_fields[field].get_default(call_default_factory=True)
        f = (fans or {}).get(field)
        if init != default or f is not None:
            out[kwarg] = keras_initializer(init, f)
    return out
