"""A cache of the built parser (Lark's LALR tables), so that ``specc check`` does not
rebuild them at every start (building costs ~0.2–1 s; loading the cache a fraction of it).

The tables are Lark's own serialisation (``memo_serialize``), written as JSON — never a
pickle, so a damaged or planted cache file cannot run code — in the user's cache directory
(``$SPECC_CACHE_DIR``, else ``$XDG_CACHE_HOME/specc``, else ``~/.cache/specc``; set
``SPECC_CACHE_DIR=off`` to disable it).  The file name holds a hash of the grammar, of
Lark's version and of the parser options; the file holds a hash of its own content.  Any
problem reading or writing it (missing, damaged, read-only disk, another version) means
the parser is built from the grammar, as without a cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["cache_dir", "load", "save"]

FORMAT = 1


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

    text = json.dumps([FORMAT, lark.__version__, grammar, sorted((k, repr(v)) for k, v in options.items())])
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


def load(key: str, **runtime: Any):
    """The cached parser for ``key`` (with the given callbacks), or None."""
    from lark import Lark

    d = cache_dir()
    if d is None:
        return None
    try:
        raw = (d / f"grammar-{key}.json").read_bytes()
        head, _, payload = raw.partition(b"\n")
        if hashlib.sha256(payload).hexdigest() != head.decode("ascii", "replace"):
            return None
        data = _decode(json.loads(payload))
        return Lark.__new__(Lark)._load(data, **runtime)
    except Exception:  # noqa: BLE001 - a missing or damaged cache: build the parser instead
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
