"""IR activations as Keras ``activation=`` values: Keras' own names where they mean the same
(their softmax/sigmoid keep the logits for the loss, as the IR requires), else specc's
serializable :class:`~specc.backends.keras.layers.SpeccActivation`."""

from __future__ import annotations

from specc.backends.common import Construct

from .lib import SpeccActivation

_SAME = {
    "linear": "linear",
    "relu": "relu",
    "relu6": "relu6",
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "selu": "selu",
    "silu": "silu",
    "softplus": "softplus",
    "hard_sigmoid": "hard_sigmoid",
}


def keras_activation(spec, rank: int):
    """A string or a Construct for ``activation=``; ``rank`` counts non-batch axes."""
    k = spec.kind
    if k in _SAME:
        return _SAME[k]
    if k in ("softmax", "log_softmax"):
        last = spec.axis in (-1, rank)
        if last:
            return k
        return Construct(SpeccActivation, (k,), {"axis": spec.axis})
    if k == "gelu":  # keras' own gelu is not float64-exact
        return Construct(SpeccActivation, ("gelu",), {"approximate": bool(spec.approximate)})
    if k == "elu":
        return "elu" if spec.alpha == 1.0 else Construct(SpeccActivation, ("elu",), {"alpha": float(spec.alpha)})
    if k == "leaky_relu":
        return Construct(SpeccActivation, ("leaky_relu",), {"alpha": float(spec.alpha)})
    raise NotImplementedError(f"activation {k} has no keras lowering")  # pragma: no cover
