"""A cache of the built parser (Lark's LALR tables), so that ``specc check`` does not
rebuild them at every start (building costs ~0.2–1 s; loading the cache a fraction of it).

The tables are Lark's own serialisation (``memo_serialize``), written as JSON — never a
pickle, so a damaged or planted cache file cannot run code: decoding builds only lists,
dicts, tuples, strings and numbers, and Lark turns them into its own ``Rule`` /
``TerminalDef`` objects and nothing else — in the user's cache directory
(``$SPECC_CACHE_DIR``, else ``$XDG_CACHE_HOME/specc``, else ``~/.cache/specc``; set
``SPECC_CACHE_DIR=off`` to disable it).  The file name holds a hash of the grammar, of
Lark's and specc's versions and of the parser options; the file holds a hash of its own
content.

A cache file is used only when it could not have been planted by someone else: on POSIX
it must be a regular file (not a link), owned by the current user, not writable by group
or others, at most :data:`MAX_BYTES`, in a directory with the same owner and no group/other
write permission.  Its parser options must be exactly the ones specc builds with (the
callbacks are always specc's own, never read from the file), and the loaded parser must
parse a small canary spec.  Any problem reading or writing it (missing, damaged,
truncated, foreign, hostile, read-only disk, a file where the directory should be, another
version) means the parser is built from the grammar, as without a cache — never an error.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["cache_dir", "load", "save"]

FORMAT = 2
MAX_BYTES = 8 << 20  # the tables are ~130 KB; anything much bigger is not ours
CANARY = (  # a few of the grammar's forms: blocks, repeat, calls, keywords, numbers, strings (no
    # comment: the lexer's comment callback is specc's, and would collect it)
    'block b(n) {\n  dense(n, activation=relu)\n}\n'
    'model m {\n  input x: float32[8, 4]\n  repeat 2 { b(n=8) }\n  dense(10**2, name="d")\n'
    '  train {\n    loss mse\n    optimizer adam(lr=2e-3)\n    metrics [mae]\n  }\n}\n'
)


def cache_dir() -> Path | None:
    env = os.environ.get("SPECC_CACHE_DIR")
    if env is not None:
        return None if env.strip().lower() in ("", "off", "0", "none") else Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if base.startswith("~"):  # no home directory
        return None
    return Path(base) / "specc"


def key_of(grammar: str, options: dict[str, Any]) -> str:
    import lark

    from specc.version import __version__

    text = json.dumps(
        [FORMAT, lark.__version__, __version__, grammar, sorted((k, repr(v)) for k, v in options.items())]
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def _encode(v: Any) -> Any:
    """JSON for Lark's serialised data: it has tuples and dicts with integer keys."""
    if isinstance(v, dict):
        if all(isinstance(k, str) for k in v):
            return {k: _encode(x) for k, x in v.items()}
        return {"__dict__": [[_encode(k), _encode(x)] for k, x in v.items()]}
    if isinstance(v, tuple):
        return {"__tuple__": [_encode(x) for x in v]}
    if isinstance(v, list):
        return [_encode(x) for x in v]
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    raise TypeError(f"cannot cache a {type(v).__name__}")


def _decode(v: Any) -> Any:
    if isinstance(v, dict):
        if "__dict__" in v:
            return {_decode(k): _decode(x) for k, x in v["__dict__"]}
        if "__tuple__" in v:
            return tuple(_decode(x) for x in v["__tuple__"])
        return {k: _decode(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_decode(x) for x in v]
    return v


_RUNTIME_OPTIONS = ("postlex", "lexer_callbacks", "transformer", "tree_class", "_plugins")


def _expected_options(options: dict[str, Any]) -> dict[str, Any]:
    """The options a cache file must hold: Lark's full set for ``options``, less the runtime ones."""
    from lark.lark import LarkOptions

    full = dict(LarkOptions(dict(options)).options)
    if full.get("parser") == "lalr" and full.get("priority") == "auto":
        full["priority"] = "normal"  # what Lark's constructor does for LALR
    return {k: v for k, v in full.items() if k not in _RUNTIME_OPTIONS}


def _safe_dir(d: Path) -> bool:
    """``d`` is a directory only the current user can write into (always true off POSIX)."""
    if not hasattr(os, "getuid"):
        return True
    st = os.lstat(d)
    import stat

    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o022


def _read_trusted(path: Path) -> bytes | None:
    """The bytes of ``path`` if it is a regular file of ours that nobody else can write."""
    import stat

    if not _safe_dir(path.parent):
        return None
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_BYTES:
            return None
        if hasattr(os, "getuid") and (st.st_uid != os.getuid() or st.st_mode & 0o022):
            return None
        with os.fdopen(fd, "rb", closefd=False) as f:
            raw = f.read(MAX_BYTES + 1)
    finally:
        os.close(fd)
    return raw if len(raw) <= MAX_BYTES else None


def load(key: str, options: dict[str, Any], **runtime: Any):
    """The cached parser for ``key`` (built with ``options``, given the callbacks ``runtime``),
    or None when there is no usable cache file."""
    from lark import Lark

    d = cache_dir()
    if d is None:
        return None
    try:
        raw = _read_trusted(d / f"grammar-{key}.json")
        if raw is None:
            return None
        head, _, payload = raw.partition(b"\n")
        if hashlib.sha256(payload).hexdigest() != head.decode("ascii", "replace"):
            return None
        doc = _decode(json.loads(payload))
        if not isinstance(doc, dict) or set(doc) != {"data", "memo"}:
            return None
        data, memo = doc["data"], doc["memo"]
        if not isinstance(data, dict) or not isinstance(memo, dict) or not memo:
            return None
        if data.get("options") != _expected_options(options):
            return None
        parser = Lark.__new__(Lark)._load({"data": data, "memo": memo}, **runtime)
        parser.parse(CANARY)  # tables that load but cannot parse are not ours either
        return parser
    except Exception:  # noqa: BLE001 - a missing, damaged or foreign cache: build the parser instead
        return None


def save(key: str, parser) -> None:
    """Write ``parser``'s tables for ``key``, atomically; silently skipped on any problem."""
    from lark.grammar import Rule
    from lark.lexer import TerminalDef

    d = cache_dir()
    if d is None:
        return
    try:
        data, memo = parser.memo_serialize([TerminalDef, Rule])
        data["options"] = {k: v for k, v in data["options"].items() if k not in _RUNTIME_OPTIONS}
        payload = json.dumps(_encode({"data": data, "memo": memo}), separators=(",", ":")).encode("utf-8")
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _safe_dir(d):  # a file there would never be read back
            return
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".grammar-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(hashlib.sha256(payload).hexdigest().encode("ascii") + b"\n" + payload)
            os.replace(tmp, d / f"grammar-{key}.json")
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except Exception:  # noqa: BLE001 - a cache is an optimisation: never an error
        return
