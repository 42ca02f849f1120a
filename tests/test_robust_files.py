"""Weights and data files that are damaged, truncated, hostile or odd: NaN/inf, complex,
integer and boolean weights (refused with the tensor's name, NaN accepted with
--allow-nonfinite), npz headers that declare more than the file holds (refused before
anything is allocated), scalars, truncated safetensors / npz / .pt / .h5 — and atomic
writes through symlinks and onto folders.  Exit 1 or 2 with a message, never 3."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from specc.cli import main
from specc.fsutil import WriteError, atomic_write_text
from specc.weights import CheckpointError, load, save
from specc.weights.io import MAX_DEFLATE_RATIO, load_npz

TINY = """
model tiny {
  input x: float32[6]
  dense(4, activation=relu)
  dense(3, activation=softmax)
  train {
    loss sparse_categorical_crossentropy
    optimizer adam(lr=1e-2)
    batch 16
    epochs 1
  }
}
"""


@pytest.fixture
def spec(tmp_path) -> Path:
    p = tmp_path / "tiny.spec"
    p.write_text(TINY)
    return p


@pytest.fixture
def good(spec, tmp_path, capsys) -> Path:
    p = tmp_path / "w.safetensors"
    assert main(["weights", "init", str(spec), "-o", str(p)]) == 0
    capsys.readouterr()
    return p


def cli(capsys, *argv) -> tuple[int, str]:
    rc = main([str(a) for a in argv])
    return rc, capsys.readouterr().err


def altered(good: Path, dest: Path, name: str, value) -> Path:
    w = load(good)
    w[name] = value(w[name])
    save(w, dest)
    return dest


# ---------------------------------------------------------------- weight values


BAD_VALUES = [
    (lambda a: np.where(np.arange(a.size).reshape(a.shape) == 3, np.nan, a), "dense.kernel: 1 of 24 values are NaN or infinite"),
    (lambda a: np.full_like(a, np.inf), "dense.kernel: 24 of 24 values are NaN or infinite"),
    (lambda a: a.astype(np.complex64), "dense.kernel: complex values (complex64)"),
    (lambda a: a.astype(np.int32), "dense.kernel: integer values (int32)"),
    (lambda a: a > 0, "dense.kernel: boolean values (bool)"),
]
# safetensors has no complex dtype, so a complex tensor can only arrive in an .npz
CASES = [(v, m, suffix) for v, m in BAD_VALUES for suffix in (".safetensors", ".npz") if not (suffix == ".safetensors" and "complex" in m)]


@pytest.mark.parametrize("value, message, suffix", CASES)
def test_bad_weight_values_are_refused_by_name(spec, good, tmp_path, capsys, value, message, suffix):
    bad = tmp_path / f"bad{suffix}"
    w = load(good)
    w["dense.kernel"] = value(w["dense.kernel"])
    save(w, bad)
    rc, err = cli(capsys, "weights", "convert", spec, bad, tmp_path / "out.safetensors")
    assert rc == 1, err
    assert message in err
    assert not (tmp_path / "out.safetensors").exists()
    rc, err = cli(capsys, "evaluate", spec, "--weights", bad, "--data", "synthetic")
    assert rc == 1 and message in err, err
    nonfinite = "NaN" in message
    assert ("--allow-nonfinite" in err) == nonfinite
    rc, err = cli(capsys, "weights", "convert", spec, bad, tmp_path / "out.safetensors", "--allow-nonfinite")
    assert (rc == 0) == nonfinite, err  # the flag admits NaN/inf, never non-floats


def test_nonfinite_init_from(spec, good, tmp_path, capsys):
    bad = altered(good, tmp_path / "nan.safetensors", "dense_1.bias", lambda a: a * np.nan)
    rc, err = cli(capsys, "train", spec, "--data", "synthetic", "--out", tmp_path / "r", "--init-from", bad, "-q")
    assert rc == 1 and "dense_1.bias: 3 of 3 values are NaN" in err and "--allow-nonfinite" in err
    rc, err = cli(capsys, "train", spec, "--data", "synthetic", "--out", tmp_path / "r", "--init-from", bad, "-q", "--allow-nonfinite")
    assert rc == 0, err


def test_torch_state_dict_values(spec, tmp_path, capsys):
    import torch

    from specc.backends.torch.plan import make_plan
    from specc.backends.torch.weights import to_state_dict
    from specc.weights import init_weights

    model = __import__("specc").load(spec)
    sd = {k: torch.from_numpy(np.asarray(v, np.float32)) for k, v in to_state_dict(make_plan(model), init_weights(model)).items()}
    first = next(iter(sd))
    for value, message in ((sd[first].to(torch.int64), f"{first}: int64 values"), (sd[first].to(torch.complex64), f"{first}: complex64 values"), (3, f"{first}: a int, not a tensor")):
        p = tmp_path / "sd.pt"
        torch.save({**sd, first: value}, p)
        rc, err = cli(capsys, "weights", "convert", spec, p, tmp_path / "o.safetensors")
        assert rc == 1 and message in err, err
    torch.save({**sd, first: sd[first][:1]}, tmp_path / "sd.pt")  # wrong shape
    rc, err = cli(capsys, "weights", "convert", spec, tmp_path / "sd.pt", tmp_path / "o.safetensors")
    assert rc == 1 and "does not fit model tiny" in err, err


# ---------------------------------------------------------------- npz bounded by the file


def _npz_with_header(path: Path, shape: tuple, data: bytes, compress: int = zipfile.ZIP_STORED, name: str = "x") -> Path:
    """An .npz whose member ``name`` has a valid .npy header declaring ``shape`` float64,
    followed by ``data`` (however short)."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w", compression=compress) as z:
        z.writestr(f"{name}.npy", buf.getvalue() + data)
    return path


