"""Save and load canonical checkpoints: safetensors (default) or .npz — never pickle.

A checkpoint holds ``{canonical name: array}`` plus string metadata (the model name, the
specc version, the format).  Writes are atomic: a temporary file in the target folder is
renamed over the target, so an interrupted save never leaves a corrupt checkpoint.

Reading is bounded by the file: an ``.npz`` member's header (shape, dtype) is checked
against the bytes the member really holds *before* its array is allocated, so a damaged or
hostile file cannot make specc allocate more than the file's size (stored members, as
``np.savez`` writes them) or DEFLATE's maximum ratio (1032:1) times it (``np.savez_compressed``);
safetensors checks its header against the file size itself.  :func:`check_values` refuses
weights that are not real floating-point numbers, or not finite, naming the tensor.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from specc.fsutil import atomic_write

__all__ = ["save", "load", "load_npz", "CheckpointError", "check_against", "check_values"]

FORMAT = "specc-canonical-v1"
MAX_DEFLATE_RATIO = 1032  # the most DEFLATE can expand: 258 bytes per 2 bits, ~1032:1
_FLOAT_KINDS = "f"


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
            arrays = load_npz(path)
            raw = arrays.pop("__specc_metadata__", None)
            meta = json.loads(bytes(raw).decode()) if raw is not None else {}
            if not isinstance(meta, dict):
                raise CheckpointError(f"{path}: damaged metadata (not a JSON object)")
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


def check_zip_entry(info: zipfile.ZipInfo, archive_size: int, label: str, writer: str) -> None:
    """Refuse a zip entry whose sizes cannot be true before anything is inflated: stored
    bytes beyond the archive, or more unpacked bytes than its method can produce from them
    (``writer`` names the program whose methods are expected, for the message)."""
    if info.compress_type == zipfile.ZIP_STORED:
        bound = info.compress_size
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        bound = info.compress_size * MAX_DEFLATE_RATIO + 1024
    else:
        raise CheckpointError(f"{label} uses a compression {writer} does not write (method {info.compress_type})")
    if info.compress_size > archive_size or info.file_size > bound:
        raise CheckpointError(
            f"{label} is damaged (its zip entry claims {info.file_size} bytes from {info.compress_size} stored, in a file of {archive_size})"
        )


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` archive, never unpickled, each checked against the bytes
    the archive really holds before it is allocated.  Raises :class:`CheckpointError`."""
    path = Path(path)
    try:
        size = path.stat().st_size
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile, ValueError, EOFError) as e:
        raise CheckpointError(f"{path}: not an .npz archive ({type(e).__name__}: {e})") from None
    out: dict[str, np.ndarray] = {}
    with zf:
        for info in zf.infolist():
            key = info.filename.removesuffix(".npy")
            if info.is_dir():
                continue
            check_zip_entry(info, size, f"{path}: array {key!r}", "numpy")
            try:
                with zf.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    if version == (1, 0):
                        shape, _, dtype = np.lib.format.read_array_header_1_0(f)
                    else:
                        shape, _, dtype = np.lib.format.read_array_header_2_0(f)
                    if dtype.hasobject:
                        raise CheckpointError(f"{path}: array {key!r} holds Python objects (pickled data), which specc never loads")
                    nbytes = dtype.itemsize
                    for d in shape:
                        nbytes *= int(d)
                    if nbytes > info.file_size:
                        raise CheckpointError(f"{path}: array {key!r} declares shape {tuple(shape)} {dtype} ({nbytes} bytes) but holds {info.file_size} bytes: the file is damaged or truncated")
                with zf.open(info) as f:
                    out[key] = np.lib.format.read_array(f, allow_pickle=False)
            except CheckpointError:
                raise
            except Exception as e:  # noqa: BLE001 - zipfile/numpy/zlib report damage in many types
                raise CheckpointError(f"{path}: array {key!r} is damaged ({type(e).__name__}: {e})") from None
    return out


def check_values(weights: dict[str, np.ndarray], *, allow_nonfinite: bool = False) -> list[str]:
    """Problems of the values themselves: every weight must be a real floating-point array
    (not integer, boolean or complex) and, unless ``allow_nonfinite``, free of NaN and ±inf."""
    problems = []
    for name, a in weights.items():
        a = np.asarray(a)
        if a.dtype.kind not in _FLOAT_KINDS:
            what = {"c": "complex", "b": "boolean", "i": "integer", "u": "integer"}.get(a.dtype.kind, "non-numeric")
            problems.append(f"{name}: {what} values ({a.dtype}); weights are real floating-point numbers")
        elif not allow_nonfinite:
            bad = int(a.size - np.count_nonzero(np.isfinite(a)))
            if bad:
                problems.append(f"{name}: {bad} of {a.size} values are NaN or infinite")
    return problems


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
