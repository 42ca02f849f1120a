"""Atomic export: the framework writes to a temporary path in the target's folder, which
is then renamed over the target — a failed or interrupted export leaves the old file (or
nothing), never half a model."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_target"]


@contextlib.contextmanager
def atomic_target(out: Path, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path (same folder, same suffix) that becomes ``out`` on success."""
    out.parent.mkdir(parents=True, exist_ok=True)
    holder = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp"))
    tmp = holder / out.name  # keeps the suffix frameworks insist on (.keras, .onnx)
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"the exporter wrote nothing at {tmp}")
        if directory or tmp.is_dir():
            if out.exists():
                old = holder / "old"
                os.replace(out, old)
            os.replace(tmp, out)
        else:
            if out.is_dir():
                raise IsADirectoryError(f"{out} is a folder")
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, out)
    finally:
        shutil.rmtree(holder, ignore_errors=True)
