"""`specc compile`: generated standalone modules compute exactly what `specc.build` builds,
never import specc, and cannot be injected into through names in a spec."""

from __future__ import annotations

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
from emit_support import _check_keras, _check_torch, _import, _torch_model_class

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


HUGE = """model huge {
  input x: float32[1000]
  input t: int32[5]
  a = x -> dense(10**12, reg=l2(0.01)) -> dense(2)
  b = t -> embedding(10**9, 1000) -> lstm(10**7) -> dense(2)
  output a, b
  train { loss mse; optimizer adam }
}
"""


@pytest.mark.parametrize("to", ["torch", "keras"])
def test_compile_allocates_no_weights(to, tmp_path, monkeypatch):
    """`specc compile` of layers of 10**12–10**15 weights (the parameter and activation budgets raised) answers
    at once: the source is written from the plan; nothing draws or allocates a weight (the
    generated module allocates them when instantiated, as the framework does)."""
    import tracemalloc

    from specc.cli import main

    monkeypatch.setenv("SPECC_MAX_PARAMS", str(10**18))
    monkeypatch.setenv("SPECC_MAX_ACTIVATION", str(10**18))

    spec = tmp_path / "huge.spec"
    spec.write_text(HUGE)
    out = tmp_path / "huge.py"
    tracemalloc.start()
    try:
        assert main(["compile", str(spec), "--to", to, "-o", str(out)]) == 0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 200 * 2**20, peak  # numpy's buffers are traced too
    source = out.read_text()
    compile(source, str(out), "exec")
    assert "10000000000" in source.replace("_", "")


def test_generated_torch_initialisers_of_every_kind(tmp_path):
    """nn.init calls with the spec's distributions: torch's own where the fans agree,
    explicit bounds otherwise; LSTM forget-gate biases are 1; orthogonal kernels are."""
    model = specc.loads(
        "model m { input t: int32[5]\n"
        " t -> embedding(50, 8, init=random_normal(0.0, 0.5)) -> lstm(6, return_sequences=true)"
        " -> layer_norm -> dense(300, init=lecun_normal, bias_init=ones) -> dense(4, init=glorot_normal) }"
    )
    path = tmp_path / "kinds_torch.py"
    src = emit_torch(model)
    path.write_text(src)
    assert "specc_init_" not in src and "get_parameter" not in src
    torch.manual_seed(0)
    gen = _torch_model_class(_import(path, "kinds_torch"))()
    sd = {k: v.detach().double().numpy() for k, v in gen.state_dict().items()}
    assert abs(sd["embedding.weight"].std() - 0.5) < 0.05
    lstm_bias = next(v for k, v in sd.items() if k.startswith("lstm.") and "bias_ih" in k)
    assert np.all(lstm_bias[6:12] == 1.0) and np.all(lstm_bias[:6] == 0.0) and np.all(lstm_bias[12:] == 0.0)
    rec = next(v for k, v in sd.items() if k.startswith("lstm.") and "weight_hh" in k)
    np.testing.assert_allclose(rec.T @ rec, np.eye(rec.shape[1]), atol=1e-6)
    assert np.all(sd["dense.bias"] == 1.0)
    w = sd["dense.weight"]  # lecun_normal: truncated at ±2σ, σ = √(1/fan_in)/0.8796
    std = np.sqrt(1.0 / w.shape[1]) / 0.87962566103423978
    assert np.abs(w).max() <= 2 * std + 1e-12 and abs(w.std() - std * 0.87962566103423978) < 0.02
    assert np.all(sd["layer_norm.weight"] == 1.0) and np.all(sd["layer_norm.bias"] == 0.0)


def test_deep_keras_model_builds_in_memory_and_generated(tmp_path):
    """A chain deeper than Python's recursion limit: Keras maps a functional graph
    recursively (one call per layer), which was a RecursionError in specc.build and in the
    generated build_model (the cause of the block-role failure in test_emit_names)."""
    import runpy

    model = specc.loads("model deep { input x: float32[2]\n dense(2)\n" + "\n".join(["relu"] * 1100) + "\n}")
    sys.setrecursionlimit(1000)
    assert len(specc.build(model, "keras").layers) == 1102
    sys.setrecursionlimit(1000)
    (tmp_path / "deep.py").write_text(emit_keras(model))
    assert len(runpy.run_path(str(tmp_path / "deep.py"))["build_model"]().layers) == 1102


