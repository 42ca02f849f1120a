"""benchmarks/hand_equal.py's hand-written mnist_cnn computes exactly the spec's meaning —
the baseline benchmarks/generated_lines.py counts beside the generated modules — and the
check would see it if it did not (Keras' own Adam, PyTorch's default initialisers)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import specc
from specc.verification.data import verification_weights

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
import hand_equal  # noqa: E402

SPEC = ROOT / "specs" / "mnist_cnn.spec"


def _batch(n=16):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 28, 28, 1)).astype("float32"), rng.integers(0, 10, n)


def _updates(before, after):
    return [a - b for a, b in zip(after, before)]


def _close(ours, theirs, rtol):
    """Each update (or output) within ``rtol`` of the largest of its tensor.  An update read
    as w_after − w_before carries the weights' float32 rounding: an ulp of |w| < 1 is < 1.2e-7,
    against Adam's steps of about lr = 1e-3, so a few 1e-4 after two steps (measured: 2.6e-4);
    Keras' own Adam differs by 0.94 here (its ε is PyTorch's ε·√(1−β₂ᵗ))."""
    for a, b in zip(ours, theirs):
        scale = float(np.max(np.abs(a))) or 1.0
        if float(np.max(np.abs(a - b))) > rtol * scale:
            return False
    return True


def test_torch_hand_written_is_the_spec():
    import torch

    model = specc.load(SPEC)
    built = specc.build(model, "torch", weights=verification_weights(model, 0)[0])
    hand, make_opt, step = hand_equal.torch_hand()
    names = {"conv1": "conv2d", "conv2": "conv2d_1", "conv3": "conv2d_2", "fc1": "dense", "fc2": "dense_1"}
    sd = built.model.state_dict()
    hand.load_state_dict({f"{h}.{k}": sd[f"{s}.{k}"] for h, s in names.items() for k in ("weight", "bias")})
    x, y = _batch()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    built.model.eval()
    hand.eval()
    with torch.no_grad():
        assert _close([built.model(xt).numpy()], [hand(xt).numpy()], 1e-5)
    before = [p.detach().clone().numpy() for p in hand.parameters()]
    opt = make_opt(hand)
    for _ in range(2):
        built.train_step(built.to_inputs([x]), built.to_targets([y]))
        step(hand, opt, xt, yt)
    ours = [sd_v.numpy() for sd_v in (built.model.state_dict()[f"{s}.{k}"] for s in names.values() for k in ("weight", "bias"))]
    theirs = [p.detach().numpy() for p in hand.parameters()]
    assert _close(_updates(before, ours), _updates(before, theirs), 1e-3)
    # torch's own initialisers are not the spec's: the hand model must set them
    fresh = hand_equal.torch_hand()[0]
    bound = np.sqrt(6.0 / (576 + 64))  # Glorot-uniform limit of fc1
    assert np.abs(fresh.fc1.weight.detach().numpy()).max() > 0.9 * bound
    assert torch.nn.Linear(576, 64).weight.abs().max().item() < 0.5 * bound


@pytest.mark.parametrize("planted", [False, True])
def test_keras_hand_written_is_the_spec(planted):
    import keras

    model = specc.load(SPEC)
    km = specc.build(model, "keras", weights=verification_weights(model, 0)[0])
    hand = hand_equal.keras_hand()
    if planted:  # Keras' own Adam: ε before the bias correction
        hand.compile(optimizer=keras.optimizers.Adam(1e-3, epsilon=1e-8), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    hand.set_weights(km.get_weights())
    x, y = _batch()
    assert _close([np.asarray(km.predict_on_batch(x))], [np.asarray(hand.predict_on_batch(x))], 1e-5)
    before = km.get_weights()
    for m in (km, hand):  # the slots made now (made inside the first traced step, it is traced twice)
        m.optimizer.build(m.trainable_variables)
    for _ in range(2):
        km.train_on_batch(x, y)
        hand.train_on_batch(x, y)
    assert _close(_updates(before, km.get_weights()), _updates(before, hand.get_weights()), 1e-3) != planted
