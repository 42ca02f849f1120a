"""``specc.build`` (the compiler proper): a validated spec → a runnable framework model with canonical weights."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from specc.api import load, loads
from specc.ir.graph import Model

__all__ = ["build", "as_model", "DTYPES"]

DTYPES = ("float32", "float64")


def as_model(spec: Model | str | os.PathLike) -> Model:
    """A Model from a Model, a path to a .spec file, or spec text."""
    if isinstance(spec, Model):
        return spec
    if isinstance(spec, os.PathLike) or (isinstance(spec, str) and "\n" not in spec and spec.endswith(".spec")):
        return load(Path(spec))
    if isinstance(spec, str):
        return loads(spec)
    raise TypeError(f"expected a Model, a .spec path or spec text, got {type(spec).__name__}")


def build(
    spec: Model | str | os.PathLike,
    backend: str = "torch",
    *,
    device: str | None = None,
    dtype: str = "float32",
    weights: dict[str, np.ndarray] | str | os.PathLike | None = None,
    seed: int | None = None,
    compile: bool = True,
    mixed_precision: str | None = None,
) -> Any:
    """Build ``spec`` in ``backend`` ("torch" or "keras").

    * torch → a :class:`~specc.backends.torch.bundle.TorchBundle` (``.model`` is the
      ``nn.Module``; ``.loss_fn``, ``.make_optimizer()``, ``.train_step()`` beside it);
    * keras → a ``keras.Model``, compiled with the spec's optimizer, loss and metrics.

    Weights are the canonical ones drawn from the spec's initialisers with ``seed``
    (default: the spec's ``train { seed }``), or ``weights`` (a dict or a checkpoint
    path), converted to the framework's layouts — so both backends start from the same
    numbers.  ``dtype`` is the floating-point precision (float32 or float64).
    ``mixed_precision`` (keras only: "mixed_bfloat16" or "mixed_float16") computes the
    layers in the half type with float32 weights; torch takes autocast instead.
    """
    from specc.backends import check_backend
    from specc.weights import init_weights
    from specc.weights import load as load_weights

    model = as_model(spec)
    check_backend(backend)
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    if weights is None:
        w = init_weights(model, seed)
    elif isinstance(weights, (str, os.PathLike)):
        w = load_weights(weights)
    else:
        w = dict(weights)
    from specc.weights.io import CheckpointError, check_against, check_values

    # real floats always; finite when read from a file (a dict may be a diverged run's)
    problems = check_against(w, {f"{n.name}.{s.name}": s.shape for n, s in model.weights()}) or check_values(w, allow_nonfinite=not isinstance(weights, (str, os.PathLike)))
    if problems:
        raise CheckpointError("the weights do not fit the model: " + "; ".join(problems[:8]) + (" …" if len(problems) > 8 else ""))
    if mixed_precision is not None and (backend != "keras" or mixed_precision not in ("mixed_bfloat16", "mixed_float16")):
        raise ValueError(f"mixed_precision {mixed_precision!r}: keras takes mixed_bfloat16 or mixed_float16 (torch: use autocast)")
    if backend == "torch":
        from specc.backends.torch.bundle import build_torch

        return build_torch(model, w, device=device, dtype=dtype)
    from specc.backends.keras.bundle import build_keras
    from specc.backends.keras.device import configure

    configure(device)
    return build_keras(model, w, device=device, dtype=dtype, compile=compile, mixed_precision=mixed_precision)
