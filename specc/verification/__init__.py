"""Cross-backend equivalence: ``specc.verify(spec) -> Report``; with ``against=`` a
user's own model checked against the spec (:mod:`.against`)."""

from .harness import VerifyError
from .harness import verify as _verify_backends
from .report import Report, Row

__all__ = ["verify", "Report", "Row", "VerifyError"]


def verify(spec, *, against=None, weights=None, inputs=None, port_weights: str = "spec", **kwargs) -> Report:
    """Compare ``spec`` across two backends (:func:`specc.verification.harness.verify`).

    With ``against`` (a user's ``nn.Module`` / ``keras.Model``, a callable building one, or
    ``FILE.py:NAME`` / a ``.keras`` path) the user's model is compared with the spec instead
    (:mod:`specc.verification.against`): ``weights`` are the spec's canonical weights
    (default: drawn from the spec), ``inputs`` example inputs for tracing a torch port
    (``NAME:DTYPE[DIMS]``, its own layout), ``port_weights="own"`` keeps the port's weights."""
    if against is None:
        if weights is not None or inputs is not None or port_weights != "spec":
            raise ValueError("weights=, inputs= and port_weights= go with against=")
        return _verify_backends(spec, **kwargs)
    from .against import verify_against

    backends = tuple(kwargs.pop("backends", ("torch", "keras")))
    for unused in ("device", "tamper", "processes"):
        kwargs.pop(unused, None)
    return verify_against(
        spec, against, weights=weights, inputs=inputs, port_weights=port_weights,
        backend=None if backends == ("torch", "keras") else backends[0], **kwargs,
    )
