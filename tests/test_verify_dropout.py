"""`specc verify` compares dropout instead of switching it off: both backends take their
masks from one seeded source, so the training-path modules, where masks apply and how
kept values are scaled are all compared — and a planted bug in any of them fails.
Normal training is untouched (its draws stay the frameworks' own)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import specc
from specc.backends.torch.lib import recurrent as trec
from specc.verification import verify

CONV = """
model conv_dropout {
  input image: float32[5, 5, 2]
  conv2d(3, kernel=3, padding=same, activation=relu)
  dropout(0.3)
  flatten
  dropout(0.2)
  dense(3, activation=softmax)
  train { loss categorical_crossentropy; optimizer sgd(lr=0.1) }
}
"""

RNN = """
model rnn_dropout {
  input x: float32[4, 3]
  h = x -> lstm(4, dropout=0.3, recurrent_dropout=0.25, return_sequences=true)
  h -> bidirectional(gru(3, dropout=0.2, recurrent_dropout=0.3)) -> dense(2, activation=softmax)
  train { loss categorical_crossentropy; optimizer sgd(lr=0.1) }
}
"""

FUSED = """
model fused_dropout {
  input x: float32[4, 3]
  h = x -> lstm(4, dropout=0.3, return_sequences=true)
  h -> simple_rnn(3, dropout=0.2, recurrent_dropout=0.1, go_backwards=true) -> dense(2, activation=softmax)
  train { loss categorical_crossentropy; optimizer sgd(lr=0.1) }
}
"""

ATTENTION = """
model attention_dropout {
  input x: float32[4, 8]
  h = x -> multi_head_attention(heads=2, key_dim=4, dropout=0.3, causal=true)
  (x, h) -> add -> global_avgpool1d -> dense(2, activation=softmax)
  train { loss categorical_crossentropy; optimizer sgd(lr=0.1) }
}
"""


def _verify(text, steps=1):
    return verify(specc.loads(text), dtype="float64", steps=steps)


@pytest.mark.parametrize("text", [CONV, RNN, FUSED, ATTENTION], ids=["conv", "rnn", "fused_rnn", "attention"])
def test_models_with_dropout_verify_with_shared_masks(text):
    report = _verify(text, steps=2)
    assert report.ok, report.render_text()
    note = report.notes[0]
    assert note.startswith("dropout compared, not switched off")
    # every stochastic layer drew masks, and they mattered: training-mode outputs differ from inference
    model = specc.loads(text)
    for n in model.nodes:
        if n.op.stochastic:
            assert f"{n.name} (0 masks)" not in note and f"{n.name} (" in note
    assert {r.phase for r in report.rows} >= {"forward", "loss", "gradient", "step 1", "step 2"}


def test_recurrent_masks_per_gate_are_counted():
    report = _verify(RNN)
    # lstm with recurrent dropout: 4 input + 4 state masks; each gru direction 3 + 3
    assert "lstm (8 masks)" in report.notes[0] and "bidirectional (12 masks)" in report.notes[0]


def test_attention_note_says_what_is_not_compared():
    report = _verify(ATTENTION)
    assert any("scaled_dot_product_attention" in n and "not compared" in n for n in report.notes)


# --------------------------------------------------------------------------- planted bugs


def _fails(text) -> str:
    report = _verify(text)
    assert not report.ok, "a planted dropout bug passed verify"
    return report.first_failure.phase


def test_planted_bug_recurrent_scaling(monkeypatch):
    """specc's recurrent masks scaled by 1/√(1 − rate) instead of 1/(1 − rate)."""
    monkeypatch.setattr(trec, "rnn_dropout_mask", lambda like, rate: trec.rnn_keep_mask(like, rate) / (1.0 - rate) ** 0.5)
    assert _fails(FUSED) == "loss"


def test_planted_bug_one_mask_for_every_gate(monkeypatch):
    """Recurrent dropout drawing one mask and using it for every gate (Keras draws one per gate)."""

    def masks(self, like, rate, count):
        if not self.training or not 0.0 < rate < 1.0:
            return None
        return [trec.rnn_dropout_mask(like, rate)] * count

    monkeypatch.setattr(trec.RecurrentLoop, "_masks", masks)
    _fails(RNN)


