"""`specc compile`: generated standalone modules compute exactly what `specc.build` builds,
never import specc, and cannot be injected into through names in a spec."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import specc
from specc.backends.keras.emit import emit_keras
from specc.backends.torch.emit import emit_torch
from specc.ir.transforms import without_dropout
from specc.verification.data import random_inputs, random_targets, verification_weights

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.spec"))

HOSTILE = """
# names that collide with Python, torch, keras and the generated code's own names
block forward(self_, nn=2) {
  input x
  h = x -> dense(4 * nn, activation=tanh, name=torch) -> dense(4, name=print)
  (x, h) -> add -> relu
}

model nn {
  input F: float32[6, 6, 2]
  input math: float32[4]
  self_ = F -> conv2d(4, kernel=3, padding=same, name=layers) -> batch_norm(name=training)
  flat = self_ -> global_avgpool2d(name=to_channels_first) -> dense(4, name=keras)
  dtype = math -> forward(1, name=prefix) -> repeat 2 { forward(1) }
  (flat, dtype) -> concat(name=cat) -> dense(3, activation=softmax, name=eval)
  train { loss categorical_crossentropy; optimizer adam(lr=0.01) }
}
"""


def _import(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _torch_model_class(mod):
    return next(v for v in vars(mod).values() if isinstance(v, type) and issubclass(v, torch.nn.Module) and v.__module__ == mod.__name__ and "reset_parameters" in vars(v))


def _check_torch(model, tmp_path, name):
    src = emit_torch(model)
    assert "import specc" not in src and not re.search(r"\b(eval|exec)\(", src)
    path = tmp_path / f"{name}_torch.py"
    path.write_text(src)
    mod = _import(path, f"{name}_torch")
    weights, _ = verification_weights(model, 0)
    built = specc.build(model, "torch", dtype="float64", weights=weights)
    gen = _torch_model_class(mod)().double()
    assert set(gen.state_dict()) == set(built.model.state_dict())
    gen.load_state_dict(built.model.state_dict())
    rng = np.random.default_rng(0)
    xs = built.to_inputs(random_inputs(model, 3, rng, "float64"))
    built.model.eval()
    gen.eval()
    a, b = built.model(*xs), gen(*xs)
    assert torch.equal(a, b)
    if model.train is not None:
        y = built.to_targets(random_targets(model, 3, rng, "float64"))
        opt = mod.make_optimizer(gen)
        for _ in range(2):  # same dropout masks from the same seed; equal up to float reordering
            torch.manual_seed(5)
            la = built.train_step(xs, y)
            torch.manual_seed(5)
            lb = mod.train_step(gen, opt, xs, y)
            assert la == pytest.approx(lb, rel=1e-12)
        for k, v in gen.state_dict().items():
            torch.testing.assert_close(v, built.model.state_dict()[k], rtol=1e-12, atol=1e-14, msg=k)
    return mod


def _check_keras(model, tmp_path, name):
    model = without_dropout(model)  # keras dropout seeds differ per model instance
    src = emit_keras(model)
    assert "import specc" not in src and not re.search(r"\b(eval|exec)\(", src)
    path = tmp_path / f"{name}_keras.py"
    path.write_text(src)
    mod = _import(path, f"{name}_keras")
    weights, _ = verification_weights(model, 0)
    built = specc.build(model, "keras", dtype="float64", weights=weights)
    gen = mod.build_model("float64")
    if model.train is not None:
        mod.compile_model(gen, "float64")
    values = {v.path: v.numpy() for v in built.weights}
    assert sorted(values) == sorted(v.path for v in gen.weights)
    for v in gen.weights:
        v.assign(values[v.path])
    rng = np.random.default_rng(0)
    xs = random_inputs(model, 3, rng, "float64")
    x = xs if len(xs) > 1 else xs[0]
    np.testing.assert_array_equal(np.asarray(built(x, training=False)), np.asarray(gen(x, training=False)))
    if model.train is not None:
        ys = random_targets(model, 3, rng, "float64")
        y = ys if len(ys) > 1 else ys[0]
        for _ in range(2):
            assert built.train_on_batch(x, y) == gen.train_on_batch(x, y)
        now = {v.path: v.numpy() for v in built.weights}
        for v in gen.weights:
            np.testing.assert_array_equal(v.numpy(), now[v.path], err_msg=v.path)
    return mod


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_generated_torch_equals_build(spec, tmp_path):
    _check_torch(specc.load(spec), tmp_path, spec.stem)


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_generated_keras_equals_build(spec, tmp_path):
    _check_keras(specc.load(spec), tmp_path, spec.stem)


def test_hostile_names_compile_and_agree(tmp_path):
    model = specc.loads(HOSTILE)
    _check_torch(model, tmp_path, "hostile")
    _check_keras(model, tmp_path, "hostile")


@pytest.mark.parametrize(
    "name",
    ['"x): pass\\nimport os  #"', '"a b"', '"__class__"', '"1x"', "class", "self", '"é"'],
)
def test_names_that_are_not_identifiers_are_refused(name):
    with pytest.raises(specc.SpecError) as e:
        specc.loads(f"model m {{ input x: float32[3]\n dense(2, name={name}) }}")
    assert e.value.diagnostics[0].span.line == 2


def test_generated_code_runs_without_specc(tmp_path):
    """Both generated files run in a fresh interpreter where `import specc` is impossible."""
    model = specc.load(ROOT / "specs" / "digits_cnn.spec")
    (tmp_path / "gen_torch.py").write_text(emit_torch(model))
    (tmp_path / "gen_keras.py").write_text(emit_keras(model))
    script = textwrap.dedent(
        """
        import sys, runpy
        sys.modules["specc"] = None  # any `import specc` now fails
        import numpy as np, torch
        t = runpy.run_path("gen_torch.py")
        m = t["DigitsCnn"]()
        out = m(torch.rand(2, 8, 8, 1))
        assert out.shape == (2, 10) and torch.allclose(out.sum(1), torch.ones(2), atol=1e-5)
        opt = t["make_optimizer"](m)
        loss = t["train_step"](m, opt, [torch.rand(4, 8, 8, 1)], [torch.tensor([1, 2, 3, 4])])
        assert np.isfinite(loss)
        k = runpy.run_path("gen_keras.py")
        km = k["compile_model"](k["build_model"]())
        hist = km.fit(np.random.rand(8, 8, 8, 1), np.arange(8) % 10, batch_size=4, epochs=1, verbose=0)
        assert np.isfinite(hist.history["loss"][0])
        assert "specc" not in [n.split(".")[0] for n, v in sys.modules.items() if v is not None]
        print("standalone ok")
        """
    )
    res = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "standalone ok" in res.stdout


def test_cli_compile_writes_atomically(tmp_path):
    from specc.cli import main

    out = tmp_path / "model.py"
    assert main(["compile", str(ROOT / "specs" / "mlp_binary.spec"), "--to", "torch", "-o", str(out)]) == 0
    assert "class MlpBinary(nn.Module)" in out.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["model.py"]


def test_generated_torch_initialisers_follow_the_spec(tmp_path):
    """Generated code draws its own initial weights from the spec's distributions."""
    model = specc.loads(
        "model m { input x: float32[400]\n a = x -> dense(300, init=he_uniform, bias_init=constant(0.5))\n"
        " b = x -> dense(200, init=truncated_normal(0.0, 0.02))\n output a, b }"
    )
    path = tmp_path / "init_torch.py"
    path.write_text(emit_torch(model))
    torch.manual_seed(0)
    gen = _torch_model_class(_import(path, "init_torch"))()
    w = gen.dense.weight.detach().numpy()
    bound = np.sqrt(6.0 / 400)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert np.allclose(gen.dense.bias.detach().numpy(), 0.5)
    t = gen.dense_1.weight.detach().numpy()
    assert np.abs(t).max() <= 0.04 and abs(t.std() - 0.02 * 0.8796) < 0.002
