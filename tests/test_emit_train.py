"""`specc compile --to torch`: the train section is written with torch's own optimizer,
loss, clipping and scheduler calls — and trains exactly like `specc.build`'s model for every
loss, optimizer, schedule, clipping and decay the IR has."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812 - the generated expressions use F

import specc
from specc.backends.torch.emit import emit_torch
from specc.backends.torch.emit_train import loss_expr
from specc.backends.torch.lib.training import SpeccLoss, SpeccOptimizer
from emit_support import _check_torch

LOSS_CASES = [
    ("mse", {}), ("mae", {}), ("huber", {"delta": 0.7}),
    ("binary_crossentropy", {"from_logits": True}), ("binary_crossentropy", {"from_logits": True, "label_smoothing": 0.1}),
    ("binary_crossentropy", {}), ("binary_crossentropy", {"label_smoothing": 0.2}),
    ("categorical_crossentropy", {"from_logits": True}), ("categorical_crossentropy", {"from_logits": True, "label_smoothing": 0.1}),
    ("categorical_crossentropy", {}), ("categorical_crossentropy", {"label_smoothing": 0.1}),
    ("sparse_categorical_crossentropy", {"from_logits": True}), ("sparse_categorical_crossentropy", {"label_smoothing": 0.1}),
    ("sparse_categorical_crossentropy", {}), ("kl_divergence", {}),
]


def _data(kind, from_logits, rank, rng):
    shape = (4, 5) if rank == 2 else (4, 3, 5)
    pred = rng.standard_normal(shape)
    if not from_logits and kind in ("binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy", "kl_divergence"):
        pred = np.exp(pred) / (np.exp(pred).sum(-1, keepdims=True) if kind != "binary_crossentropy" else 1 + np.exp(pred))
    if kind == "sparse_categorical_crossentropy":
        y = torch.from_numpy(rng.integers(0, 5, shape[:-1]))
    elif kind in ("binary_crossentropy",):
        y = torch.from_numpy(rng.integers(0, 2, shape).astype(np.float64))
    elif kind in ("categorical_crossentropy", "kl_divergence"):
        y = torch.nn.functional.one_hot(torch.from_numpy(rng.integers(0, 5, shape[:-1])), 5).double()
    else:
        y = torch.from_numpy(rng.standard_normal(shape))
    return torch.from_numpy(pred), y


@pytest.mark.parametrize("rank", [2, 3])
@pytest.mark.parametrize("kind,kw", LOSS_CASES, ids=[f"{k}-{i}" for i, (k, _) in enumerate(LOSS_CASES)])
def test_generated_loss_expression_equals_specc_loss(kind, kw, rank):
    """Each loss expression the emitter writes computes bit for bit what SpeccLoss (the
    in-memory model's loss) computes."""
    rng = np.random.default_rng(rank)
    fl = kw.get("from_logits", False)
    pred, y = _data(kind, fl, rank, rng)
    expr = loss_expr(kind, "pred", "y", from_logits=fl, label_smoothing=kw.get("label_smoothing", 0.0), delta=kw.get("delta", 1.0), rank=rank)
    assert "SpeccLoss" not in expr and "_foreach" not in expr
    ours = eval(expr, {"F": F, "torch": torch}, {"pred": pred, "y": y})  # noqa: S307 - our own emitted expression
    ref = SpeccLoss(kind, fl, kw.get("label_smoothing", 0.0), kw.get("delta", 1.0))(pred, y)
    assert torch.equal(ours, ref), (expr, float(ours), float(ref))


def test_loss_expression_check_can_fail():
    """The comparison above sees a wrong formula: torch's own BCE on probabilities (log
    clamped at −100, no clipping) is not the IR's loss at a saturated probability."""
    pred, y = torch.tensor([[1.0, 0.3]], dtype=torch.float64), torch.tensor([[0.0, 1.0]], dtype=torch.float64)
    assert not torch.equal(F.binary_cross_entropy(pred, y), SpeccLoss("binary_crossentropy")(pred, y))
    assert torch.equal(eval(loss_expr("binary_crossentropy", "pred", "y", from_logits=False, label_smoothing=0.0, delta=1.0, rank=2), {"F": F, "torch": torch}, {"pred": pred, "y": y}), SpeccLoss("binary_crossentropy")(pred, y))  # noqa: S307


TRAIN_CASES = {
    "sgd_momentum_decay_clips_step": "optimizer sgd(lr=0.05, momentum=0.9, nesterov=true, weight_decay=0.1, clip_value=0.5, clip_norm=0.8); schedule step(2, 0.5)",
    "adam_decay_exponential": "optimizer adam(lr=0.01, beta1=0.8, weight_decay=0.02, amsgrad=true); schedule exponential(3, 0.5, staircase=true)",
    "adamw_cosine_alpha": "optimizer adamw(lr=0.01, weight_decay=0.05, clip_norm=0.1); schedule cosine(5, alpha=0.1, warmup_steps=1)",
    "rmsprop_centered": "optimizer rmsprop(lr=0.01, rho=0.9, momentum=0.5, centered=true, weight_decay=0.01)",
    "adagrad": "optimizer adagrad(lr=0.1, initial_accumulator=0.1, lr_decay=0.01); schedule exponential(4, 0.3)",
    "adadelta": "optimizer adadelta(lr=1.0, rho=0.8, clip_value=0.01)",
}


@pytest.mark.parametrize("case", sorted(TRAIN_CASES))
def test_generated_training_equals_build(case, tmp_path):
    """Optimizer kinds, decay, clipping and schedules: the generated train_step takes the
    same steps as specc.build's (with penalties and two outputs, one through a softmax)."""
    src = f"""model m {{
      input x: float32[6]
      h = x -> dense(5, activation=tanh, reg=l1_l2(0.01, 0.02)) -> dense(4, reg=l2(0.03), bias_reg=l1(0.01))
      a = h -> dense(3, activation=softmax)
      b = h -> dense(3)
      output a, b
      train {{ loss categorical_crossentropy; {TRAIN_CASES[case]} }}
    }}"""
    model = specc.loads(src)
    code = emit_torch(model)
    assert "SpeccOptimizer" not in code and "SpeccLoss" not in code and "_foreach" not in code
    assert re.search(r"torch\.optim\.(SGD|Adam|AdamW|RMSprop|Adagrad|Adadelta)\(", code)
    _check_torch(model, tmp_path, case)


def test_clip_norm_is_clip_grad_norm_in_both_backends():
    """The IR's clip_norm is torch's clip_grad_norm_ (scale min(1, c / (‖g‖ + 1e-6))); the
    Keras optimizer computes the same.  At ‖g‖ = 1e-6 the 1e-6 halves the scale, so the old
    rule min(1, c/‖g‖) (Keras' global_clipnorm) would fail here."""
    import keras

    g = np.array([6e-7, 8e-7])  # ‖g‖ = 1e-6
    c = 1e-7
    p = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
    opt = SpeccOptimizer([p], "sgd", lr=1.0, clip_norm=c)
    p.grad = torch.from_numpy(g.copy())
    opt.step()
    want = -g * (c / (1e-6 + 1e-6))
    np.testing.assert_allclose(p.detach().numpy(), want, rtol=1e-12)
    assert not np.allclose(want, -g * (c / 1e-6), rtol=1e-3)
    from specc.backends.keras.bundle import specc_optimizer as KerasOpt

    v = keras.Variable(np.zeros(2), dtype="float64")
    KerasOpt(kind="sgd", lr=1.0, clip_norm=c).apply([keras.ops.convert_to_tensor(g)], [v])
    np.testing.assert_allclose(v.numpy(), want, rtol=1e-12)


def test_no_copied_runtime_for_plain_models():
    """A model of torch.nn layers with a built-in optimizer and loss copies no specc code."""
    model = specc.loads("model m { input x: float32[4]\n dense(3, activation=relu)\n dense(2)\n train { loss mse; optimizer sgd(lr=0.1) } }")
    code = emit_torch(model)
    assert "specc runtime (copied)" not in code
    assert "torch.optim.SGD(model.parameters(), lr=0.1)" in code and "F.mse_loss(pred, targets[0])" in code


def test_frozen_layers_stay_frozen(tmp_path):
    """trainable=false layers get no updates in the generated module either (a frozen batch
    norm keeps its statistics) — before, the generated module trained them."""
    model = specc.loads("model m { input x: float32[4]\n dense(3, activation=relu, trainable=false)\n batch_norm(trainable=false)\n dense(2)\n train { loss mse; optimizer sgd(lr=0.1) } }")
    code = emit_torch(model)
    assert "self.dense.requires_grad_(False)" in code and "self.batch_norm.frozen = True" in code
    _check_torch(model, tmp_path, "frozen")
