"""Masking: `embedding(…, mask_zero=true)` makes id 0 padding; a recurrence reading the
vectors (lstm, gru, simple_rnn, bidirectional; return_sequences=false; go_backwards too)
skips the padded steps exactly as Keras does, in both backends, in memory and in generated
code; verify and train data are padded batches whose padding differs per example; any
other layer that would receive the mask is refused at check (never silently dropped)."""

from __future__ import annotations

import importlib.util
import re

import numpy as np
import pytest
import torch
from gradients import grads_both
from support import build_both, forward_both, max_rel, random_inputs, random_targets

import specc
from specc.backends.keras.emit import emit_keras
from specc.backends.torch.emit import emit_torch
from specc.verification import verify
from specc.verification.data import pad_ids
from specc.weights import init_weights

TRAIN = "  train {\n    loss mse\n    optimizer sgd(lr=0.05)\n  }\n"


def _spec(rnn: str, steps: int = 7) -> str:
    return (
        f"model m {{\n  input tokens: int32[{steps}]\n  e = tokens -> embedding(vocab=9, dim=4, mask_zero=true)\n"
        f"  e -> {rnn}\n  dense(2)\n" + TRAIN + "}\n"
    )


CASES = {
    "lstm": "lstm(5)",
    "gru_backwards": "gru(5, go_backwards=true)",
    "gru_reset_before": "gru(5, reset_after=false)",
    "simple_rnn": "simple_rnn(5)",
    "bilstm": "bidirectional(lstm(4))",
    "bigru_sum": "bidirectional(gru(4), merge=sum)",
}


#: masks carried on: stacked recurrences, pass-through layers, pooling, attention
SEQ_CASES = {
    "stacked_lstm": "lstm(4, return_sequences=true) -> lstm(3)",
    "stacked_bilstm": "bidirectional(lstm(3, return_sequences=true)) -> bidirectional(gru(2))",
    "bigru_seq_sum_then_backwards": "bidirectional(gru(3, return_sequences=true), merge=sum) -> gru(2, go_backwards=true)",
    "seq_backwards_pool": "simple_rnn(3, return_sequences=true, go_backwards=true) -> global_avgpool1d",
    "passing_layers_pool": "lstm(4, return_sequences=true) -> dense(3, activation=tanh) -> dropout(0.2) -> layer_norm -> activation(relu) -> global_avgpool1d",
    "pool": "dense(3) -> global_avgpool1d",
    "attention": "multi_head_attention(2, 3) -> global_avgpool1d",
    "attention_causal": "multi_head_attention(2, 3, causal=true) -> lstm(3)",
    "attention_dropout": "multi_head_attention(2, 3, dropout=0.3) -> global_avgpool1d",
}
CASES.update(SEQ_CASES)


def _weights(text, seed):
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(v.shape) * 0.5 for k, v in init_weights(specc.loads(text), 0).items()}


def _tokens(batch, steps, seed):
    rng = np.random.default_rng(seed)
    return pad_ids(rng.integers(1, 9, (batch, steps)), rng).astype("int32")


# --------------------------------------------------------------------------- the IR and the data


def test_a_recurrence_reads_the_ids():
    m = specc.loads(_spec("bidirectional(lstm(4))"))
    node = next(n for n in m.nodes if n.op.kind == "bidirectional")
    assert node.inputs == ("embedding", "tokens") and node.op.layer.masked
    assert m.padded("tokens")
    assert specc.ir.graph.Model.from_json(m.to_json()) == m


