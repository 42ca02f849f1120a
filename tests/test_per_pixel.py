"""Per-pixel losses and metrics: a model whose output is a feature map (a sequence, an
image, a volume) is scored element by element over its channels-last class axis, in
both backends and in the generated torch module.

The torch model runs convolutions channels-first; a loss that reads the logits of a
final softmax/sigmoid must read them channels-last, like the output.  Sizes are chosen
with height = width = channels, so a transposition cannot crash on a shape mismatch: it
can only change the numbers, and the negative controls show the comparison sees it."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

import specc
from specc.backends.keras.bundle import keras_metrics
from specc.backends.torch.emit import emit_torch
from specc.backends.torch.module import SpeccModule
from specc.train.metrics import loss_value, metric_values
from specc.verification.data import random_inputs, random_targets, verification_weights

C = 3  # classes = height = width (= sequence length): the case a transposition hides in

LAYOUTS = {
    # name: (input declaration, chain producing the output; {act} is the final activation)
    "sequence": (f"float32[{C}, 2]", f"conv1d({C}, kernel=3, padding=same, activation={{act}})"),
    "image": (f"float32[{C}, {C}, 2]", f"conv2d({C}, kernel=3, padding=same, activation={{act}})"),
    "image_activation_layer": (f"float32[{C}, {C}, 2]", f"conv2d({C}, kernel=1) -> batch_norm -> {{act}}"),
    "conv_transpose": ("float32[2, 2, 2]", f"conv2d(2, kernel=1, activation=relu) -> conv2d_transpose({C}, kernel=2, activation={{act}})"),
    "concat": (
        f"float32[{C}, {C}, 2]",
        "SKIP",  # written out below: two branches concatenated, then the activation
    ),
    "volume": (f"float32[{C}, {C}, {C}, 2]", f"reshape([{C}, {C}, {2 * C}]) -> conv2d({C * C}, kernel=1) -> reshape([{C}, {C}, {C}, {C}]) -> {{act}}"),
}

LOSSES = {
    # name: (loss, final activation)
    "mse": ("mse", "sigmoid"),
    "mae": ("mae", "tanh"),
    "huber": ("huber(delta=0.5)", "linear"),
    "bce": ("binary_crossentropy", "sigmoid"),
    "bce_smoothed": ("binary_crossentropy(label_smoothing=0.1)", "sigmoid"),
    "bce_logits": ("binary_crossentropy(from_logits=true)", "linear"),
    "cce": ("categorical_crossentropy", "softmax"),
    "cce_smoothed": ("categorical_crossentropy(label_smoothing=0.1)", "softmax"),
    "cce_logits": ("categorical_crossentropy(from_logits=true)", "linear"),
    "scce": ("sparse_categorical_crossentropy", "softmax"),
    "scce_smoothed": ("sparse_categorical_crossentropy(label_smoothing=0.1)", "softmax"),
    "scce_logits": ("sparse_categorical_crossentropy(from_logits=true)", "linear"),
    "kl": ("kl_divergence", "softmax"),
}

METRICS = "[accuracy, precision, recall, f1, f1(average=micro), mae]"


def spec_text(layout: str, loss: str) -> str:
    decl, chain = LAYOUTS[layout]
    loss_src, act = LOSSES[loss]
    metrics = METRICS.replace(", mae", "") if loss.startswith("scce") else METRICS  # mae needs same-shape targets
    if loss.split("(")[0] in ("mse", "mae", "huber"):  # classification metrics do not fit a regression (refused at check)
        metrics = "[mae]"
    if layout == "concat":
        body = (
            "a = x -> conv2d(2, kernel=3, padding=same)\n"
            "  b = x -> conv2d(1, kernel=1)\n"
            f"  (a, b) -> concat -> {act}"
        )
    else:
        body = "x -> " + chain.format(act=act)
    return f"""
