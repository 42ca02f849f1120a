"""Training checkpoints in ``--out``: one folder per finished epoch, written whole or not
at all.

::

    OUT/checkpoints/epoch-0003/weights.safetensors   canonical weights (specc.weights.save)
                               ema.safetensors       canonical EMA weights (spec sets ema)
                               state.safetensors     optimizer tensors, RNG states
                               state.json            epoch, step, history, optimizer skeleton,
                                                     sha256 of each file
    OUT/weights.safetensors, OUT/ema.safetensors     the latest weights (atomic copies)

A checkpoint is written into a hidden temporary folder, every file fsync'd, then renamed
to ``epoch-NNNN`` (a rename is atomic), so a run killed at any moment leaves the previous
checkpoints intact; leftovers of an interrupted write are removed at the next start.
Resuming reads the newest complete checkpoint and checks every file's hash, and
``state.json``'s own digest (``meta_sha256``, over the rest of its content): a checkpoint
whose hashes are missing, wrong or edited is refused, never trusted.  A failed write (a
full disk) raises a :class:`~specc.fsutil.WriteError` naming the file; the previous
checkpoints are untouched.  Nothing is pickled.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from specc.fsutil import WriteError, as_write_error, atomic_write, new_mode
from specc.ir.graph import Model
from specc.weights import CheckpointError, save
from specc.weights import load as load_weights

from .errors import fail

__all__ = ["Checkpoint", "write_checkpoint", "latest_checkpoint", "clean_partial", "model_signature", "FORMAT"]

FORMAT = "specc-train-v1"
_NAME = re.compile(r"epoch-(\d{4,})\Z")
KEEP = 2


@dataclass
class Checkpoint:
    path: Path
    meta: dict
    weights: dict[str, np.ndarray]
    ema: dict[str, np.ndarray] | None
    state: dict[str, np.ndarray]

    @property
    def epoch(self) -> int:
        return int(self.meta["epoch"])


def model_signature(model: Model) -> str:
    """A digest of the model's weight names and shapes (what a checkpoint must fit)."""
    items = [(f"{n.name}.{w.name}", list(w.shape)) for n, w in model.weights()]
    return hashlib.sha256(json.dumps(items).encode()).hexdigest()[:16]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_json(path: Path | str, obj: dict) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1)
        f.flush()
        os.fsync(f.fileno())


def write_json_atomic(path: Path, obj: dict) -> None:
    atomic_write(path, lambda tmp: _write_json(tmp, obj))


def meta_digest(meta: dict) -> str:
    """sha256 of a checkpoint's ``state.json`` content without its own digest."""
    body = {k: v for k, v in meta.items() if k != "meta_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, allow_nan=True).encode()).hexdigest()


def clean_partial(out: Path) -> list[Path]:
    """Remove half-written checkpoint folders (``.epoch-*.tmp*``) left by a killed run."""
    root = out / "checkpoints"
    removed = []
    if root.is_dir():
        for p in root.iterdir():
            if p.name.startswith(".epoch-") and ".tmp" in p.name:
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p)
    return removed


def existing_epochs(out: Path) -> list[tuple[int, Path]]:
    root = out / "checkpoints"
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if (m := _NAME.match(p.name)) and p.is_dir()]
    return sorted(found, reverse=True)