def test_padding_differs_per_example():
    x = pad_ids(np.ones((7, 7), dtype=int), np.random.default_rng(0))
    lengths = (x != 0).sum(1)
    assert sorted(lengths) == list(range(1, 8))
    assert all((row[:k] != 0).all() and (row[k:] == 0).all() for row, k in zip(x, lengths, strict=True))
    model = specc.loads(_spec("lstm(5)"))
    (tokens,) = random_inputs(model, 5, np.random.default_rng(1))
    assert len(set((tokens != 0).sum(1))) == 5 and (tokens[:, 0] != 0).all()


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "chain, layer, why, col",
    [
        ("e -> global_maxpool1d", "global_maxpool1d", "Keras' GlobalMaxPooling1D does not support masking (it would take the maximum over padded steps too)", 8),
        ("e -> flatten", "flatten", "Keras' Flatten does not support masking (the padded steps would be flattened in)", 8),
        ("e -> dense(3) -> batch_norm -> lstm(2)", "batch_norm", "Keras' BatchNormalization would compute its statistics over the real steps only, which specc does not implement", 20),
        ("e -> conv1d(3, 2) -> lstm(2)", "conv1d", "Keras' Conv1D does not support masking (its windows would read padded steps)", 8),
        ("e -> lstm(3, return_sequences=true) -> permute([2, 1])", "permute", "it does not implement masking", 42),
        ("(e, f) -> add -> lstm(2)", "add", "its input 'f' has none: Keras' add layer then drops the mask, and specc does not drop a mask silently", 13),
        ("(e, e) -> concat(axis=1) -> lstm(2)", "concat", "it joins along another axis than the features, which would change the masked steps", 13),
        ("e + (u -> embedding(vocab=9, dim=4, mask_zero=true)) -> lstm(2)", "+", "its inputs carry two different masks ('embedding' from 'tokens', 'embedding_1' from 'u'), which specc does not combine", 3),
    ],
)
def test_layers_without_masking_are_refused(chain, layer, why, col):
    """Never silently approximated: a layer that would receive the mask but cannot use or
    pass it as Keras does is a located error at check that says why."""
    text = "model m {\n  input tokens: int32[7]\n  input u: int32[7]\n  input f: float32[7, 4]\n  e = tokens -> embedding(vocab=9, dim=4, mask_zero=true)\n  " + chain + "\n}\n"
    with pytest.raises(specc.SpecError) as err:
        specc.loads(text)
    d = err.value.diagnostics[0]
    assert d.message == f"{layer} would receive the padding mask of embedding(mask_zero=true), but {why}", str(err.value)
    assert (d.span.line, d.span.col) == (6, col), str(err.value)
    assert len(d.notes) == 1 and d.notes[0].startswith("the mask is made at") and d.notes[0].endswith(":5:17")
    assert d.hint


@pytest.mark.parametrize("chain", ["e -> dense(3)", "e -> lstm(3, return_sequences=true)", "e -> multi_head_attention(2, 2)", "e * 2.0"])
def test_an_output_carrying_a_mask_is_refused(chain):
    """Keras would weight the loss by an output's mask: not implemented, so refused."""
    text = "model m {\n  input tokens: int32[7]\n  e = tokens -> embedding(vocab=9, dim=4, mask_zero=true)\n  " + chain + "\n}\n"
    with pytest.raises(specc.SpecError) as err:
        specc.loads(text)
    (d,) = err.value.diagnostics
    assert "carries the padding mask" in d.message and "weight the loss" in d.message and d.span.line == 3
    assert "global_avgpool1d" in d.hint


def test_masked_is_not_written():
    with pytest.raises(specc.SpecError, match="masked=true reads a sequence and its ids"):
        specc.loads("model m {\n  input x: float32[5, 3]\n  x -> lstm(4, masked=true)\n}\n")



@pytest.mark.parametrize("masks", ["[query]", "[query, value, key]", "[query, query]", "[key, value]"])
def test_masks_written_by_hand_are_an_error_not_an_internal_one(masks):
    """``masks`` names the inputs' padding ids that specc appends; written by hand with
    fewer inputs than masks it was an IndexError (exit 3)."""
    with pytest.raises(specc.SpecError) as e:
        specc.loads(f"model m {{\n  input x: float32[5, 4]\n  x -> multi_head_attention(heads=2, key_dim=2, masks={masks})\n}}\n")
    (d,) = e.value.diagnostics
    assert d.span.line == 3 and "do not write it" in d.hint


# --------------------------------------------------------------------------- Keras' semantics


