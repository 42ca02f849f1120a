"""``specc export``: every feed-forward example spec exports to ONNX and runs in
onnxruntime like the framework it came from; torchscript, .keras and SavedModel load
back and agree; writes are atomic; a real disagreement fails the export."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import specc
from specc.export import TOLERANCE, example_inputs, export
from specc.train import TrainError
from specc.weights import init_weights, save

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted(p.stem for p in (ROOT / "specs").glob("*.spec"))  # recurrent and attention models too
HAS_TF2ONNX = importlib.util.find_spec("tf2onnx") is not None


def spec_and_weights(name: str, tmp_path: Path, seed: int = 3):
    model = specc.load(ROOT / "specs" / f"{name}.spec")
    w = init_weights(model, seed)
    w = {k: v + 0.01 * np.sin(np.arange(v.size).reshape(v.shape)) for k, v in w.items()}  # non-zero biases too
    path = save(w, tmp_path / f"{name}.safetensors")
    return model, w, path


def onnx_outputs(path: Path, inputs: list[np.ndarray]) -> list[np.ndarray]:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {i.name: x for i, x in zip(sess.get_inputs(), inputs, strict=True)})


def framework_outputs(backend: str, model, w, inputs) -> np.ndarray:
    if backend == "torch":
        return specc.build(model, "torch", weights=w).predict(inputs)
    km = specc.build(model, "keras", weights=w, compile=False)
    return np.asarray(km(inputs[0] if len(inputs) == 1 else inputs, training=False))


BACKENDS = ["torch", pytest.param("keras", marks=pytest.mark.skipif(not HAS_TF2ONNX, reason="keras → onnx needs tf2onnx (pip install tf2onnx)"))]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", SPECS)
def test_onnx_matches_the_framework(tmp_path, name, backend):
    model, w, ckpt = spec_and_weights(name, tmp_path)
    out = tmp_path / f"{name}.onnx"
    res = export(model, ckpt, "onnx", out, backend)
    assert res.max_abs_diff <= TOLERANCE and out.is_file()
    x = example_inputs(model, 5, seed=9)  # another batch size than the export traced
    got = onnx_outputs(out, x)[0]
    ref = framework_outputs(backend, model, w, x)
    assert got.shape == ref.shape and got.shape[0] == 5
    assert np.max(np.abs(got - ref)) <= TOLERANCE * max(1.0, np.max(np.abs(ref)))
    assert np.max(np.abs(got - framework_outputs(backend, model, init_weights(model, 4), x))) > 1e-3  # other weights: the check would fail


@pytest.mark.parametrize("to,backend", [("torchscript", "torch"), ("keras", "keras"), ("savedmodel", "keras")])
def test_other_formats_load_back(tmp_path, to, backend):
    model, w, ckpt = spec_and_weights("digits_cnn", tmp_path)
    out = tmp_path / {"torchscript": "m.pt", "keras": "m.keras", "savedmodel": "m_saved"}[to]
    res = export(model, ckpt, to, out)
    assert res.backend == backend and res.max_abs_diff <= TOLERANCE
    x = example_inputs(model, 4, seed=5)
    ref = framework_outputs(backend, model, w, x)
    if to == "torchscript":
        from specc.export.torch_export import run_torchscript as load_run
    elif to == "keras":
        from specc.export.keras_export import run_keras_file as load_run
    else:
        from specc.export.keras_export import run_savedmodel as load_run
    got = load_run(out, x)[0]
    assert np.max(np.abs(got - ref)) <= TOLERANCE
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary leftovers


def test_failed_or_disagreeing_export_keeps_the_old_file(tmp_path, monkeypatch):
    model, w, ckpt = spec_and_weights("mlp_binary", tmp_path)
    out = tmp_path / "m.onnx"
    out.write_bytes(b"previous model")
    import specc.export as ex

    real = ex._reference
    monkeypatch.setattr(ex, "_reference", lambda *a: [r + 1e-2 for r in real(*a)])  # a framework that disagrees
    with pytest.raises(TrainError, match="disagrees with torch"):
        export(model, ckpt, "onnx", out)
    assert out.read_bytes() == b"previous model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "mlp_binary.safetensors"]


def test_export_errors(tmp_path):
    model, w, ckpt = spec_and_weights("mlp_binary", tmp_path)
    with pytest.raises(TrainError, match="from the torch backend, not keras"):
        export(model, ckpt, "torchscript", tmp_path / "m.pt", "keras")
    with pytest.raises(TrainError, match=r"must end in \.keras"):
        export(model, ckpt, "keras", tmp_path / "m.h5")
    other, _, wrong = spec_and_weights("digits_cnn", tmp_path)
    with pytest.raises(TrainError, match="do not fit mlp_binary"):
        export(model, wrong, "onnx", tmp_path / "m.onnx")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "specc", "export", str(ROOT / "specs" / "mlp_binary.spec"), "--weights", str(tmp_path / "none.safetensors"), "--to", "onnx", "-o", "m.onnx"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "no such checkpoint" in r.stderr and "Traceback" not in r.stderr
