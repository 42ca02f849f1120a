"""Atomic file writes: write a temporary file beside the target, flush it to disk, rename
it over the target.  A reader sees the old file or the new one, never half of one.

A symbolic link is kept: the file it points to is replaced (the temporary file is written
beside the *target*), so ``specc fmt --write link.spec`` formats the real file and the link
still points at it.  A write that fails — a full disk, a quota, a read-only folder, even
inside a library writer that reports it as its own exception (safetensors, torch.save) —
raises :class:`WriteError`, an ``OSError`` naming the file being written, after removing
the temporary file."""

from __future__ import annotations

import errno
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["atomic_write", "atomic_write_text", "new_mode", "write_target", "WriteError", "as_write_error", "describe_os_error", "disk_full"]

# library writers (Rust's std::io via safetensors) report the OS error inside their message
_RUST_OS_ERROR = re.compile(r"Os \{ code: (\d+)|\(os error (\d+)\)")
_LOW_SPACE = 1 << 20  # below this many free bytes a failed write is taken to be a full disk


class WriteError(OSError):
    """Writing ``filename`` failed (``errno``/``strerror`` say why); nothing was replaced."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def new_mode(directory: bool = False) -> int:
    """The mode a new file (0666) or folder (0777) gets under the process's umask: what
    every file and folder specc writes is given, whichever library created it."""
    return (0o777 if directory else 0o666) & ~_umask()


def write_target(path: str | os.PathLike) -> Path:
    """The file a write to ``path`` replaces: ``path`` itself, or the end of its symlinks."""
    path = Path(path)
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def disk_full(folder: str | os.PathLike) -> bool:
    """Whether the file system holding ``folder`` has (almost) no space left."""
    try:
        st = os.statvfs(folder)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < _LOW_SPACE or (st.f_files > 0 and st.f_favail == 0)


def as_write_error(e: BaseException, path: Path) -> WriteError | None:
    """``e`` (raised while writing ``path``) as a :class:`WriteError`, if it is an I/O
    failure; None if it is something else (a bug, which must not be disguised)."""
    if isinstance(e, WriteError):
        return e
    from specc.errors import SpecError

    if isinstance(e, SpecError):  # a deliberate, explained error: never re-labelled
        return None
    if isinstance(e, OSError) and e.errno is not None:
        return WriteError(e.errno, e.strerror or os.strerror(e.errno), str(path))
    if isinstance(e, Exception):
        m = _RUST_OS_ERROR.search(str(e))
        if m:
            code = int(m.group(1) or m.group(2))
            return WriteError(code, os.strerror(code), str(path))
        if disk_full(path.parent):
            return WriteError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    return None


def describe_os_error(e: OSError) -> str:
    """One line: the file and what went wrong with it."""
    reason = e.strerror or (os.strerror(e.errno) if e.errno else str(e))
    if e.filename is None:
        return f"{reason}"
    where = f"{e.filename}" + (f" → {e.filename2}" if e.filename2 else "")
    verb = "cannot write" if isinstance(e, WriteError) else "cannot use"
    return f"{verb} {where}: {reason}"


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` then move the result to ``path`` (the target of a symlink).
    The file keeps the permissions of the file it replaces (new files: the usual
    0666 & ~umask).  Returns ``path`` as given."""
    given = Path(path)
    path = write_target(given)
    if path.is_dir():
        raise WriteError(errno.EISDIR, "is a folder, not a file", str(given))
    if path.exists() and not path.is_file():  # a device or a pipe (-o /dev/null, /dev/stdout): write into it, never replace it
        try:
            write(str(path))
        except BaseException as e:
            err = as_write_error(e, given)
            if err is not None and err is not e:
                raise err from e
            raise
        return given
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise WriteError(e.errno or errno.EIO, e.strerror or str(e), str(given)) from None
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        mode = path.stat().st_mode & 0o7777 if path.exists() else new_mode()
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as e:
        err = as_write_error(e, given)  # before the temporary file frees its space
        Path(tmp).unlink(missing_ok=True)
        if err is not None and err is not e:
            raise err from e
        raise
    return given


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)

    return atomic_write(path, write)
