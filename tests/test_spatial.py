"""upsampling1d/2d (nearest, bilinear), zero_padding1d/2d, cropping1d/2d and the ``axis``
of batch_norm / layer_norm: specc's torch model == specc's Keras model (forward,
gradients, training steps) in float64 and float32; bilinear == the IR's formula written
in NumPy and == Keras' own UpSampling2D (float32, the dtype its kernel computes in);
negative controls (align_corners, crop sides, the normalised axis) differ clearly."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from gradients import grads_both
from support import build_both, forward_both, max_rel, random_inputs, random_targets, train_both

import specc
from specc.compiler import as_model
from specc.errors import SpecError
from specc.weights import init_weights

TRAIN = "train {\n    loss mse\n    optimizer sgd(lr=0.02, momentum=0.9)\n  }"


def image_spec(layer: str, shape: str = "5, 6, 3") -> str:
    # 1×1 convolutions around the layer: weights before and after it, channels-first in torch
    return f"model m {{\n  input x: float32[{shape}]\n  y = x -> conv2d(4, 1) -> {layer} -> conv2d(3, 1)\n  {TRAIN}\n}}\n"


def seq_spec(layer: str, shape: str = "7, 3") -> str:
    return f"model m {{\n  input x: float32[{shape}]\n  y = x -> conv1d(4, 1) -> {layer} -> dense(2)\n  {TRAIN}\n}}\n"


CASES = {
    "up_nearest": image_spec("upsampling2d([2, 3])"),
    "up_bilinear": image_spec("upsampling2d([3, 2], interpolation=bilinear)"),
    "up_bilinear_dynamic": image_spec("upsampling2d(2, bilinear)", shape="?, ?, 3"),
    "up_1d": seq_spec("upsampling1d(3)"),
    "pad_2d": image_spec("zero_padding2d([[1, 2], [0, 3]])"),
    "pad_2d_sym": image_spec("zero_padding2d([2, 1])"),
    "pad_1d": seq_spec("zero_padding1d([2, 1])"),
    "crop_2d": image_spec("cropping2d([[1, 2], [0, 3]])", shape="6, 7, 3"),
    "crop_1d": seq_spec("cropping1d([2, 1])"),
    "bn_axis_1": image_spec("batch_norm(axis=1, momentum=0.9)"),
    "bn_axis_neg2": image_spec("batch_norm(axis=-2, center=false)"),
    "bn_seq_time": seq_spec("batch_norm(axis=1)"),
    "ln_axis_1": image_spec("layer_norm(axis=1)"),
    "ln_trailing": image_spec("layer_norm(axis=[-2, -1], epsilon=1e-5)"),
    "ln_gap": image_spec("layer_norm(axis=[1, 3], scale=false)"),
}


def random_weights(text: str, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for k, v in init_weights(as_model(text), 0).items():
        out[k] = rng.uniform(0.5, 1.5, v.shape) if k.endswith("variance") else rng.standard_normal(v.shape) * 0.5
    return out


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request):
    text = CASES[request.param]
    w = random_weights(text, seed=sum(map(ord, request.param)))
    model, tb, km, _ = build_both(text, weights=w)
    rng = np.random.default_rng(5)
    xs = random_inputs(model, 3, rng)
    ys = rng.standard_normal(tb.predict(xs).shape) if None in model.type_of(model.outputs[0]).shape else random_targets(model, 3, rng)
    return model, tb, km, w, xs, ys


def test_forward(case):
    _, tb, km, _, xs, _ = case
    yt, yk = forward_both(tb, km, xs)
    assert yt.shape == yk.shape and np.abs(yk).max() > 0.1
    assert max_rel(yt, yk) < 1e-12


def test_gradients_and_steps(case):
    model, tb, km, w, xs, ys = case
    if not any(n.op.kind == "batch_norm" for n in model.nodes):  # (the helper reads parameters only)
        lt, lk, gt, gk = grads_both(tb, km, xs, ys)
        assert abs(lt - lk) <= 1e-12 * abs(lk)
        assert set(gt) == set(gk) == set(w)
        # every gradient is real, but a bias a normalisation removes again (layer_norm over
        # an axis the bias is constant on) has none
        assert sum(np.abs(gk[name]).max() < 1e-6 for name in w) <= 1
        for name in w:
            assert max_rel(gt[name], gk[name]) < 1e-10 or np.abs(gk[name]).max() < 1e-12, name
    tb.set_weights(w)
    km.specc.set_weights(km, w)
    km.run_eagerly = True
    assert max(train_both(tb, km, xs, ys, steps=2)) < 1e-10


@pytest.mark.parametrize("name", ["up_bilinear", "crop_2d", "ln_gap", "bn_axis_1"])
def test_float32(name):
    text = CASES[name]
    model, tb, km, _ = build_both(text, dtype="float32", weights=random_weights(text, 1))
    yt, yk = forward_both(tb, km, random_inputs(model, 3, np.random.default_rng(2), dtype="float32"))
    assert yt.dtype == yk.dtype == np.float32
    # float32 rounding of a few sums/products of O(1) values: a few ulp of the output scale
    assert max_rel(yt, yk) < 1e-5


def test_shapes():
    m = specc.loads("model m {\n input x: float32[5, 6, 2]\n upsampling2d([2, 3])\n zero_padding2d([[1, 0], [2, 3]])\n cropping2d(1)\n}\n")
    assert [n.types[0].shape for n in m.nodes] == [(10, 18, 2), (11, 23, 2), (9, 21, 2)]
    m = specc.loads("model m {\n input x: float32[5, 2]\n upsampling1d(2)\n zero_padding1d(1)\n cropping1d([0, 3])\n}\n")
    assert [n.types[0].shape for n in m.nodes] == [(10, 2), (12, 2), (9, 2)]
    m = specc.loads("model m {\n input x: float32[5, 6, 2]\n layer_norm(axis=[1, 3])\n batch_norm(axis=2)\n}\n")
    assert [[w.shape for w in m.node_weights(n)] for n in m.nodes] == [[(5, 2), (5, 2)], [(6,)] * 4]


@pytest.mark.parametrize(
    "layer, message",
    [
        ("cropping2d([[3, 2], [0, 0]])", "leaves nothing of the height"),
        ("upsampling2d(2, interpolation=bicubic)", "interpolation"),
        ("zero_padding2d(-1)", "must not be negative"),
        ("batch_norm(axis=0)", "axis 0 is out of range"),
        ("layer_norm(axis=[1, -3])", "names one axis twice"),
    ],
)
def test_errors(layer, message):
    with pytest.raises(SpecError) as e:
        specc.loads(f"model m {{\n input x: float32[5, 6, 2]\n {layer}\n}}\n")
    assert message in str(e.value)


def _bilinear_reference(x: np.ndarray, factors) -> np.ndarray:
    """The IR's rule, cell by cell (float64)."""
    for axis, s in zip((1, 2), factors, strict=True):
        n = x.shape[axis]
        out = []
        for o in range(n * s):
            src = max((o + 0.5) / s - 0.5, 0.0)
            lo = int(np.floor(src))
            hi = min(lo + 1, n - 1)
            lam = src - lo
            out.append((1 - lam) * np.take(x, lo, axis) + lam * np.take(x, hi, axis))
        x = np.stack(out, axis)
    return x