@pytest.mark.parametrize("name", sorted(CASES))
def test_backends_agree_on_padded_batches(name):
    text = _spec(CASES[name])
    w = _weights(text, 3)
    model, tb, km, _ = build_both(text, weights=w, no_dropout=False)  # inference: attention dropout > 0 picks Keras' other path
    xs = [_tokens(6, 7, 4)]
    yt, yk = forward_both(tb, km, xs)
    assert np.abs(yk).max() > 0.1 and max_rel(yt, yk) < 1e-12
    ys = random_targets(model, 6, np.random.default_rng(5))
    if "dropout" in CASES[name]:  # training draws differ: test_verify_finds_… compares these with seeded masks
        _, tb, km, _ = build_both(text, weights=w)
    lt, lk, gt, gk = grads_both(tb, km, xs, ys)
    assert abs(lt - lk) <= 1e-12 * abs(lk)
    for k in w:  # (an attention key bias's gradient is 0 in exact arithmetic: round-off against 1e-6)
        assert np.abs(gt[k] - gk[k]).max() <= 1e-10 * max(np.abs(gk[k]).max(), 1e-6), k
    # the mask matters: without it the outputs differ
    plain = build_both(text.replace(", mask_zero=true", ""), weights=w, no_dropout=False)
    assert max_rel(forward_both(plain[1], plain[2], xs)[0], yt) > 1e-3


@pytest.mark.parametrize("name", ["lstm", "gru_backwards", "bilstm", "stacked_bilstm", "bigru_seq_sum_then_backwards", "passing_layers_pool", "attention", "attention_dropout"])
def test_a_padded_example_computes_what_its_unpadded_sequence_does(name):
    """Keras' meaning, checked in torch without Keras: an example padded to 7 steps gives
    what the same layer gives on its real steps alone."""
    text = _spec(CASES[name])
    w = _weights(text, 6)
    tb = specc.build(specc.loads(text), "torch", dtype="float64", weights=w)
    x = _tokens(5, 7, 7)
    y = tb.predict([x])
    for row, out in zip(x, y, strict=True):
        k = int((row != 0).sum())
        short = specc.build(specc.loads(_spec(CASES[name], steps=k).replace(", mask_zero=true", "")), "torch", dtype="float64", weights=w)
        np.testing.assert_allclose(short.predict([row[None, :k]])[0], out, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["bilstm", "stacked_bilstm", "attention", "passing_layers_pool"])
def test_float32(name):
    text = _spec(CASES[name])
    _, tb, km, _ = build_both(text, dtype="float32", weights=_weights(text, 8))
    yt, yk = forward_both(tb, km, [_tokens(6, 7, 9)])
    assert yt.dtype == yk.dtype == np.float32 and max_rel(yt, yk) < 1e-5


def test_a_bidirectional_sequence_is_zero_at_padded_steps():
    """Keras' Bidirectional forces zero_output_for_mask with return_sequences; a single
    recurrence repeats its last real output instead."""
    for rnn, zero in (("bidirectional(lstm(3, return_sequences=true))", True), ("lstm(3, return_sequences=true)", False)):
        text = "model m {\n  input tokens: int32[7]\n  e = tokens -> embedding(vocab=9, dim=4, mask_zero=true)\n  s = e -> " + rnn + "\n  s -> lstm(2)\n}\n"
        from specc.backends.torch.lib import recurrent

        tb = specc.build(specc.loads(text), "torch", dtype="float64", weights=_weights(text, 1))
        x = _tokens(5, 7, 2)
        first = next(m for m in tb.model.modules() if isinstance(m, (recurrent.BiRecurrent, recurrent.RecurrentLoop)))
        got = []
        first.register_forward_hook(lambda mod, args, out: got.append(out.detach().numpy()))
        tb.predict([x])
        seq = got[0]
        pad = x == 0
        if zero:
            assert np.all(seq[pad] == 0) and np.abs(seq[~pad]).min() > 0
        else:
            last = [(row != 0).sum() - 1 for row in x]
            for b, k in enumerate(last):
                assert np.all(seq[b, k + 1 :] == seq[b, k])


def test_cross_attention_with_two_masks():
    """Query and value padded differently: Keras' attention mask is query × value."""
    text = (
        "model ca {\n  input a: int32[6]\n  input b: int32[5]\n"
        "  q = a -> embedding(vocab=9, dim=4, mask_zero=true)\n  v = b -> embedding(vocab=9, dim=4, mask_zero=true)\n"
        "  (q, v) -> multi_head_attention(2, 3) -> global_avgpool1d -> dense(2)\n" + TRAIN + "}\n"
    )
    model = specc.loads(text)
    att = next(n for n in model.nodes if n.op.kind == "multi_head_attention")
    assert att.op.masks == ("query", "value") and att.inputs[-2:] == ("a", "b")
    w = _weights(text, 4)
    _, tb, km, _ = build_both(text, weights=w)
    xs = [_tokens(6, 6, 1), _tokens(6, 5, 2)]
    yt, yk = forward_both(tb, km, xs)
    assert max_rel(yt, yk) < 1e-12
    ys = random_targets(model, 6, np.random.default_rng(5))
    lt, lk, gt, gk = grads_both(tb, km, xs, ys)
    for k in w:
        assert np.abs(gt[k] - gk[k]).max() <= 1e-10 * max(np.abs(gk[k]).max(), 1e-6), k


