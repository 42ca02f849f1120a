"""Tensor expressions (`x = tok + pos`, `(x -> dense(8)) * 0.5 + x`): parsing and
formatting, the per-example broadcasting rule, errors, and equality of both backends
(forward, gradients, training steps; float64 and float32), with negative controls; the
generated code writes Python operators."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from gradients import grads_both
from emit_support import _import
from support import build_both, forward_both, max_rel, random_inputs, random_targets, random_weights, train_both

import specc
from specc.backends.keras.emit import emit_keras
from specc.backends.torch.emit import emit_torch
from specc.syntax.format import format_source

TRAIN = "  train {\n    loss mse\n    optimizer sgd(lr=0.05, momentum=0.9)\n  }\n"

MIXED = """model m {
  input a: float32[4, 5]
  input b: float32[5]
  p = a -> dense(5, activation=tanh)
  q = b -> dense(5)
  s = p + q
  d = s - 0.5 * p
  r = d * q / (q * q + 1)
  t = 2 - r
  u = 1 / (t * t + 1) + -t
  (u -> dense(3)) * 0.25
""" + TRAIN + "}\n"

IMAGES = """model m {
  input x: float32[6, 6, 2]
  input v: float32[4]
  c = x -> conv2d(4, 3, padding=same)
  g = v -> dense(4)
  h = c + g
  k = (h -> conv2d(4, 1)) * c - c / 3
  k -> conv2d(2, 1)
""" + TRAIN + "}\n"


def test_parse_and_format():
    text = "model m {\n  input a: float32[4]\n  x = a + a * 2\n  y = (x - a) / (a -> dense(4)) - -x\n  z = (x, y) -> add\n  w = z -> relu\n}\n"
    assert format_source(text) == text
    assert format_source(text.replace("w = z", "w = (z)")) == text
    assert format_source("model m {\n  input a: float32[4]\n  x = ((a + a)) * (2)\n}\n") == "model m {\n  input a: float32[4]\n  x = (a + a) * 2\n}\n"


def test_broadcasting_rule():
    m = specc.loads(
        "model m {\n  input a: float32[32, 32]\n  input b: float32[32]\n  input c: float32[4, 1]\n  input d: float32[1, 5]\n"
        "  input e: float32[?, 3]\n  x = a + b\n  y = c * d\n  z = e - e\n  output x, y, z\n}\n"
    )
    assert [m.type_of(o).shape for o in m.outputs] == [(32, 32), (4, 5), (None, 3)]


def test_numbers_fold_and_parameters_are_numbers():
    m = specc.loads("block half(f=0.5) {\n  input x\n  x * f * 2\n}\nmodel m {\n  input a: float32[4]\n  y = a * (2 * 3)\n  y -> half(0.25)\n}\n")
    assert [(n.op.fn, n.op.scalar) for n in m.nodes] == [("multiply", 6.0), ("multiply", 0.25), ("multiply", 2.0)]


@pytest.mark.parametrize(
    "stmt, message",
    [
        ("x = a + b", "'+' cannot broadcast [batch, 3] and [batch, 4]"),
        ("x = a + ids", "+ computes in floating point, but its input 'ids' is int32"),
        ("x = dense(3) + a", "a layer in an expression needs its input: write (x -> dense(…))"),
        ("x = a -> dense(3) + a", "an expression can only start a chain"),
        ("x = (a, a) + a", "a tuple of tensors is not a value"),
        ("x = 2 * 3", "this expression is a number, not a tensor"),
        ("x = a / 0", "division by zero"),
        ("x = a + c", "unknown tensor 'c'"),
        ("x = (a, a) -> arithmetic(fn=add)", "'arithmetic' is written with operators"),
    ],
)
def test_errors(stmt, message):
    text = f"model m {{\n  input a: float32[3]\n  input b: float32[4]\n  input ids: int32[3]\n  {stmt}\n  output x\n}}\n"
    with pytest.raises(specc.SpecError) as e:
        specc.loads(text)
    assert message in [d.message for d in e.value.diagnostics], str(e.value)


@pytest.fixture(scope="module", params=["mixed", "images"])
def case(request):
    text = MIXED if request.param == "mixed" else IMAGES
    w = random_weights(text, 3)
    model, tb, km, _ = build_both(text, weights=w)
    rng = np.random.default_rng(4)
    xs = random_inputs(model, 3, rng)
    return text, model, tb, km, w, xs, random_targets(model, 3, rng)


def test_backends_agree(case):
    _, _, tb, km, w, xs, ys = case
    yt, yk = forward_both(tb, km, xs)
    assert np.abs(yk).max() > 0.1 and max_rel(yt, yk) < 1e-12
    lt, lk, gt, gk = grads_both(tb, km, xs, ys)
    assert abs(lt - lk) <= 1e-12 * abs(lk) and set(gt) == set(gk) == set(w)
    for name in w:
        assert np.abs(gk[name]).max() > 1e-6 and max_rel(gt[name], gk[name]) < 1e-10, name
    tb.set_weights(w)
    km.specc.set_weights(km, w)
    km.run_eagerly = True
    assert max(train_both(tb, km, xs, ys, steps=2)) < 1e-10


@pytest.mark.parametrize("name", ["mixed", "images"])
def test_float32(name):
    text = MIXED if name == "mixed" else IMAGES
    model, tb, km, _ = build_both(text, dtype="float32", weights=random_weights(text, 5))
    yt, yk = forward_both(tb, km, random_inputs(model, 3, np.random.default_rng(6), dtype="float32"))
    assert yt.dtype == yk.dtype == np.float32
    assert max_rel(yt, yk) < 1e-5  # a few float32 roundings of O(1) values


def test_negative_controls(case, monkeypatch):
    """Swapped operands of '-' and broadcasting along the wrong axis are caught."""
    from specc.backends.torch.ops import arithmetic

    text, model, _, km, w, xs, _ = case
    original = arithmetic.ArithmeticOp.lower

    def swapped(self, node, ins, ctx):
        if node.op.fn == "subtract" and node.op.scalar is None:
            ins = ins[::-1]
        original(self, node, ins, ctx)

    monkeypatch.setattr(arithmetic.ArithmeticOp, "lower", swapped)
    tb = specc.build(model, "torch", dtype="float64", weights=w)
    assert max_rel(*forward_both(tb, km, xs)) > 1e-2
    monkeypatch.undo()

    text = "model m {\n  input a: float32[4, 4]\n  input b: float32[4]\n  a + (b -> dense(4))\n}\n"
    w = random_weights(text, 1)
    model, _, km, _ = build_both(text, weights=w)
    xs = random_inputs(model, 2, np.random.default_rng(1))

    def wrong_axis(self, node, ins, ctx):
        y = ctx.fn("torch.unsqueeze", [ins[1]], dim=2)  # columns instead of rows
        ctx.done([ctx.fn("operator.add", [ins[0], y])], [ctx.in_layouts[0]])

    monkeypatch.setattr(arithmetic.ArithmeticOp, "lower", wrong_axis)
    tb = specc.build(model, "torch", dtype="float64", weights=w)
    assert max_rel(*forward_both(tb, km, xs)) > 1e-2


def test_generated_code_uses_operators(tmp_path):
    model = specc.loads(IMAGES)
    src_t, src_k = emit_torch(model), emit_keras(model)
    # (the broadcast's unsqueeze and the division written inside the operators that read them)
    assert re.search(r"^\s+\w+ = \w+ \+ torch\.unsqueeze\(torch\.unsqueeze\(\w+, dim=1\), dim=1\)$", src_t, re.M)
    assert re.search(r"^\s+\w+ = self\.conv2d_1\(\w+\) \* \w+$", src_t, re.M) and re.search(r"^\s+\w+ = \w+ - \w+ / 3\.0$", src_t, re.M)
    # (named after its node: Keras' own names for operators count across models, see lib/core.named)
    assert re.search(r"= named\(\w+ \+ keras\.ops\.expand_dims\(keras\.ops\.expand_dims\(\w+, 1\), 1\), '[\w.]+'\)$", src_k, re.M)
    w = random_weights(IMAGES, 2)
    built = specc.build(model, "torch", dtype="float64", weights=w)
    (tmp_path / "gen_t.py").write_text(src_t)
    mod = _import(tmp_path / "gen_t.py", "gen_t")
    cls = next(v for v in vars(mod).values() if isinstance(v, type) and issubclass(v, torch.nn.Module) and v.__module__ == "gen_t" and "reset_parameters" in vars(v))
    gen = cls().double()
    gen.load_state_dict(built.model.state_dict())
    xs = built.to_inputs(random_inputs(model, 2, np.random.default_rng(0), "float64"))
    built.model.eval()
    gen.eval()
    assert torch.equal(built.model(*xs), gen(*xs))
    (tmp_path / "gen_k.py").write_text(src_k)
    kmod = _import(tmp_path / "gen_k.py", "gen_k")
    km = specc.build(model, "keras", dtype="float64", weights=w)
    g = kmod.build_model("float64")
    values = {v.path: v.numpy() for v in km.weights}
    for v in g.weights:
        v.assign(values[v.path])
    x = random_inputs(model, 2, np.random.default_rng(0), "float64")
    np.testing.assert_array_equal(np.asarray(km(x, training=False)), np.asarray(g(x, training=False)))


def test_operators_beside_merge_layers_build_again_and_again():
    """Keras names an operator's op automatically (add, add_1, …, counted across the
    process): a second build's ``add_1`` clashed with the layer named add_1 (an internal
    error in verify).  The ops are named after their nodes now."""
    from specc.backends.keras.model import build_functional
    from specc.backends.keras.plan import make_plan

    text = "model n {\n  input a: float32[3, 4]\n  input b: float32[4]\n  x = a + b\n  y = x * 2.0\n  (y, a) -> add -> dense(2)\n}\n"
    model = specc.loads(text)
    names = None
    for _ in range(3):
        km, _ = build_functional(make_plan(model))
        got = [op.name for op in km.operations]
        assert len(set(got)) == len(got) and (names is None or got == names)
        names = got
    assert {"add", "multiply", "add_1"} <= set(names)
