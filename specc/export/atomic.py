"""Atomic export: the framework writes to a temporary path in the target's folder, which
is then renamed over the target — a failed or interrupted export leaves the old file (or
nothing), never half a model."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from specc.fsutil import as_write_error, new_mode

__all__ = ["atomic_target"]


@contextlib.contextmanager
def atomic_target(out: Path, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path (same folder, same suffix) that becomes ``out`` on success."""
    out.parent.mkdir(parents=True, exist_ok=True)
    holder = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp"))
    tmp = holder / out.name  # keeps the suffix frameworks insist on (.keras, .onnx)
    try:
        try:
            yield tmp
        except Exception as e:  # a framework's writer hitting a full disk: name the file
            err = as_write_error(e, out)
            if err is None or err is e:
                raise
            raise err from e
        if not tmp.exists():
            from specc.train.errors import fail

            raise fail(f"the exporter wrote nothing for {out}", "please report it with the spec")
        if directory or tmp.is_dir():
            _umask_modes(tmp)
            if out.exists():
                old = holder / "old"
                os.replace(out, old)
            os.replace(tmp, out)
        else:
            if out.is_dir():
                raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", str(out))
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, out)
    finally:
        shutil.rmtree(holder, ignore_errors=True)


def _umask_modes(folder: Path) -> None:
    """Give an exported folder (TensorFlow's SavedModel writes its folders 0755 whatever
    the umask) the modes every other file specc writes has: 0777/0666 & ~umask."""
    os.chmod(folder, new_mode(directory=True))
    for root, dirs, files in os.walk(folder):
        for d in dirs:
            os.chmod(os.path.join(root, d), new_mode(directory=True))
        for f in files:
            os.chmod(os.path.join(root, f), new_mode())
