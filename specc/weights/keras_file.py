"""Inspect Keras weight files before Keras reads them: a ``.keras`` model (a zip holding
``config.json`` and ``model.weights.h5``) and a ``.weights.h5`` file.

Keras casts integer weights to float, drops imaginary parts and loads NaN/inf without a
word, and it trusts a zip's declared sizes.  Here every zip entry is bounded by the bytes
the file really holds (as for ``.npz``), every HDF5 dataset must be real floating point and
no bigger than its file could hold, and — unless ``allow_nonfinite`` — finite (the
optimizer's and seed generators' state, integer by nature and never loaded, are skipped).  Problems
name the tensor (its path in the HDF5 file) and raise :class:`CheckpointError`; so does a
damaged zip or HDF5 file.  Nothing is unpickled or executed: ``config.json`` is read by
Keras afterwards, in its safe mode.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from specc.weights.io import MAX_DEFLATE_RATIO, CheckpointError, check_zip_entry

__all__ = ["inspect_keras_zip", "inspect_h5"]

_SHOWN = 6


def _not_a_weight(name: str) -> bool:
    """State Keras saves beside the weights, which may be integer (the optimizer's step
    count, a seed generator's state) and which specc never loads (``compile=False``)."""
    return name.startswith("optimizer/") or any(part.startswith("seed_generator") for part in name.split("/"))


def _raise(path: Path, problems: list[str], allow_nonfinite: bool) -> None:
    if not problems:
        return
    more = f" (and {len(problems) - _SHOWN} more)" if len(problems) > _SHOWN else ""
    hint = "" if allow_nonfinite or not any("NaN" in q for q in problems) else " (pass --allow-nonfinite to accept NaN/inf)"
    raise CheckpointError(f"{path}: " + "; ".join(problems[:_SHOWN]) + more + hint)


def inspect_h5(path: str | os.PathLike, *, allow_nonfinite: bool = True, label: str | os.PathLike | None = None) -> None:
    """Every dataset of the HDF5 file ``path`` is real floating point, at most as big as the
    file could hold, and finite unless ``allow_nonfinite``; ``label`` names the file in errors."""
    try:
        import h5py
    except ImportError:  # pragma: no cover - h5py comes with keras
        return
    p = Path(path)
    shown = Path(label) if label is not None else p
    size = p.stat().st_size
    problems: list[str] = []

    def visit(name, obj) -> None:
        if not isinstance(obj, h5py.Dataset) or _not_a_weight(name):
            return
        dt = obj.dtype
        if dt.kind != "f":
            problems.append(f"{name}: {dt} values; weights are real floating-point numbers")
            return
        nbytes = int(np.prod(obj.shape, dtype=object)) * dt.itemsize if obj.shape else dt.itemsize
        bound = size if obj.compression is None else size * MAX_DEFLATE_RATIO + 1024
        if nbytes > bound:
            problems.append(f"{name}: declares shape {tuple(obj.shape)} {dt} ({nbytes} bytes) in a file of {size}: damaged")
            return
        if not allow_nonfinite and obj.size:
            a = obj[()]
            bad = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
            if bad:
                problems.append(f"{name}: {bad} of {np.size(a)} values are NaN or infinite")

    try:
        with h5py.File(p, "r") as f:
            f.visititems(visit)
    except Exception as e:  # noqa: BLE001 - h5py reports damage as OSError, KeyError, RuntimeError …
        raise CheckpointError(f"{shown}: not a readable HDF5 weights file ({type(e).__name__}: {e})") from None
    _raise(shown, problems, allow_nonfinite)


def inspect_keras_zip(path: str | os.PathLike, *, allow_nonfinite: bool = False) -> None:
    """Check a ``.keras`` file before ``keras.models.load_model`` reads it: a zip whose
    entries fit in the file, with a ``config.json``, whose weights (``*.h5`` inside) pass
    :func:`inspect_h5`."""
    p = Path(path)
    try:
        size = p.stat().st_size
        zf = zipfile.ZipFile(p)
    except (OSError, zipfile.BadZipFile, ValueError, EOFError) as e:
        raise CheckpointError(f"{p}: not a .keras model file (a zip archive; {type(e).__name__}: {e})") from None
    with zf:
        try:
            infos = zf.infolist()
            names = {i.filename for i in infos}
            if "config.json" not in names:
                raise CheckpointError(f"{p}: not a .keras model file (no config.json inside)")
            for info in infos:
                if info.is_dir():
                    continue
                check_zip_entry(info, size, f"{p}: {info.filename!r}", "Keras")
            for info in infos:
                if info.filename.endswith(".h5") and not info.is_dir():
                    with tempfile.TemporaryDirectory(prefix="specc-keras-") as tmp:
                        out = Path(tmp) / "weights.h5"
                        with zf.open(info) as src, open(out, "wb") as dst:
                            shutil.copyfileobj(src, dst, 1 << 20)
                        inspect_h5(out, allow_nonfinite=allow_nonfinite, label=f"{p}:{info.filename}")
        except CheckpointError:
            raise
        except Exception as e:  # noqa: BLE001 - zipfile/zlib report damage in many types
            raise CheckpointError(f"{p}: a damaged .keras file ({type(e).__name__}: {e})") from None