# --------------------------------------------------------------------------- planted bugs


def test_planted_torch_ignores_the_mask(monkeypatch):
    from specc.backends.torch.lib import recurrent

    real = recurrent.RecurrentLoop.forward
    monkeypatch.setattr(recurrent.RecurrentLoop, "forward", lambda self, x, ids=None: real(self, x))
    report = verify(specc.loads(_spec(CASES["bilstm"])), dtype="float64", steps=1, processes=False)
    assert not report.ok and report.first_failure.phase == "forward", report.render_text()


def test_planted_keras_drops_the_mask(monkeypatch):
    from specc.backends.keras import plan as kplan

    real = kplan.KCtx.layer

    def unmasked(self, construct, ins, **kw):
        if kw.get("call") == "masked":
            kw["call"], ins = "one", ins[:1]
        return real(self, construct, ins, **kw)

    monkeypatch.setattr(kplan.KCtx, "layer", unmasked)
    report = verify(specc.loads(_spec(CASES["gru_backwards"])), dtype="float64", steps=1, processes=False)
    assert not report.ok and report.first_failure.phase == "forward", report.render_text()


def _verify(name):
    return verify(specc.loads(_spec(CASES[name])), dtype="float64", steps=1, processes=False)


def test_planted_keras_drops_every_mask(monkeypatch):
    """Keras called without the masks (pooling and attention as well as recurrences)."""
    from specc.backends.keras import plan as kplan

    real = kplan.KCtx.layer

    def unmasked(self, construct, ins, masks=(), **kw):
        if kw.get("call") == "masked":
            ins = ins[: len(ins) - len(masks)]
            kw["call"] = "args" if len(ins) > 1 else "one"
        return real(self, construct, ins, **kw)

    monkeypatch.setattr(kplan.KCtx, "layer", unmasked)
    for name in ("pool", "attention"):
        report = _verify(name)
        assert not report.ok and report.first_failure.phase == "forward", report.render_text()


def test_planted_torch_pooling_ignores_the_mask(monkeypatch):
    from specc.backends.torch import plan as tplan

    monkeypatch.setitem(tplan.FUNCTIONS, "masked_mean", lambda x, ids: x.mean(1))
    report = _verify("pool")
    assert not report.ok and report.first_failure.phase == "forward", report.render_text()


@pytest.mark.parametrize("case", ["attention", "attention_dropout"])
def test_planted_torch_attention_ignores_the_mask(monkeypatch, case):
    from specc.backends.torch.lib import attention

    real = attention.MultiHeadAttention.forward

    def unmasked(self, query, value=None, key=None, *ids):
        self.masks = ()
        return real(self, query, value, key)

    monkeypatch.setattr(attention.MultiHeadAttention, "forward", unmasked)
    report = _verify(case)
    assert not report.ok and report.first_failure.phase == "forward", report.render_text()


def test_planted_torch_padded_query_rows_by_the_other_keras_path(monkeypatch):
    """A padded query row is uniform (dropout 0) or 0 (dropout > 0) in Keras; swapping
    the two rules is caught."""
    from specc.backends.torch.lib import attention

    real = attention.MultiHeadAttention._attend_masked

    def swapped(self, q, k, v, allowed):
        d = self.dropout
        self.dropout = 0.0 if d else 1e-12
        try:
            return real(self, q, k, v, allowed)
        finally:
            self.dropout = d

    monkeypatch.setattr(attention.MultiHeadAttention, "_attend_masked", swapped)
    report = _verify("attention")
    assert not report.ok and report.first_failure.phase == "forward", report.render_text()


def test_planted_torch_bidirectional_repeats_outputs_at_padded_steps(monkeypatch):
    from specc.backends.torch.lib import recurrent

    real = recurrent.RecurrentLoop.forward

    def repeated(self, x, ids=None):
        self.zero_masked_outputs = False
        return real(self, x, ids)

    monkeypatch.setattr(recurrent.RecurrentLoop, "forward", repeated)
    report = _verify("stacked_bilstm")
    assert not report.ok and report.first_failure.phase == "forward", report.render_text()


