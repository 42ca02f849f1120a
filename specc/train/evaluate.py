"""``specc evaluate``: loss and metrics of saved canonical weights on a data set, computed
by the same numpy code as ``specc train`` reports (see :mod:`specc.train.metrics`)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from specc.compiler import as_model
from specc.ir.graph import Model
from specc.weights import CheckpointError
from specc.weights import load as load_weights

from .data import load_data
from .errors import fail
from .metrics import evaluate_outputs

__all__ = ["resolve_weights", "evaluate", "SPLITS"]

SPLITS = ("val", "train", "all")


def resolve_weights(path: str | os.PathLike) -> Path:
    """A checkpoint file, or a run folder (its EMA weights if it has them, else its weights)."""
    p = Path(path)
    if p.is_dir():
        for name in ("ema.safetensors", "weights.safetensors"):
            if (p / name).is_file():
                return p / name
        raise fail(f"{p}: a folder without weights.safetensors", "give a checkpoint file or the --out folder of specc train")
    if not p.exists():
        raise fail(f"{p}: no such checkpoint", "give a .safetensors / .npz file written by specc (e.g. runs/<model>-<backend>/weights.safetensors)")
    return p


def load_checked(model: Model, path: str | os.PathLike, *, allow_nonfinite: bool = False) -> dict[str, np.ndarray]:
    """Canonical weights from ``path`` that fit ``model``: its names and shapes, real
    floating-point values, finite unless ``allow_nonfinite`` (else a clear error)."""
    from specc.weights.io import check_against, check_values

    p = resolve_weights(path)
    try:
        w = load_weights(p)
    except CheckpointError as e:
        raise fail(str(e), "give a canonical checkpoint (.safetensors or .npz) written by specc") from None
    problems = check_against(w, {f"{n.name}.{s.name}": s.shape for n, s in model.weights()})
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise fail(f"{p}: the weights do not fit {model.name}: " + "; ".join(problems[:3]) + more, "use the checkpoint of this spec, or train with --init-from to load the layers that fit")
    problems = check_values(w, allow_nonfinite=allow_nonfinite)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        nonfinite = not allow_nonfinite and any("NaN" in q for q in problems)
        raise fail(f"{p}: " + "; ".join(problems[:3]) + more, "pass --allow-nonfinite to use them anyway" if nonfinite else "store float32 or float64 weights")
    return w


def check_device(backend: str, device: str | None) -> None:
    """``device`` names a device ``backend`` can use here (else a clear error)."""
    if device in (None, "cpu"):
        return
    d = str(device)
    if not (d == "cuda" or (d.startswith("cuda:") and d[5:].isdigit())):
        raise fail(f"unknown device {device!r}", "use cpu, cuda or cuda:N")
    index = int(d[5:]) if ":" in d else 0
    if backend == "torch":
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    else:
        import specc.backends.keras  # noqa: F401 - TensorFlow without its start-up chatter
        import tensorflow as tf

        count = len(tf.config.list_physical_devices("GPU"))
    if index >= count:
        seen = f"sees {count} GPU(s)" if count else "sees no GPU"
        raise fail(f"--device {device}, but {'torch' if backend == 'torch' else 'TensorFlow'} {seen}", "use --device cpu" + (f" or cuda:0 … cuda:{count - 1}" if count else ""))


def predict(model: Model, weights, backend: str, xs: list[np.ndarray], device=None) -> list[np.ndarray]:
    import specc

    if backend == "torch":
        bundle = specc.build(model, "torch", weights=weights, device=device)
        parts = []
        for i in range(0, len(xs[0]), 1024):
            y = bundle.predict([x[i : i + 1024] for x in xs])
            parts.append(list(y) if isinstance(y, tuple) else [y])
    else:
        km = specc.build(model, "keras", weights=weights, device=device, compile=False)
        parts = []
        for i in range(0, len(xs[0]), 1024):
            chunk = [x[i : i + 1024] for x in xs]
            y = km(chunk[0] if len(chunk) == 1 else chunk, training=False)
            parts.append([np.asarray(a) for a in y] if isinstance(y, (list, tuple)) else [np.asarray(y)])
    return [np.concatenate([p[k] for p in parts]) for k in range(len(parts[0]))]


def evaluate(spec, weights: str | os.PathLike, backend: str = "torch", data: str = "digits", split: str = "val", device=None, *, allow_nonfinite: bool = False) -> tuple[dict[str, float], int, Path]:
    """(metrics, number of examples, weights file) of ``weights`` on ``split`` of ``data``."""
    model = as_model(spec)
    if model.train is None:
        raise fail(f"{model.name} has no train section: no loss or metrics to evaluate", "add a train section to the spec")
    if split not in SPLITS:
        raise fail(f"unknown split {split!r}", f"choose one of {', '.join(SPLITS)}")
    check_device(backend, device)
    path = resolve_weights(weights)
    w = load_checked(model, path, allow_nonfinite=allow_nonfinite)
    ds = load_data(model, data)
    if split == "val":
        if ds.val is None:
            raise fail(f"{data}: no validation examples (validation_split is 0 and no x_val/y_val)", "use --split train or all")
        part = ds.val
    elif split == "train":
        part = ds.train
    else:
        part = ds.train if ds.val is None else type(ds.train)([np.concatenate([a, b]) for a, b in zip(ds.train.xs, ds.val.xs, strict=True)], [np.concatenate([a, b]) for a, b in zip(ds.train.ys, ds.val.ys, strict=True)])
    outputs = predict(model, w, backend, part.xs, device)
    return evaluate_outputs(model, outputs, part.ys, w), len(part), path