def test_planted_bug_mask_not_applied_to_the_state(monkeypatch):
    """Recurrent dropout masks drawn but the state multiplied by ones."""
    real = trec.RecurrentLoop._recurrent

    def recurrent(self, h, u, u_gates, masks, gates):
        return real(self, h, u, u_gates, None if masks is None else [torch.ones_like(m) for m in masks], gates)

    monkeypatch.setattr(trec.RecurrentLoop, "_recurrent", recurrent)
    _fails(RNN)


def test_planted_bug_dropout_rate(monkeypatch):
    """The torch lowering of dropout passing another rate."""
    from torch import nn

    from specc.backends.common import Construct
    from specc.backends.torch.ops import misc

    def lower(self, node, ins, ctx):
        (y,) = ctx.module(Construct(nn.Dropout, (node.op.rate * 0.9,)), ins)
        ctx.done([y], [ctx.in_layouts[0]])

    monkeypatch.setattr(misc.DropoutOp, "lower", lower)
    report = _verify(CONV)
    assert not report.ok
    assert any("dropout masks differ" in r.why for r in report.failures())


def test_planted_bug_recurrent_masks_scaled_by_rate(monkeypatch):
    """specc's recurrent masks scaled by rate instead of 1/(1 − rate)."""
    monkeypatch.setattr(trec, "rnn_dropout_mask", lambda like, rate: trec.rnn_keep_mask(like, rate) * rate)
    assert _fails(FUSED) == "loss"


def _identity_dropout(monkeypatch, backend):
    """A dropout lowering that forgets to apply the mask (the layer is an identity)."""
    if backend == "torch":
        from torch import nn

        from specc.backends.common import Construct
        from specc.backends.torch.ops import misc

        def lower(self, node, ins, ctx):
            (y,) = ctx.module(Construct(nn.Identity, ()), ins)
            ctx.done([y], [ctx.in_layouts[0]])

        monkeypatch.setattr(misc.DropoutOp, "lower", lower)
    else:
        from keras import layers

        from specc.backends.common import Construct
        from specc.backends.keras.ops import basic

        monkeypatch.setattr(basic.DropoutOp, "lower", lambda self, node, ins, ctx: ctx.done(ctx.layer(Construct(layers.Identity, ()), ins)))


@pytest.mark.parametrize("backend", ["torch", "keras"])
def test_planted_bug_dropout_mask_not_applied(monkeypatch, backend):
    _identity_dropout(monkeypatch, backend)
    report = _verify(CONV)
    assert not report.ok
    rows = [r for r in report.failures() if "dropout masks differ" in r.why]
    assert {r.name for r in rows} == {"dropout", "dropout_1"} and f"{backend} drew none" in rows[0].why


def test_planted_bug_no_backend_applies_dropout(monkeypatch):
    """Lost in both (shared code): no cross-backend difference, but a declared rate that
    draws no mask in training is reported."""
    _identity_dropout(monkeypatch, "torch")
    _identity_dropout(monkeypatch, "keras")
    report = _verify(CONV)
    assert not report.ok
    assert any("neither torch nor keras drew a mask" in r.why for r in report.failures())


def test_planted_bug_keep_probability_passed_as_rate(monkeypatch):
    """The torch lowering passing the keep probability 1 − rate as torch's p."""
    from torch import nn

    from specc.backends.common import Construct
    from specc.backends.torch.ops import misc

    def lower(self, node, ins, ctx):
        (y,) = ctx.module(Construct(nn.Dropout, (1.0 - node.op.rate,)), ins)
        ctx.done([y], [ctx.in_layouts[0]])

    monkeypatch.setattr(misc.DropoutOp, "lower", lower)
    report = _verify(CONV)
    assert not report.ok and any("rate 0.7" in r.why for r in report.failures())


def test_planted_bug_keras_loses_recurrent_dropout(monkeypatch):
    from specc.backends.keras.ops import recurrent as krec

    real = krec.rnn_construct

    def construct(op, name=None):
        c = real(op, name)
        c.kwargs.pop("recurrent_dropout", None)
        return c

    monkeypatch.setattr(krec, "rnn_construct", construct)
    report = _verify(RNN)
    assert not report.ok and any("dropout masks differ" in r.why for r in report.failures())


