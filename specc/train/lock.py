"""One run at a time per ``--out``: ``specc train`` holds an exclusive lock on
``OUT/.lock`` while it writes there; a second run into the same folder stops at once with
a clear error (exit 2) instead of mixing its checkpoints with the first one's.

The lock is an ``flock`` on the file, which the kernel drops when the process ends — so a
run that was killed (SIGKILL, a crash, a power cut) leaves no stale lock behind.  Where a
file system cannot ``flock`` (some network mounts) the lock falls back to the pid written
in the file: it is stale when that process no longer runs.  The file itself stays (removing
it would let a third run lock a new file while the second still holds the old one)."""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

from specc.extras import EnvError

__all__ = ["RunLock", "LOCK_NAME"]

LOCK_NAME = ".lock"


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, someone else's
        return True
    return True


class RunLock:
    """``with RunLock(out): …`` — or ``acquire()`` / ``release()``."""

    def __init__(self, out: str | os.PathLike):
        self.out = Path(out)
        self.path = self.out / LOCK_NAME
        self.fd: int | None = None

    def _owner(self) -> str:
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace").split()
        except OSError:
            return "another process"
        return f"process {text[0]}" + (f" on {text[1]}" if len(text) > 1 else "") if text else "another process"

    def _busy(self) -> EnvError:
        return EnvError(f"--out {self.out} is in use: {self._owner()} is training into it", "wait for that run to finish (then --resume it to train longer), or choose another --out")

    def acquire(self) -> RunLock:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as e:
            raise EnvError(f"cannot write into --out {self.out}: {e.strerror}", "choose a folder you can write to") from None
        try:
            import fcntl

            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise self._busy() from None
                self._pid_fallback()  # ENOLCK / EOPNOTSUPP: no flock on this file system
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
        self.fd = fd
        return self

    def _pid_fallback(self) -> None:
        try:
            words = self.path.read_text(encoding="utf-8").split()
            pid, host = int(words[0]), (words[1] if len(words) > 1 else "")
        except (OSError, ValueError, IndexError):
            return  # empty or unreadable: nobody holds it
        if pid != os.getpid() and host in ("", socket.gethostname()) and _pid_alive(pid):
            raise self._busy()

    def release(self) -> None:
        if self.fd is not None:
            try:
                os.ftruncate(self.fd, 0)
            except OSError:
                pass
            os.close(self.fd)  # drops the flock
            self.fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
