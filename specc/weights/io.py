"""Save and load canonical checkpoints: safetensors (default) or .npz — never pickle.

A checkpoint holds ``{canonical name: array}`` plus string metadata (the model name, the
specc version, the format).  Writes are atomic: a temporary file in the target folder is
renamed over the target, so an interrupted save never leaves a corrupt checkpoint.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from specc.fsutil import atomic_write

__all__ = ["save", "load", "CheckpointError", "check_against"]

FORMAT = "specc-canonical-v1"


class CheckpointError(Exception):
    """A checkpoint is missing, unreadable, or does not fit the model."""


def save(weights: dict[str, np.ndarray], path: str | os.PathLike, metadata: dict[str, str] | None = None) -> Path:
    """Write ``weights`` to ``path`` (.safetensors or .npz), atomically."""
    path = Path(path)
    meta = {"format": FORMAT, **{k: str(v) for k, v in (metadata or {}).items()}}
    arrays = {k: np.ascontiguousarray(np.asarray(v)) for k, v in weights.items()}
    if path.suffix == ".npz":

        def write(tmp: str) -> None:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays, __specc_metadata__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))

    elif path.suffix == ".safetensors":
        from safetensors.numpy import save_file

        def write(tmp: str) -> None:
            save_file(arrays, tmp, metadata=meta)

    else:
        raise CheckpointError(f"{path}: unknown checkpoint format (use .safetensors or .npz)")
    atomic_write(path, write)
    return path


def load(path: str | os.PathLike, with_metadata: bool = False):
    """Read a checkpoint: ``{name: array}`` (and its metadata if asked)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files if k != "__specc_metadata__"}
                meta = json.loads(bytes(z["__specc_metadata__"]).decode()) if "__specc_metadata__" in z.files else {}
        elif path.suffix == ".safetensors":
            from safetensors import safe_open

            arrays = {}
            with safe_open(str(path), framework="numpy") as f:
                meta = dict(f.metadata() or {})
                for k in f.keys():  # noqa: SIM118 - safe_open has no __iter__
                    arrays[k] = f.get_tensor(k)
        else:
            raise CheckpointError(f"{path}: unknown checkpoint format (use .safetensors or .npz)")
    except CheckpointError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, json.JSONDecodeError, Exception) as e:  # noqa: BLE001
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(e).__name__}: {e})") from None
    return (arrays, meta) if with_metadata else arrays


def check_against(weights: dict[str, np.ndarray], expected: dict[str, tuple[int, ...]], *, strict: bool = True) -> list[str]:
    """Problems of ``weights`` against the model's ``{name: shape}`` (missing, extra, shapes)."""
    problems = []
    for name, shape in expected.items():
        if name not in weights:
            problems.append(f"missing weight {name}")
        elif tuple(weights[name].shape) != tuple(shape):
            problems.append(f"{name}: shape {tuple(weights[name].shape)}, expected {tuple(shape)}")
    if strict:
        problems.extend(f"unexpected weight {n}" for n in weights if n not in expected)
    return problems