def test_verify_passes_every_masked_case():
    for name in ("stacked_bilstm", "passing_layers_pool", "attention_causal", "attention_dropout"):
        report = _verify(name)
        assert report.ok, report.render_text()


def test_planted_padding_at_the_front_is_caught_by_the_unpadded_rule():
    """A torch loop that starts from the padded end (a flipped mask) is not Keras'."""
    from specc.backends.torch.lib import recurrent

    text = _spec(CASES["lstm"])
    w = _weights(text, 6)
    tb = specc.build(specc.loads(text), "torch", dtype="float64", weights=w)
    x = _tokens(5, 7, 7)
    good = tb.predict([x])
    loop = next(m for m in tb.model.modules() if isinstance(m, recurrent.RecurrentLoop))
    real = loop.forward
    loop.forward = lambda x, ids=None: real(x, None if ids is None else ids.flip(1))
    assert max_rel(tb.predict([x]), good) > 1e-3


# --------------------------------------------------------------------------- generated code


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("rnn", ["bidirectional(gru(4))", "bidirectional(lstm(3, return_sequences=true)) -> multi_head_attention(2, 3, causal=true) -> dense(3) -> global_avgpool1d"])
def test_generated_code_masks(tmp_path, rnn):
    text = _spec(rnn)
    model = specc.loads(text)
    w = _weights(text, 2)
    x = [_tokens(4, 7, 3)]
    src_t, src_k = emit_torch(model), emit_keras(model)
    assert re.search(r"mask=named\(keras\.ops\.not_equal\(tokens, 0\), '[\w.]+__mask'\)", src_k)
    built = specc.build(model, "torch", dtype="float64", weights=w)
    (tmp_path / "gen_mt.py").write_text(src_t)
    mod = _load(tmp_path / "gen_mt.py", "gen_mt")
    cls = next(v for v in vars(mod).values() if isinstance(v, type) and issubclass(v, torch.nn.Module) and v.__module__ == "gen_mt" and "reset_parameters" in vars(v))
    gen = cls().double()
    gen.load_state_dict(built.model.state_dict())
    gen.eval()
    built.model.eval()
    xt = built.to_inputs(x)
    assert torch.equal(built.model(*xt), gen(*xt))
    (tmp_path / "gen_mk.py").write_text(src_k)
    g = _load(tmp_path / "gen_mk.py", "gen_mk").build_model("float64")
    km = specc.build(model, "keras", dtype="float64", weights=w)
    values = {v.path: v.numpy() for v in km.weights}
    for v in g.weights:
        v.assign(values[v.path])
    np.testing.assert_array_equal(np.asarray(km(x[0], training=False)), np.asarray(g(x[0], training=False)))


@pytest.mark.parametrize("first,second", [("e", "b"), ("b", "e")])
def test_a_shared_recurrence_is_masked_in_every_use_or_none(first, second):
    """One weight set, one rule: a shared recurrence that skips padded steps in one use and
    not in another is a located error (it used to be an internal error)."""
    text = (
        "model sm {\n  input a: int32[8]\n  input b: float32[8, 4]\n"
        "  e = a -> embedding(vocab=20, dim=4, mask_zero=true)\n"
        f"  h1 = {first} -> lstm(5, name=enc)\n  h2 = {second} -> enc\n  (h1, h2) -> concat -> dense(2)\n}}\n"
    )
    with pytest.raises(specc.SpecError) as e:
        specc.loads(text)
    d = e.value.diagnostics[0]
    assert "shared layer first applied to" in d.message and d.span.line == 6
    assert "mask_zero=true" in (d.hint or "")


def test_a_shared_recurrence_masked_in_every_use_verifies():
    text = (
        "model sm {\n  input a: int32[8]\n  input b: int32[8]\n"
        "  h1 = a -> embedding(vocab=20, dim=4, mask_zero=true) -> lstm(5, name=enc)\n"
        "  h2 = b -> embedding(vocab=20, dim=4, mask_zero=true) -> enc\n  (h1, h2) -> concat -> dense(2)\n"
        "  train {\n    loss mse\n    optimizer sgd\n  }\n}\n"
    )
    from specc.verification import verify

    assert verify(specc.loads(text), dtype="float64", processes=False).ok