def test_planted_bug_attention_dropout_dropped(monkeypatch):
    from specc.backends.torch.lib import attention as tatt

    real = tatt.MultiHeadAttention.__init__

    def init(self, *args, dropout=0.0, **kwargs):
        real(self, *args, dropout=0.0, **kwargs)

    monkeypatch.setattr(tatt.MultiHeadAttention, "__init__", init)
    _fails(ATTENTION)


# --------------------------------------------------------------------------- training untouched


def test_hooks_are_verify_only():
    """After verify the frameworks' own dropout is back, and training draws fresh masks."""
    from keras.src.backend.tensorflow import random as krandom

    before = (F.dropout, trec.rnn_keep_mask, krandom.dropout)
    _verify(CONV)
    assert (F.dropout, trec.rnn_keep_mask, krandom.dropout) == before
    tb = specc.build(specc.loads(CONV), "torch", dtype="float64")
    tb.model.train()
    x = torch.randn(4, 5, 5, 2, dtype=torch.float64)
    a, b = tb.model(x), tb.model(x)
    assert not torch.equal(a, b)  # two draws of torch's own random masks
    assert not tb.model._forward_pre_hooks and all(not m._forward_pre_hooks for m in tb.model.modules())


def test_mask_source_is_seeded_and_layout_aware():
    from specc.backends.torch.plan import CF, Perm
    from specc.verification.masks import MaskSource, _canonical_shape, _to_layout

    s = MaskSource(3)
    with s.run(1), s.node("n"):
        k1 = s.keep((2, 3, 4), 0.25)
        k2 = s.keep((2, 3, 4), 0.25)
    other = MaskSource(3)  # the other backend, in a process of its own
    with other.run(1), other.node("n"):
        assert np.array_equal(other.keep((2, 3, 4), 0.25), k1)  # the same draw
    assert s.log == other.log[:1] + [(1, "n", 1, (2, 3, 4), 0.25)]
    assert not np.array_equal(k1, k2) and set(np.unique(k1)) == {0.0, 1.0}
    with s.run(2), s.node("n"):
        assert not np.array_equal(s.keep((2, 3, 4), 0.25), k1)  # another pass, another mask
    with s.node("m"):
        assert abs(s.keep((100, 100), 0.3).mean() - 0.7) < 0.02  # kept with probability 1 − rate
    assert _canonical_shape((2, 4, 3, 3), CF) == (2, 3, 3, 4)
    assert np.array_equal(_to_layout(k1, CF), np.moveaxis(k1, -1, 1))
    perm = Perm([2, 0, 3, 1])
    canon = np.arange(4.0)[None]
    assert list(_to_layout(canon, perm)[0]) == [2.0, 0.0, 3.0, 1.0]
    with pytest.raises(RuntimeError):
        s.keep((2,), 0.5)  # a draw outside any stochastic layer


def test_the_module_verify_builds_is_the_module_training_builds():
    """Nothing is switched off for verify: a recurrent layer with recurrent dropout runs
    through the same (specc's own, not the fused) module in both."""
    from specc.compiler import as_model
    from specc.verification.data import verification_weights
    from specc.verification.probes import make_probe

    model = as_model(specc.loads(RNN))
    weights, _ = verification_weights(model, 0)
    probe = make_probe("torch", model, weights, "float64", None)
    trained = specc.build(model, "torch", weights=weights, dtype="float64")
    assert repr(probe.bundle.model) == repr(trained.model)
    assert not any(isinstance(m, torch.nn.LSTM | torch.nn.GRU) for m in probe.bundle.model.modules())
    kprobe = make_probe("keras", model, weights, "float64", None)
    kt = specc.build(model, "keras", weights=weights, dtype="float64")
    assert [type(layer).__name__ for layer in kprobe.km.layers] == [type(layer).__name__ for layer in kt.layers]
    assert [layer.get_config().get("recurrent_dropout") for layer in kprobe.km.layers] == [layer.get_config().get("recurrent_dropout") for layer in kt.layers]


def test_a_differing_mask_is_named_before_the_loss_it_explains_and_after_the_forward_rows(monkeypatch):
    _identity_dropout(monkeypatch, "keras")
    report = _verify(CONV)
    f = report.first_failure
    assert (f.phase, f.name) == ("loss", "dropout") and "dropout masks differ" in f.why, report.render_text()
    phases = [r.phase for r in report.rows if r.dtype == "float64"]
    assert phases.index("loss") > max(i for i, p in enumerate(phases) if p == "forward")
