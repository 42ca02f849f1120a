"""`specc.build` returns ordinary framework objects: they save, load, compile and fit as any
hand-written model does."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import torch

import specc

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "transformer_classifier.spec"  # blocks, repeat, attention, schedule


@pytest.fixture(scope="module")
def model():
    return specc.load(SPEC)


@pytest.fixture(scope="module")
def tokens():
    return np.random.default_rng(0).integers(0, 2000, (3, 64)).astype("int32")


def test_torch_module_saves_whole_and_compiles(model, tokens, tmp_path):
    bundle = specc.build(model, "torch")
    bundle.model.eval()
    x = torch.from_numpy(tokens)
    expected = bundle.model(x)
    torch.save(bundle.model, tmp_path / "m.pt")
    loaded = torch.load(tmp_path / "m.pt", weights_only=False)  # a whole module: the user's own file
    assert torch.equal(loaded(x), expected)
    compiled = torch.compile(bundle.model, backend="eager")
    torch.testing.assert_close(compiled(x), expected)
    assert isinstance(bundle.model, torch.nn.Module) and bundle.model.input_names == ("tokens",)


def test_torch_state_dict_keys_follow_the_spec(model):
    keys = set(specc.build(model, "torch").model.state_dict())
    assert any(k.startswith("encoder.0.multi_head_attention.") for k in keys)
    assert any(k.startswith("encoder.1.dense_1.") for k in keys)
    assert "embedding.weight" in keys


def test_keras_model_saves_loads_and_keeps_training(model, tokens, tmp_path):
    km = specc.build(model, "keras")
    y = np.array([0, 1, 2])
    km.fit(tokens, y, epochs=1, batch_size=3, verbose=0)
    expected = np.asarray(km(tokens, training=False))
    km.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")  # specc's classes are registered (specc.backends.keras.lib)
    np.testing.assert_allclose(np.asarray(loaded(tokens, training=False)), expected, rtol=1e-6, atol=1e-7)
    assert type(loaded.optimizer).__name__ == "TorchAdam" and loaded.optimizer.decay.config == km.optimizer.decay.config == {"rate": 0.01}
    assert int(loaded.optimizer.iterations) == int(km.optimizer.iterations) == 1
    hist = loaded.fit(tokens, y, epochs=1, batch_size=3, verbose=0)  # continues with the restored optimizer state
    assert np.isfinite(hist.history["loss"][0]) and int(loaded.optimizer.iterations) == 2


def test_build_accepts_paths_text_and_checkpoints(tmp_path):
    text = "model t { input x: float32[3]\n dense(2)\n train { loss mse } }"
    a = specc.build(text, "torch", seed=1)
    specc.weights.save(a.get_weights(), tmp_path / "w.safetensors")
    b = specc.build(text, "keras", weights=tmp_path / "w.safetensors")
    x = np.random.default_rng(0).standard_normal((4, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(b(x)), a.predict(x), rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="unknown backend"):
        specc.build(text, "jax")
    with pytest.raises(ValueError, match="dtype"):
        specc.build(text, "torch", dtype="int8")