@pytest.mark.parametrize("factors", [(2, 2), (3, 1), (4, 5)])
def test_bilinear_meaning(factors):
    """Both backends compute the IR's formula; Keras' own layer (float32 inside) agrees
    within float32 rounding; align_corners=True (a common port mistake) does not."""
    x = np.random.default_rng(0).standard_normal((2, 4, 5, 3))
    ref = _bilinear_reference(x, factors)
    text = f"model m {{\n input x: float32[4, 5, 3]\n upsampling2d({list(factors)}, bilinear)\n}}\n"
    _, tb, km, _ = build_both(text)
    yt, yk = forward_both(tb, km, [x])
    assert max_rel(yt, ref) < 1e-14 and max_rel(yk, ref) < 1e-14
    own = np.asarray(keras.layers.UpSampling2D(factors, interpolation="bilinear", dtype="float32")(x.astype("float32")))
    assert max_rel(own, ref) < 1e-6  # float32 lerps of N(0, 1) values: ~1e-7 relative
    wrong = F.interpolate(torch.tensor(x).permute(0, 3, 1, 2), scale_factor=factors, mode="bilinear", align_corners=True)
    assert max_rel(wrong.permute(0, 2, 3, 1).numpy(), ref) > 1e-2


@pytest.mark.parametrize("s", range(1, 13))
def test_nearest_is_repeat(s):
    x = np.random.default_rng(s).standard_normal((1, 3, 2, 2))
    _, tb, km, _ = build_both(f"model m {{\n input x: float32[3, 2, 2]\n upsampling2d([{s}, {s + 1}])\n}}\n")
    yt, yk = forward_both(tb, km, [x])
    ref = x.repeat(s, axis=1).repeat(s + 1, axis=2)
    assert np.array_equal(yt, ref) and np.array_equal(yk, ref)


def test_negative_controls(monkeypatch):
    """A crop taken from the wrong sides and a batch norm on the wrong axis are caught."""
    from specc.backends.torch.ops import normalization, spatial

    text = CASES["crop_2d"]
    w = random_weights(text, 3)
    model, _, km, _ = build_both(text, weights=w)
    xs = random_inputs(model, 2, np.random.default_rng(1))
    monkeypatch.setattr(spatial.CroppingOp, "lower", _swapped_crop)
    tb = specc.build(model, "torch", dtype="float64", weights=w)
    assert max_rel(*forward_both(tb, km, xs)) > 1e-2
    monkeypatch.undo()

    text = image_spec("batch_norm(axis=1)", shape="5, 5, 3")  # square: the wrong axis still runs
    w = random_weights(text, 4)
    model, tb, km, _ = build_both(text, weights=w)
    xs = random_inputs(model, 2, np.random.default_rng(1))
    assert max_rel(*forward_both(tb, km, xs)) < 1e-12
    original = normalization.BatchNormOp.lower

    def other_axis(self, node, ins, ctx):
        original(self, node, ins, ctx)
        ctx.plan.steps[-1].construct.kwargs["channel_dim"] = 2  # width instead of height

    monkeypatch.setattr(normalization.BatchNormOp, "lower", other_axis)
    tb = specc.build(model, "torch", dtype="float64", weights=w)
    assert max_rel(*forward_both(tb, km, xs)) > 1e-2


def _swapped_crop(self, node, ins, ctx):
    from specc.backends.torch import lib as L
    from specc.backends.torch.plan import CF, Construct

    (y,) = ctx.module(Construct(L.Crop, (tuple((hi, lo) for lo, hi in node.op.cropping),)), ins)
    ctx.done([y], [CF])
