"""Canonical weights: save/load, checks, and moving trained checkpoints between frameworks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import specc
from specc.cli import main
from specc.weights import CheckpointError, init_weights, load, save
from specc.weights.convert import read_weights, write_weights

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "digits_cnn.spec"


@pytest.fixture(scope="module")
def model():
    return specc.load(SPEC)


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_canonical_save_load_roundtrip(model, tmp_path, suffix):
    w = init_weights(model, 7)
    path = save(w, tmp_path / f"w{suffix}", {"model": model.name, "epoch": 3})
    back, meta = load(path, with_metadata=True)
    assert meta["model"] == model.name and meta["epoch"] == "3" and meta["format"] == "specc-canonical-v1"
    assert set(back) == set(w)
    for k in w:
        np.testing.assert_array_equal(back[k], w[k])
    assert [p.name for p in tmp_path.iterdir()] == [f"w{suffix}"]  # no temporary files left


def test_unreadable_and_mismatched_checkpoints_are_clear_errors(model, tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load(tmp_path / "missing.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load(bad)
    with pytest.raises(CheckpointError, match="unknown checkpoint format"):
        save({}, tmp_path / "w.pkl")
    w = init_weights(model)
    w["dense.kernel"] = w["dense.kernel"][:3]
    save(w, tmp_path / "short.npz")
    with pytest.raises(CheckpointError, match=r"dense.kernel: shape"):
        specc.build(model, "torch", weights=tmp_path / "short.npz")
    other = specc.loads("model other { input x: float32[3]\n dense(2) }")
    with pytest.raises(CheckpointError, match="does not fit model other: .*unexpected weight conv2d.kernel"):
        read_weights(other, tmp_path / "short.npz")


def test_interrupted_save_keeps_the_previous_checkpoint(model, tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    save(init_weights(model, 1), path)
    before = path.read_bytes()
    import safetensors.numpy

    def broken(arrays, filename, metadata=None):
        Path(filename).write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(safetensors.numpy, "save_file", broken)
    with pytest.raises(KeyboardInterrupt):
        save(init_weights(model, 2), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.safetensors"]


def test_round_trip_torch_keras_torch_reproduces_outputs(model, tmp_path, rng):
    """init → torch → save → convert → keras → save → convert → torch: same outputs."""
    x = rng.random((5, 8, 8, 1)).astype("float32")
    tb = specc.build(model, "torch")
    with torch.no_grad():  # make the weights "trained": move them off the initial values
        for p in tb.model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    expected = tb.predict(x)
    torch.save(tb.model.state_dict(), tmp_path / "trained.pt")
    assert main(["weights", "convert", str(SPEC), str(tmp_path / "trained.pt"), str(tmp_path / "k.weights.h5")]) == 0
    km = specc.build(model, "keras", compile=False)
    km.load_weights(tmp_path / "k.weights.h5")
    np.testing.assert_allclose(np.asarray(km(x, training=False)), expected, rtol=1e-5, atol=1e-6)
    km.save_weights(tmp_path / "k2.weights.h5")
    assert main(["weights", "convert", str(SPEC), str(tmp_path / "k2.weights.h5"), str(tmp_path / "back.pt")]) == 0
    tb2 = specc.build(model, "torch")
    tb2.model.load_state_dict(torch.load(tmp_path / "back.pt", weights_only=True))
    np.testing.assert_allclose(tb2.predict(x), expected, rtol=1e-6, atol=1e-7)
    assert main(["weights", "convert", str(SPEC), str(tmp_path / "back.pt"), str(tmp_path / "c.safetensors")]) == 0
    np.testing.assert_allclose(specc.build(model, "keras", weights=tmp_path / "c.safetensors")(x, training=False), expected, rtol=1e-5, atol=1e-6)


def test_whole_keras_model_file_converts(model, tmp_path, rng):
    km = specc.build(model, "keras", seed=3)
    km.save(tmp_path / "m.keras")
    w = read_weights(model, tmp_path / "m.keras")
    ref = init_weights(model, 3)
    for k in ref:
        np.testing.assert_allclose(w[k], ref[k], rtol=1e-6, atol=1e-7)


def test_cli_weights_init_and_errors(model, tmp_path, capsys):
    assert main(["weights", "init", str(SPEC), "-o", str(tmp_path / "w.npz"), "--seed", "5"]) == 0
    w = load(tmp_path / "w.npz")
    ref = init_weights(model, 5)
    assert all(np.array_equal(w[k], ref[k]) for k in ref)
    assert main(["weights", "convert", str(SPEC), str(tmp_path / "nope.pt"), str(tmp_path / "x.npz")]) == 1
    assert "no such checkpoint" in capsys.readouterr().err
    assert main(["weights", "convert", str(SPEC), str(tmp_path / "w.npz"), str(tmp_path / "x.bin2")]) == 1
    write_weights(model, ref, tmp_path / "t.safetensors", "torch")
    assert set(load(tmp_path / "t.safetensors")) == set(specc.build(model, "torch").model.state_dict())