KERAS_NAMES_CLASH = """
# layers named as Keras names the operations of `+`, `*`, expand_dims and masks it makes up
block mix(c) {
  input x
  h = x -> dense(c, name=add_1)
  (h * 0.5 + x) -> dense(c, name=multiply_2)
}

model m {
  input ids: int32[5]
  input v: float32[5, 4]
  input g: float32[4]
  e = ids -> embedding(20, 4, mask_zero=true, name=not_equal_1) -> lstm(4, return_sequences=true, name=not_equal_3)
  s = e + v -> mix(4) -> repeat 2 { mix(4) }
  t = s + g
  u = t - s
  (u, t) -> add(name=add_4) -> global_avgpool1d(name=expand_dims_1) -> dense(2, name=subtract_2)
  train { loss mse }
}
"""


def test_generated_keras_builds_again_in_one_process(tmp_path):
    """A second (third) build of a generated Keras model in one process has the same
    operation names as the in-memory model: Keras' made-up names for `a + b` (add_3 …)
    never meet a layer the spec names so (a clash was a ValueError on the second build)."""
    model = specc.loads(KERAS_NAMES_CLASH, "clash.spec")
    mod = _check_keras(model, tmp_path, "clash")
    first = [op.name for op in mod.build_model().operations]
    assert [op.name for op in mod.build_model().operations] == first
    assert len(set(first)) == len(first) and "add_4" in first and "expand_dims_1" in first
    assert any(name.endswith("__mask") for name in first) and any("__expand_" in name for name in first)


FUSED = """
block res(n) {
  input x
  h = x -> dense(n)
  y = h -> relu
  (h, y) -> add -> dense(n) -> tanh
}
model m {
  input x: float32[6]
  a = x -> dense(4) -> relu -> dropout(0.5) -> res(4) -> dense(3, activation=softmax)
  output a
  train { loss categorical_crossentropy; optimizer sgd }
}
"""


def test_generated_torch_writes_a_call_inside_the_next(tmp_path):
    """A call whose one result only the next statement reads is written inside it (a layer
    with weights only innermost), and the last statement in the return — never a value read
    twice, nor one the loss reads, nor a block's call."""
    model = specc.loads(FUSED)
    src = emit_torch(model)
    res, root = src[src.index("class Res(") : src.index("class M(")], src[src.index("class M(") :]
    # dense → relu → dropout (a layer without weights) in the model, dense → tanh in the block's return
    assert re.search(r"^        \w+ = self\.dropout\(torch\.relu\(self\.dense\(x\)\)\)$", root, re.M)
    assert re.search(r"^        return torch\.tanh\(self\.dense_1\(\w+\)\)$", res, re.M)
    # the block's first dense is read twice (relu and add): it stays a variable
    assert re.search(r"^        \w+ = self\.dense\(x\)$", res, re.M) and "relu(self.dense(" not in res
    # the logits the loss reads (before the softmax) stay a variable, returned with return_logits
    logits = re.search(r"^        (\w+) = self\.dense_1\(\w+\)$", root, re.M)
    assert logits and f"        return {logits[1]} if return_logits else torch.softmax({logits[1]}, dim=1)\n" in root
    # a layer with weights never takes a call as its argument, a block's call neither goes
    # inside nor takes one
    assert not re.search(r"self\.(dense\w*|res)\(\w+\(", src) and "(self.res(" not in src
    _check_torch(model, tmp_path, "fused")


CHAIN = """
model m {
  input a: float32[6]
  input b: float32[6]
  x = a -> relu -> tanh -> sigmoid -> relu -> tanh -> softplus -> dense(6)
  y = (x + b) * a
  z = (y -> relu) * 2 + x
  output z
}
"""


def _nesting(node) -> int:
    import ast

    inner = max((_nesting(c) for c in ast.iter_child_nodes(node)), default=0)
    return inner + isinstance(node, ast.Call)


def test_generated_torch_nests_at_most_three_calls_and_keeps_precedence(tmp_path):
    """A long chain is cut into lines of at most three nested calls (100 columns); an
    operator expression goes inside another only where it binds as it did alone."""
    import ast

    src = emit_torch(specc.loads(CHAIN))
    body = src[src.index("    def forward(") : src.index("    def reset_parameters")].splitlines()[1:]
    lines = [line.strip() for line in body if line.strip() and not line.strip().startswith(('"', "#"))]
    assert all(len(line) + 8 <= 100 for line in lines)
    depths = [_nesting(ast.parse(line.removeprefix("return ").split(" = ", 1)[-1], mode="eval")) for line in lines]
    assert max(depths) == 3 and depths.count(3) >= 2, lines  # six functions: two full lines
    assert any(re.search(r"= torch\.relu\(\w+ \* a\) \* 2\.0$", line) for line in lines), lines  # operators inside a call, a call inside operators
    assert any(re.fullmatch(r"\w+ = x \+ b", line) for line in lines), lines  # (x + b) * a: the sum keeps its own line
    _check_torch(specc.loads(CHAIN), tmp_path, "chain")
