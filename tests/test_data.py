"""Training data: the digits set, NPZ files, synthetic data, and the checks that reject
bad data before any training with one clear message (CLI: exit 1, no traceback)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import specc
from specc.train.batches import epoch_batches, shard
from specc.train.data import load_data, split_indices, synthetic_arrays
from specc.train.errors import TrainError

ROOT = Path(__file__).resolve().parents[1]

IMAGES = """
model imgs {
  input image: float32[8, 8, 1]
  flatten
  dense(10, activation=softmax)
  train { loss sparse_categorical_crossentropy
          batch 32
          validation_split 0.25 }
}
"""

TOKENS = """
model toks {
  input tokens: int32[5]
  embedding(vocab=20, dim=4)
  flatten
  dense(3, activation=softmax)
  train { loss categorical_crossentropy }
}
"""

BINARY = """
model bin {
  input f: float32[4]
  dense(1, activation=sigmoid)
  train { loss binary_crossentropy
          metrics [accuracy, precision] }
}
"""


def npz(tmp_path: Path, name: str = "d.npz", **arrays) -> str:
    p = tmp_path / name
    np.savez(p, **arrays)
    return str(p)


def images(n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    return rng.random((n, 8, 8, 1)).astype(np.float32), rng.integers(0, 10, n)


def test_digits_fixed_stratified_split():
    model = specc.loads(IMAGES)
    a, b = load_data(model, "digits"), load_data(model, "digits")
    assert (len(a.train), len(a.val)) == (1438, 359)
    np.testing.assert_array_equal(a.val.xs[0], b.val.xs[0])  # fixed, not seeded by the run
    x = a.train.xs[0]
    assert x.dtype == np.float32 and x.shape[1:] == (8, 8, 1) and x.min() == 0.0 and x.max() == 1.0
    counts = np.bincount(a.val.ys[0], minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37  # stratified: ~20 % of every class


def test_digits_one_hot_for_categorical_loss():
    model = specc.loads(IMAGES.replace("sparse_categorical_crossentropy", "categorical_crossentropy"))
    d = load_data(model, "digits")
    y = d.train.ys[0]
    assert y.shape == (1438, 10) and y.dtype == np.float32 and np.all(y.sum(1) == 1)


def test_digits_refuses_other_models():
    with pytest.raises(TrainError, match="8×8×1 images"):
        load_data(specc.load(ROOT / "specs" / "mnist_cnn.spec"), "digits")


def test_npz_with_and_without_validation_arrays(tmp_path, rng):
    model = specc.loads(IMAGES)
    x, y = images(40, rng)
    d = load_data(model, npz(tmp_path, x=x, y=y))
    assert (len(d.train), len(d.val)) == (30, 10)  # the spec's validation_split 0.25
    assert sorted(np.concatenate([d.train.ys[0], d.val.ys[0]])) == sorted(y)
    d = load_data(model, npz(tmp_path, "v.npz", x=x, y=y[:, None], x_val=x[:5], y_val=y[:5]))
    assert (len(d.train), len(d.val)) == (40, 5)
    assert d.train.ys[0].shape == (40,) and d.train.ys[0].dtype == np.int64  # (N, 1) labels accepted


def test_integer_labels_become_one_hot_and_ids_keep_their_type(tmp_path, rng):
    model = specc.loads(TOKENS)
    x = rng.integers(0, 20, (12, 5)).astype(np.int64)
    d = load_data(model, npz(tmp_path, x=x, y=rng.integers(0, 3, 12)))
    assert d.train.xs[0].dtype == np.int32 and d.train.ys[0].shape[1:] == (3,)


BAD = [
    # (spec, arrays, message fragment)
    (IMAGES, {"x": ("img", lambda a: a.reshape(-1, 64)), "y": "lab"}, r"examples have shape \(64\), expected \[8, 8, 1\]"),
    (IMAGES, {"x": ("img", lambda a: (a * 255).astype(np.uint8)), "y": "lab"}, "uint8 array for the float input 'image'"),
    (IMAGES, {"x": "img", "y": ("lab", lambda a: a + 8)}, r"label 1[0-2] \(example \d+\) is out of range for the 10 classes"),
    (IMAGES, {"x": "img", "y": ("lab", lambda a: a[:-1])}, "mismatched lengths: x has 30, y has 29 examples"),
    (IMAGES, {"x": "img", "y": ("lab", lambda a: a + 0.5)}, "labels must be integer class indices"),
    (IMAGES, {"x": ("img", lambda a: np.where(a > 0.99, np.nan, a)), "y": "lab"}, "NaN or infinite values"),
    (IMAGES, {"x": "img"}, r"missing array\(s\) y \(targets\); the file holds x"),
    (IMAGES, {"x": "img", "y": "lab", "x_val": "img"}, "validation inputs without targets"),
    (TOKENS, {"x": ("tok", lambda a: a.astype(np.float32)), "y": "lab3"}, "float32 array for the integer input 'tokens'"),
    (TOKENS, {"x": ("tok", lambda a: a + 15), "y": "lab3"}, r"id \d+ \(example \d+\) is out of range for the embedding's vocab of 20"),
    (TOKENS, {"x": ("tok", lambda a: a - 30), "y": "lab3"}, "negative id"),
    (BINARY, {"x": "feat", "y": ("bin", lambda a: a * 3)}, r"targets outside \[0, 1\]"),
    (BINARY, {"x": "feat", "y": ("bin", lambda a: np.stack([a, a], 1))}, r"targets have shape \(2\) per example, expected \[1\]"),
]


def _arrays(spec_arrays: dict, rng) -> dict:
    base = {
        "img": rng.random((30, 8, 8, 1)).astype(np.float32),
        "lab": rng.integers(0, 5, 30),
        "tok": rng.integers(0, 10, (30, 5)),
        "lab3": rng.integers(0, 3, 30),
        "feat": rng.random((30, 4)).astype(np.float32),
        "bin": rng.integers(0, 2, 30).astype(np.float32),
    }
    out = {}
    for k, v in spec_arrays.items():
        name, fn = v if isinstance(v, tuple) else (v, None)
        out[k] = fn(base[name]) if fn else base[name]
    return out


@pytest.mark.parametrize("spec,arrays,message", BAD)
def test_bad_npz_is_refused_clearly(tmp_path, rng, spec, arrays, message):
    path = npz(tmp_path, **_arrays(arrays, rng))
    with pytest.raises(TrainError, match=message) as e:
        load_data(specc.loads(spec), path)
    assert "\n" not in e.value.message and e.value.message.startswith(path)


def test_files_that_are_not_npz(tmp_path):
    model = specc.loads(IMAGES)
    with pytest.raises(TrainError, match="no such data file"):
        load_data(model, str(tmp_path / "missing.npz"))
    (tmp_path / "t.npz").write_text("not a zip")
    with pytest.raises(TrainError, match=r"not an \.npz file"):
        load_data(model, str(tmp_path / "t.npz"))
    np.save(tmp_path / "a.npy", np.zeros(3))
    with pytest.raises(TrainError, match=r"single \.npy array"):
        load_data(model, str(tmp_path / "a.npy"))
    np.savez(tmp_path / "o.npz", x=np.array([{"a": 1}], dtype=object), y=np.zeros(1))
    with pytest.raises(TrainError, match="Python objects"):
        load_data(model, str(tmp_path / "o.npz"))
    with pytest.raises(TrainError, match="unknown data 'mnist'"):
        load_data(model, "mnist")


def test_synthetic_data_follow_the_spec(rng):
    for text in (IMAGES, TOKENS, BINARY):
        model = specc.loads(text)
        d = load_data(model, "synthetic")
        assert len(d.train) + len(d.val) == 1024
        for x, inp in zip(d.train.xs, model.inputs, strict=True):
            assert x.shape[1:] == tuple(inp.type.shape)
    xs, ys = synthetic_arrays(specc.loads(BINARY))
    assert 0.3 < ys[0].mean() < 0.7  # a balanced, non-trivial rule
    xs2, ys2 = synthetic_arrays(specc.loads(BINARY))
    np.testing.assert_array_equal(ys[0], ys2[0])


def test_batches_are_seeded_permutations_and_shards_cover_them():
    a = epoch_batches(3, 1, 103, 10)
    assert [len(b) for b in a] == [10] * 10 + [3]
    assert sorted(np.concatenate(a)) == list(range(103))
    np.testing.assert_array_equal(np.concatenate(a), np.concatenate(epoch_batches(3, 1, 103, 10)))
    assert not np.array_equal(np.concatenate(a), np.concatenate(epoch_batches(3, 2, 103, 10)))
    parts = [shard(a[-1], r, 2) for r in range(2)]
    np.testing.assert_array_equal(np.concatenate(parts), a[-1])
    t, v = split_indices(50, 0.2, np.arange(50) % 5)
    assert len(v) == 10 and sorted(np.concatenate([t, v])) == list(range(50))


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "specc", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


@pytest.mark.parametrize(
    "arrays,message",
    [
        (None, "no such data file"),
        ({"x": ("img", lambda a: a.reshape(-1, 64)), "y": "lab"}, "examples have shape (64)"),
        ({"x": ("img", lambda a: (a * 255).astype(np.uint8)), "y": "lab"}, "uint8 array for the float input"),
        ({"x": "img", "y": ("lab", lambda a: a + 8)}, "is out of range for the 10 classes"),
    ],
)
def test_cli_bad_data_exits_1_without_traceback(tmp_path, rng, arrays, message):
    (tmp_path / "m.spec").write_text(IMAGES)
    data = str(tmp_path / "nothing.npz") if arrays is None else npz(tmp_path, **_arrays(arrays, rng))
    r = _cli("train", "m.spec", "--data", data, "--out", "run", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr + r.stdout
    assert "help:" in r.stderr
    assert not (tmp_path / "run" / "checkpoints").exists()