model per_pixel {{
  input x: {decl}
  {body}
  train {{ loss {loss_src}; optimizer sgd(lr=0.1); metrics {metrics}; batch 4 }}
}}
"""


def _setup(layout, loss):
    model = specc.loads(spec_text(layout, loss))
    weights, _ = verification_weights(model, 0)
    rng = np.random.default_rng(1)
    xs = random_inputs(model, 4, rng, "float64")
    ys = random_targets(model, 4, rng, "float64")
    return model, weights, xs, ys


def _keras_loss(km, xs, ys) -> float:
    pred = km(xs[0], training=True)
    return float(km.loss(ys[0], pred))


def _torch_loss(bundle, xs, ys, with_outputs=False):
    bundle.model.train()
    loss, outs = bundle.compute_loss(xs, ys, with_outputs=True)
    return (float(loss.detach()), outs[0].detach().numpy()) if with_outputs else float(loss.detach())


CASES = [(lay, loss) for lay in LAYOUTS for loss in LOSSES]


@pytest.mark.parametrize(("layout", "loss"), CASES, ids=[f"{a}-{b}" for a, b in CASES])
def test_per_pixel_loss_and_metrics_agree(layout, loss, monkeypatch):
    model, weights, xs, ys = _setup(layout, loss)
    out_shape = model.type_of(model.outputs[0]).shape
    assert len(out_shape) >= 2 and out_shape[-1] == C
    tb = specc.build(model, "torch", dtype="float64", weights=weights)
    km = specc.build(model, "keras", dtype="float64", weights=weights)
    (lt, out), lk = _torch_loss(tb, xs, ys, with_outputs=True), _keras_loss(km, xs, ys)
    assert lt == pytest.approx(lk, rel=1e-10, abs=1e-12)

    # the loss specc reports (numpy, on the outputs: training mode here) is the same quantity
    assert loss_value(model, [out], ys) == pytest.approx(lk, rel=1e-6)

    # metrics: the numbers the torch loop reports (numpy) are Keras' metric objects' numbers
    ours = metric_values(model, out, ys[0])
    for m in keras_metrics(model):
        m.update_state(ys[0], out)
        name = m.name + ("_micro" if getattr(m, "average", "macro") == "micro" else "")
        assert ours[name] == pytest.approx(float(m.result()), rel=1e-6, abs=1e-7), name

    # negative control: a loss that reads its values channels-first is seen (no crash: same shape)
    run = SpeccModule.run_for_loss

    def transposed(self, inputs, keep=()):
        env, preds = run(self, inputs, keep)
        return env, [p.movedim(-1, 1) for p in preds]

    monkeypatch.setattr(SpeccModule, "run_for_loss", transposed)
    assert _torch_loss(tb, xs, ys) != pytest.approx(lk, rel=1e-6, abs=1e-9)


def _generated(model, tmp_path):
    path = tmp_path / "gen_per_pixel.py"
    path.write_text(emit_torch(model))
    spec = importlib.util.spec_from_file_location("gen_per_pixel", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("layout", ["sequence", "image", "image_activation_layer", "conv_transpose", "concat"])
@pytest.mark.parametrize("loss", ["bce", "cce_smoothed", "scce", "mse"])
def test_generated_module_per_pixel_loss(layout, loss, tmp_path):
    """`specc compile --to torch`: the generated compute_loss returns Keras' loss, and
    its forward (without return_logits) does no extra work."""
    model, weights, xs, ys = _setup(layout, loss)
    tb = specc.build(model, "torch", dtype="float64", weights=weights)
    km = specc.build(model, "keras", dtype="float64", weights=weights)
    mod = _generated(model, tmp_path)
    cls = next(v for v in vars(mod).values() if isinstance(v, type) and issubclass(v, torch.nn.Module) and "reset_parameters" in vars(v))
    gen = cls().double()
    gen.load_state_dict(tb.model.state_dict())
    x = [torch.as_tensor(a) for a in xs]
    gen.eval()
    with torch.no_grad():
        np.testing.assert_allclose(gen(*x).numpy(), tb.predict(xs), rtol=0, atol=1e-13)
    gen.train()
    lg = float(mod.compute_loss(gen, x, tb.to_targets(ys)).detach())
    assert lg == pytest.approx(_keras_loss(km, xs, ys), rel=1e-10, abs=1e-12)


def test_inference_does_not_convert_logits():
    """The channels-last copy of the logits exists only for the loss."""
    model = specc.loads(spec_text("image", "scce"))
    tb = specc.build(model, "torch", dtype="float64")
    assert tb.plan.loss_steps and all(st.fn == "to_channels_last" for st in tb.plan.loss_steps)
    assert not set(tb.plan.loss_inputs) & {o for st in tb.plan.steps for o in st.outputs}