@pytest.mark.parametrize("compress", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_npz_header_larger_than_the_file_is_refused_before_allocating(tmp_path, compress):
    p = _npz_with_header(tmp_path / "huge.npz", (10**12,), b"\0" * 64, compress)  # declares 8 TB
    with pytest.raises(CheckpointError, match=r"declares shape \(1000000000000,\) float64 \(8000000000000 bytes\) but holds"):
        load_npz(p)


def test_npz_zip_entry_claiming_more_than_deflate_allows(tmp_path):
    p = _npz_with_header(tmp_path / "z.npz", (4,), np.zeros(4).tobytes(), zipfile.ZIP_DEFLATED)
    data = bytearray(p.read_bytes())
    info = zipfile.ZipFile(p).infolist()[0]
    claimed = (info.compress_size * MAX_DEFLATE_RATIO + 4096).to_bytes(4, "little")
    for off in (22, data.rfind(b"PK\x01\x02") + 24):  # local header and central directory
        data[off : off + 4] = claimed
    p.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="is damaged"):
        load_npz(p)


def test_npz_data_bounded_too(spec, tmp_path, capsys):
    p = _npz_with_header(tmp_path / "d.npz", (10**11, 6), b"\0" * 48)
    with zipfile.ZipFile(p, "a") as z:
        z.writestr("y.npy", b"")
    rc, err = cli(capsys, "train", spec, "--data", p, "--out", tmp_path / "r", "-q")
    assert rc == 1 and "declares shape (100000000000, 6)" in err, err


def test_npz_scalars_and_objects(spec, tmp_path, capsys):
    np.savez(tmp_path / "s.npz", x=np.float32(1), y=np.int64(1))
    rc, err = cli(capsys, "train", spec, "--data", tmp_path / "s.npz", "--out", tmp_path / "r", "-q")
    assert rc == 1 and "x: a scalar" in err, err
    np.savez(tmp_path / "o.npz", x=np.array([{"a": 1}], dtype=object), y=np.zeros(1))
    rc, err = cli(capsys, "train", spec, "--data", tmp_path / "o.npz", "--out", tmp_path / "r", "-q")
    assert rc == 1 and "Python objects" in err, err
    np.savez(tmp_path / "w.npz", **{"dense.kernel": np.array([{"a": 1}], dtype=object)})
    rc, err = cli(capsys, "weights", "convert", spec, tmp_path / "w.npz", tmp_path / "o.safetensors")
    assert rc == 1 and "Python objects" in err, err


# ---------------------------------------------------------------- damaged files


