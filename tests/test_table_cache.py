"""The parser-table cache (specc/syntax/table_cache.py) is data, never code: a damaged,
truncated, foreign or hostile file in the cache directory is ignored (the parser is built
from the grammar) — it is never executed, never an exception, never exit 3 — and a
missing, read-only or odd cache directory works.  A good cache is written and reused."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from specc.syntax import parser as P
from specc.syntax import table_cache as tc

ROOT = Path(__file__).resolve().parent.parent
IS_POSIX = hasattr(os, "getuid")


def _runtime():
    return {"postlex": P._PostLex(), "lexer_callbacks": {"COMMENT": P._on_comment}}


def _key() -> str:
    return tc.key_of(P.grammar_path().read_text(encoding="utf-8"), P._OPTIONS)


def _build():
    from lark import Lark

    return Lark(P.grammar_path().read_text(encoding="utf-8"), **P._OPTIONS, **_runtime())


def _load():
    return tc.load(_key(), P._OPTIONS, **_runtime())


def _signed(payload: bytes) -> bytes:
    """A file with a correct content hash: what a deliberate forger would write."""
    return hashlib.sha256(payload).hexdigest().encode("ascii") + b"\n" + payload


class _Boom:
    """Unpickling this runs code: it writes the marker file."""

    marker = ""

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "pwned"))


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("SPECC_CACHE_DIR", str(d))
    return d


@pytest.fixture
def good(cache) -> Path:
    tc.save(_key(), _build())
    f = cache / f"grammar-{_key()}.json"
    assert f.is_file()
    return f


def test_cache_is_written_private_and_reused(good, cache):
    if IS_POSIX:
        assert good.stat().st_mode & 0o077 == 0 and cache.stat().st_mode & 0o077 == 0
    p = _load()
    assert p is not None  # the cache is used (else the cold-start gain is silently lost)
    assert p.parse(tc.CANARY) == _build().parse(tc.CANARY)
    assert not list(cache.glob("*.tmp"))


def test_key_changes_with_grammar_lark_and_specc_versions(monkeypatch):
    import lark

    import specc.version

    g = P.grammar_path().read_text(encoding="utf-8")
    k = tc.key_of(g, P._OPTIONS)
    assert tc.key_of(g + "\n", P._OPTIONS) != k
    assert tc.key_of(g, {**P._OPTIONS, "propagate_positions": False}) != k
    monkeypatch.setattr(lark, "__version__", "0.0.0")
    assert tc.key_of(g, P._OPTIONS) != k
    monkeypatch.undo()
    monkeypatch.setattr(specc.version, "__version__", "9.9.9")
    assert tc.key_of(g, P._OPTIONS) != k


def _hostile_files(marker: Path, good_bytes: bytes) -> dict[str, bytes]:
    _Boom.marker = str(marker)
    bomb = pickle.dumps(_Boom())
    head, _, payload = good_bytes.partition(b"\n")
    doc = json.loads(payload)
    bad_options = json.loads(payload)
    bad_options["data"]["options"]["propagate_positions"] = False
    callbacks = json.loads(payload)
    callbacks["data"]["options"]["lexer_callbacks"] = {"COMMENT": "os.system"}
    regex = json.loads(payload)
    regex["data"]["options"]["regex"] = True
    no_states = json.loads(payload)
    no_states["data"]["parser"]["parser"]["states"] = {"__dict__": []}
    typed = json.loads(payload)
    typed["memo"] = {"__dict__": [[0, {"__type__": "Popen", "args": ["touch", str(marker)]}]]}
    return {
        "pickle": bomb,
        "signed pickle": _signed(bomb),
        "garbage": os.urandom(5000),
        "empty": b"",
        "truncated": good_bytes[: len(good_bytes) // 2],
        "one byte changed": good_bytes[:-10] + bytes([good_bytes[-10] ^ 1]) + good_bytes[-9:],
        "json, wrong structure": _signed(b'{"data": {}, "memo": {}}'),
        "json list": _signed(b"[1, 2, 3]"),
        "json nested deep": _signed(b"[" * 100_000 + b"]" * 100_000),
        "other parser options": _signed(json.dumps(bad_options).encode()),
        "callbacks in the file": _signed(json.dumps(callbacks).encode()),
        "regex option": _signed(json.dumps(regex).encode()),
        "tables that cannot parse": _signed(json.dumps(no_states).encode()),
        "foreign class": _signed(json.dumps(typed).encode()),
        "not utf-8": _signed(b"\xff\xfe" + payload),
        "huge": _signed(b" " * (tc.MAX_BYTES + 10) + json.dumps(doc).encode()),
    }


def test_hostile_cache_files_are_ignored_never_run(good, cache, tmp_path):
    marker = tmp_path / "pwned"
    files = _hostile_files(marker, good.read_bytes())
    for name, content in files.items():
        good.write_bytes(content)
        good.chmod(0o600)
        assert _load() is None, name
        assert not marker.exists(), name
    # a rebuilt cache replaces the bad file
    tc.save(_key(), _build())
    assert _load() is not None


@pytest.mark.skipif(not IS_POSIX, reason="file ownership and modes are POSIX")
def test_files_others_could_have_planted_are_ignored(good, cache, tmp_path):
    content = good.read_bytes()
    good.chmod(0o620)  # group-writable
    assert _load() is None
    good.chmod(0o602)  # world-writable
    assert _load() is None
    good.chmod(0o600)
    cache.chmod(0o777)  # a directory anyone can write into
    assert _load() is None
    tc.save(_key(), _build())  # and nothing is written there
    cache.chmod(0o700)
    assert _load() is not None
    # a symlink to a good file is not followed
    real = tmp_path / "elsewhere.json"
    real.write_bytes(content)
    real.chmod(0o600)
    good.unlink()
    good.symlink_to(real)
    assert _load() is None
    good.unlink()
    if os.getuid() == 0:  # another owner (only root can give a file away)
        good.write_bytes(content)
        os.chown(good, 65534, 65534)
        assert _load() is None
        os.chown(good, 0, 0)
        os.chown(cache, 65534, 65534)
        assert _load() is None
        os.chown(cache, 0, 0)


def test_odd_cache_locations_work(tmp_path, monkeypatch):
    some_file = tmp_path / "a-file"
    some_file.write_text("x")
    fifo_dir = tmp_path / "fifo"
    fifo_dir.mkdir()
    key = _key()
    if hasattr(os, "mkfifo"):
        os.mkfifo(fifo_dir / f"grammar-{key}.json")  # reading it would block
    (tmp_path / "dir" / f"grammar-{key}.json").mkdir(parents=True)
    for where in [some_file, some_file / "sub", fifo_dir, tmp_path / "dir", Path("/proc/self/nope"), "off", ""]:
        monkeypatch.setenv("SPECC_CACHE_DIR", str(where))
        assert _load() is None, where
        tc.save(key, _build())  # never raises
    monkeypatch.delenv("SPECC_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(some_file))
    assert _load() is None
    tc.save(key, _build())


def test_check_works_over_a_planted_pickle(tmp_path):
    """End to end: `specc check` with a pickle bomb where the cache file is: exit 0, not run."""
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    marker = tmp_path / "pwned"
    _Boom.marker = str(marker)
    planted = cache / f"grammar-{_key()}.json"
    planted.write_bytes(_signed(pickle.dumps(_Boom())))
    planted.chmod(0o600)
    # Lark parses (a valid spec would take the fast path, which needs no tables)
    env = {**os.environ, "SPECC_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT), "SPECC_PARSER": "lark"}
    r = subprocess.run(
        [sys.executable, "-m", "specc", "check", str(ROOT / "specs" / "digits_cnn.spec")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert not marker.exists()
    # the planted file was replaced by good tables, which the next start uses
    old = os.environ.get("SPECC_CACHE_DIR")
    os.environ["SPECC_CACHE_DIR"] = str(cache)
    try:
        assert _load() is not None
    finally:
        if old is None:
            del os.environ["SPECC_CACHE_DIR"]
        else:
            os.environ["SPECC_CACHE_DIR"] = old


def test_loading_the_cache_adds_no_comment_to_the_first_file(tmp_path):
    """The canary parse runs specc's comment callback: the first file a fresh process parses
    must keep exactly its own comments (`fmt --check` of a canonical file with comments)."""
    cache = tmp_path / "cache"
    # Lark parses (a valid spec would take the fast path, which needs no tables)
    env = {**os.environ, "SPECC_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT), "SPECC_PARSER": "lark"}
    spec = tmp_path / "c.spec"
    spec.write_text("# top\nmodel m {\n  input x: float32[4]  # why\n\n  dense(3)\n}\n")
    for _ in range(2):  # built (and saved), then loaded from the cache
        r = subprocess.run([sys.executable, "-m", "specc", "fmt", "--check", str(spec)], env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
    assert list(cache.glob("grammar-*.json"))