def write_checkpoint(out: Path, epoch: int, meta: dict, weights: dict, ema: dict | None, state: dict[str, np.ndarray], keep=()) -> Path:
    """Write epoch ``epoch``'s checkpoint (atomically) and the latest-weights copies.
    The ``KEEP`` newest checkpoints survive, and those of the epochs in ``keep`` (the best)."""
    from safetensors.numpy import save_file

    root = out / "checkpoints"
    final = root / f"epoch-{epoch:04d}"
    current = root  # the file being written, named in a WriteError
    tmp = None
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".epoch-{epoch:04d}.tmp"))
        os.chmod(tmp, new_mode(directory=True))  # mkdtemp's 0700 would outlive the rename
        tag = {"model": meta["model"], "epoch": str(epoch)}
        current = final / "weights.safetensors"
        save(weights, tmp / "weights.safetensors", metadata=tag)
        if ema is not None:
            current = final / "ema.safetensors"
            save(ema, tmp / "ema.safetensors", metadata={**tag, "ema": str(meta.get("ema"))})
        current = final / "state.safetensors"
        st = tmp / "state.safetensors"
        save_file({k: np.array(v, order="C") for k, v in state.items()}, str(st), metadata={"format": FORMAT})
        os.chmod(st, new_mode())  # safetensors' writer makes it 0600
        with open(st, "rb") as f:
            os.fsync(f.fileno())
        files = {p.name: _sha256(p) for p in sorted(tmp.iterdir())}
        current = final / "state.json"
        body = {**meta, "format": FORMAT, "epoch": epoch, "files": files}
        _write_json(tmp / "state.json", {**body, "meta_sha256": meta_digest(body)})
        _fsync_dir(tmp)
        current = final
        if final.exists():  # an older run's epoch folder: move it aside, then drop it
            old = Path(tempfile.mkdtemp(dir=root, prefix=f".epoch-{epoch:04d}.tmp-old"))
            os.replace(final, old / "x")
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, final)
        _fsync_dir(root)
    except BaseException as e:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        err = as_write_error(e, current)
        if err is None or (err is e and e.filename == str(current)):
            raise
        raise WriteError(err.errno, err.strerror, str(current)) from e
    for n, p in existing_epochs(out)[KEEP:]:
        if n < epoch and n not in keep:
            shutil.rmtree(p, ignore_errors=True)
    save(weights, out / "weights.safetensors", metadata={"model": meta["model"], "epoch": str(epoch)})
    if ema is not None:
        save(ema, out / "ema.safetensors", metadata={"model": meta["model"], "epoch": str(epoch), "ema": str(meta.get("ema"))})
    return final


def read_checkpoint(path: Path) -> Checkpoint:
    """Read and verify one checkpoint folder (raises TrainError if it is damaged)."""
    from safetensors.numpy import load_file

    try:
        meta = json.loads((path / "state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise fail(f"{path}: unreadable checkpoint ({type(e).__name__})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise fail(f"{path}: not a specc training checkpoint (format {meta.get('format') if isinstance(meta, dict) else None!r})")
    if meta.get("meta_sha256") != meta_digest(meta):
        what = "has no digest (written by an older specc, or edited)" if "meta_sha256" not in meta else "does not match its digest (edited or damaged)"
        raise fail(f"{path}: state.json {what}")
    files = meta.get("files")
    m = _NAME.match(path.name)
    if not isinstance(files, dict) or not {"weights.safetensors", "state.safetensors"} <= set(files):
        raise fail(f"{path}: state.json lacks the hashes of its files")
    if m is None or meta.get("epoch") != int(m.group(1)) or not isinstance(meta.get("state"), (dict, list)) or not isinstance(meta.get("history", []), list):
        raise fail(f"{path}: state.json does not describe epoch {m.group(1) if m else '?'} (epoch {meta.get('epoch')!r})")
    present = {p.name for p in path.iterdir() if p.name != "state.json"}
    if present - set(files):
        raise fail(f"{path}: unexpected file(s) {', '.join(sorted(present - set(files)))} (not in state.json's hashes)")
    for name, digest in files.items():
        f = path / name
        if not isinstance(name, str) or "/" in name or not f.is_file() or _sha256(f) != digest:
            raise fail(f"{path}: {name} is missing or damaged (hash mismatch)")
    try:
        weights = load_weights(path / "weights.safetensors")
        ema = load_weights(path / "ema.safetensors") if "ema.safetensors" in files else None
        state = load_file(str(path / "state.safetensors"))
    except (CheckpointError, OSError, ValueError) as e:
        raise fail(f"{path}: unreadable checkpoint ({e})") from None
    except Exception as e:  # noqa: BLE001 - safetensors' own error type for a damaged file
        raise fail(f"{path}: unreadable checkpoint ({type(e).__name__}: {e})") from None
    return Checkpoint(path, meta, weights, ema, state)


def latest_checkpoint(out: Path) -> tuple[Checkpoint | None, list[str]]:
    """The newest valid checkpoint in ``out`` (None if there is none), and notes about
    damaged newer ones that were passed over."""
    notes = []
    for _, p in existing_epochs(out):
        try:
            return read_checkpoint(p), notes
        except Exception as e:  # noqa: BLE001 - a damaged checkpoint: fall back to an older one
            notes.append(str(getattr(e, "message", e)))
    return None, notes
