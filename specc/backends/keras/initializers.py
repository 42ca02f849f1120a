"""IR initialisers as Keras initialisers, for the layers' ``*_initializer`` arguments.

``specc.build`` loads canonical weights, so these only decide the weights of generated
standalone code (``specc compile --to keras``).  Keras' own initialisers have the IR's
formulas for the Keras-named kinds; PyTorch-named kinds become the equivalent
``VarianceScaling``.  Where the IR states other fans than Keras would compute (attention
projections), specc's ``FanInitializer`` is used with the IR's fans."""

from __future__ import annotations

import keras

from specc.backends.common import Construct

from .lib import FanInitializer

_KERAS_NAMED = {"glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform", "lecun_normal"}


def keras_initializer(init, fans: tuple[float, float] | None = None):
    """A string or Construct for a Keras ``*_initializer`` argument."""
    k = init.kind
    if hasattr(init, "variance_scaling"):  # every fan-based initialiser (see specc/ir/initializers.py)
        scale, mode, dist = init.variance_scaling()
        if fans is not None:
            return Construct(FanInitializer, (), {"scale": scale, "mode": mode, "distribution": dist, "fan_in": float(fans[0]), "fan_out": float(fans[1])})
        if k in _KERAS_NAMED:
            return k
        return Construct(keras.initializers.VarianceScaling, (), {"scale": scale, "mode": mode, "distribution": dist})
    if k in ("zeros", "ones"):
        return k
    cls = {
        "constant": keras.initializers.Constant,
        "random_normal": keras.initializers.RandomNormal,
        "random_uniform": keras.initializers.RandomUniform,
        "truncated_normal": keras.initializers.TruncatedNormal,
        "orthogonal": keras.initializers.Orthogonal,
    }.get(k)
    if cls is None:  # pragma: no cover - every IR initialiser is covered above
        raise ValueError(f"no keras initializer for {k}")
    return Construct(cls, (), {name: float(v) for name, v in init.model_dump(exclude={"kind"}).items()})


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
