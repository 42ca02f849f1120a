"""``.keras`` model files are inspected before Keras reads them (specc/weights/keras_file.py):
non-float or NaN/inf weights are refused by tensor name, zip entries are bounded by the
file's real size, and a damaged zip is a clean error — through `specc weights convert`
(exit 1, a damaged checkpoint) and `specc import` (exit 2), never a traceback or exit 3."""

from __future__ import annotations

import shutil
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("keras")
h5py = pytest.importorskip("h5py")

from specc.cli import main  # noqa: E402
from specc.weights.io import CheckpointError  # noqa: E402
from specc.weights.keras_file import inspect_keras_zip  # noqa: E402

TINY = """
model tiny {
  input x: float32[6]
  dense(4, activation=relu)
  dense(3, activation=softmax)
}
"""
TENSOR = "layers/dense/vars/0"


def cli(capsys, *args) -> tuple[int, str]:
    rc = main([str(a) for a in args])
    return rc, capsys.readouterr().err


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> tuple[Path, Path]:
    """The spec and a good .keras file of it."""
    d = tmp_path_factory.mktemp("keras_file")
    spec = d / "tiny.spec"
    spec.write_text(TINY)
    good = d / "good.keras"
    assert main(["weights", "init", str(spec), "-o", str(good)]) == 0
    return spec, good


def _rewrite_weights(src: Path, dst: Path, change) -> None:
    """``dst``: ``src`` with ``change(h5file)`` applied to its model.weights.h5."""
    work = dst.with_suffix(".h5.tmp")
    with zipfile.ZipFile(src) as zin:
        names = zin.namelist()
        h5name = next(n for n in names if n.endswith(".h5"))
        work.write_bytes(zin.read(h5name))
        with h5py.File(work, "r+") as f:
            change(f)
        with zipfile.ZipFile(dst, "w") as zout:
            for n in names:
                zout.writestr(n, work.read_bytes() if n == h5name else zin.read(n))
    work.unlink()


def _replace(name, fn):
    def change(f):
        data = f[name][()]
        del f[name]
        f[name] = fn(data)

    return change


def test_a_good_keras_file_passes_and_converts(made, tmp_path, capsys):
    spec, good = made
    inspect_keras_zip(good)
    rc, err = cli(capsys, "weights", "convert", spec, good, tmp_path / "o.safetensors")
    assert rc == 0, err


@pytest.mark.parametrize(
    "what, fn, expect",
    [
        ("integer", lambda a: a.astype(np.int32), f"{TENSOR}: int32 values"),
        ("complex", lambda a: a.astype(np.complex128), f"{TENSOR}: complex128 values"),
        ("boolean", lambda a: a > 0, f"{TENSOR}: bool values"),
        ("nan", lambda a: np.where(np.arange(a.size).reshape(a.shape) == 0, np.nan, a).astype(a.dtype), f"{TENSOR}: 1 of 24 values are NaN or infinite"),
        ("inf", lambda a: np.full_like(a, np.inf), f"{TENSOR}: 24 of 24 values are NaN or infinite"),
    ],
)
def test_bad_values_are_refused_by_tensor_name(made, tmp_path, capsys, what, fn, expect):
    spec, good = made
    bad = tmp_path / f"{what}.keras"
    _rewrite_weights(good, bad, _replace(TENSOR, fn))
    with pytest.raises(CheckpointError, match=expect.replace("(", r"\(")):
        inspect_keras_zip(bad)
    rc, err = cli(capsys, "weights", "convert", spec, bad, tmp_path / "o.safetensors")
    assert rc == 1 and expect in err and "Traceback" not in err, err
    if what in ("nan", "inf"):
        assert "--allow-nonfinite" in err
        inspect_keras_zip(bad, allow_nonfinite=True)  # accepted when asked for
    rc, err = cli(capsys, "import", bad, "-o", tmp_path / "imp.spec")
    assert rc == 2 and TENSOR in err, err


def _set_declared_size(path: Path, member: str, size: int) -> None:
    """Patch the central directory so that ``member`` claims ``size`` uncompressed bytes."""
    raw = bytearray(path.read_bytes())
    name = member.encode()
    at = raw.rfind(b"PK\x01\x02" + b"", 0)
    while at >= 0:
        n = struct.unpack_from("<H", raw, at + 28)[0]
        if bytes(raw[at + 46 : at + 46 + n]) == name:
            struct.pack_into("<I", raw, at + 24, size)
            break
        at = raw.rfind(b"PK\x01\x02", 0, at)
    else:
        raise AssertionError("member not found")
    path.write_bytes(bytes(raw))


def test_damaged_and_lying_zips_are_clean_errors(made, tmp_path, capsys):
    spec, good = made
    cases: dict[str, Path] = {}
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    cases["truncated"] = truncated
    garbage = tmp_path / "garbage.keras"
    garbage.write_bytes(b"PK\x03\x04" + b"\x00" * 500)
    cases["garbage"] = garbage
    empty = tmp_path / "empty.keras"
    empty.write_bytes(b"")
    cases["empty"] = empty
    no_config = tmp_path / "noconfig.keras"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(no_config, "w") as zout:
        for n in zin.namelist():
            if n != "config.json":
                zout.writestr(n, zin.read(n))
    cases["no config.json"] = no_config
    lying = tmp_path / "lying.keras"
    shutil.copy(good, lying)
    h5name = next(n for n in zipfile.ZipFile(good).namelist() if n.endswith(".h5"))
    _set_declared_size(lying, h5name, 2**32 - 1)  # claims 4 GiB stored in a small file
    cases["lying size"] = lying
    bad_h5 = tmp_path / "badh5.keras"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bad_h5, "w") as zout:
        for n in zin.namelist():
            zout.writestr(n, b"not hdf5 at all" if n == h5name else zin.read(n))
    cases["not hdf5 inside"] = bad_h5
    for what, p in cases.items():
        with pytest.raises(CheckpointError):
            inspect_keras_zip(p)
        rc, err = cli(capsys, "weights", "convert", spec, p, tmp_path / "o.safetensors")
        assert rc == 1 and str(p) in err and "Traceback" not in err and "internal error" not in err, (what, err)
        rc, err = cli(capsys, "import", p, "-o", tmp_path / "imp.spec")
        assert rc == 2 and str(p) in err and "internal error" not in err, (what, err)