def _truncations(data: bytes):
    n = len(data)
    return sorted({0, 1, 8, n // 3, n // 2, n - 8, n - 1} - {n})


@pytest.mark.parametrize("suffix", [".safetensors", ".npz", ".pt", ".weights.h5"])
def test_truncated_checkpoints(spec, tmp_path, capsys, suffix):
    whole = tmp_path / f"w{suffix}"
    rc, err = cli(capsys, "weights", "init", spec, "-o", whole)
    assert rc == 0, err
    data = whole.read_bytes()
    for cut in _truncations(data):
        broken = tmp_path / f"cut{suffix}"
        broken.write_bytes(data[:cut])
        rc, err = cli(capsys, "weights", "convert", spec, broken, tmp_path / "o.safetensors")
        assert rc == 1, (cut, err)
        assert str(broken) in err
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF
    (tmp_path / f"flip{suffix}").write_bytes(bytes(flipped))
    rc, err = cli(capsys, "weights", "convert", spec, tmp_path / f"flip{suffix}", tmp_path / "o.safetensors")
    assert rc in (0, 1), err  # a flipped byte inside a float is still a float


def test_truncated_checkpoints_for_evaluate_and_resume(spec, good, tmp_path, capsys):
    data = good.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    rc, err = cli(capsys, "evaluate", spec, "--weights", tmp_path / "cut.safetensors", "--data", "synthetic")
    assert rc == 1 and "not a readable checkpoint" in err, err


# ---------------------------------------------------------------- atomic writes


def test_fmt_write_keeps_a_symlink(tmp_path, capsys):
    real = tmp_path / "real" / "a.spec"
    real.parent.mkdir()
    real.write_text("model m { input x: float32[3]\n dense(2) }\n")
    link = tmp_path / "link.spec"
    link.symlink_to(real)
    chain = tmp_path / "chain.spec"
    chain.symlink_to(link)
    rc, err = cli(capsys, "fmt", "--write", chain)
    assert rc == 0, err
    assert chain.is_symlink() and link.is_symlink() and os.readlink(chain) == str(link)
    assert real.read_text().startswith("model m {\n")
    assert sorted(p.name for p in real.parent.iterdir()) == ["a.spec"]  # no temp file left
    rc, err = cli(capsys, "fmt", "--check", link)
    assert rc == 0, err


def test_atomic_write_to_a_folder_or_dangling_link(tmp_path):
    with pytest.raises(WriteError, match="is a folder"):
        atomic_write_text(tmp_path, "x")
    dangling = tmp_path / "d.txt"
    dangling.symlink_to(tmp_path / "sub" / "target.txt")
    atomic_write_text(dangling, "hello")  # creates the target, keeps the link
    assert dangling.is_symlink() and (tmp_path / "sub" / "target.txt").read_text() == "hello"


def test_outputs_onto_folders_are_usage_errors(spec, good, tmp_path, capsys):
    d = tmp_path / "dir.py"
    d.mkdir()
    rc, err = cli(capsys, "compile", spec, "--to", "torch", "-o", d)
    assert rc == 2 and f"cannot write {d}: is a folder" in err, err
    d2 = tmp_path / "dir.safetensors"
    d2.mkdir()
    rc, err = cli(capsys, "weights", "convert", spec, good, d2)
    assert rc == 2 and "is a folder" in err, err


def test_integer_datasets_in_keras_weights(spec, tmp_path, capsys):
    import h5py

    p = tmp_path / "k.weights.h5"
    rc, err = cli(capsys, "weights", "init", spec, "-o", p)
    assert rc == 0, err
    with h5py.File(p, "r+") as f:
        name = "layers/dense/vars/0"
        data = f[name][()]
        del f[name]
        f[name] = data.astype(np.int32)
    rc, err = cli(capsys, "weights", "convert", spec, p, tmp_path / "o.safetensors")
    assert rc == 1 and "layers/dense/vars/0: int32 values" in err, err


def test_export_onto_a_folder_is_an_environment_error(tmp_path):
    from specc.cli import environment_error
    from specc.export.atomic import atomic_target

    (tmp_path / "m.onnx").mkdir()
    with pytest.raises(IsADirectoryError) as e, atomic_target(tmp_path / "m.onnx") as tmp:
        tmp.write_bytes(b"model")
    problem = environment_error(e.value)
    assert problem is not None and problem.exit_code == 2 and f"{tmp_path / 'm.onnx'}: is a folder" in problem.render()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]  # the temporary folder is gone


def test_atomic_write_into_a_pipe_or_device_keeps_it(tmp_path):
    import stat
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, encoding="utf-8").read()))
    reader.start()
    atomic_write_text(fifo, "through the pipe")
    reader.join(timeout=30)
    assert got == ["through the pipe"] and stat.S_ISFIFO(fifo.stat().st_mode)  # still a pipe
    link = tmp_path / "null"
    link.symlink_to("/dev/null")
    atomic_write_text(link, "gone")
    assert stat.S_ISCHR(Path("/dev/null").stat().st_mode) and link.is_symlink()
