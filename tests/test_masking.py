"""Masking: `embedding(…, mask_zero=true)` makes id 0 padding; a recurrence reading the
vectors (lstm, gru, simple_rnn, bidirectional; return_sequences=false; go_backwards too)
skips the padded steps exactly as Keras does, in both backends, in memory and in generated
code; verify and train data are padded batches whose padding differs per example; any
other layer that would receive the mask is refused at check (never silently dropped)."""

from __future__ import annotations

import importlib.util

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
        ("e -> dense(3)", "dense", "it does not implement masking", 8),
        ("e -> global_avgpool1d", "global_avgpool1d", "it does not implement masking", 8),
        ("e -> lstm(3, return_sequences=true)", "lstm", "with return_sequences=true its output would carry the mask on", 8),
        ("e * 2.0", "*", "it does not implement masking", 3),
        ("e -> dropout(0.1) -> lstm(3)", "dropout", "it does not implement masking", 8),
        ("(e, e) -> concat -> lstm(2)", "concat", "it does not implement masking", 13),
    ],
)
def test_layers_without_masking_are_refused(chain, layer, why, col):
    """Never silently approximated: a layer that would receive the mask but does not
    implement masking is a located error at check."""
    text = "model m {\n  input tokens: int32[7]\n  e = tokens -> embedding(vocab=9, dim=4, mask_zero=true)\n  " + chain + "\n}\n"
    with pytest.raises(specc.SpecError) as err:
        specc.loads(text)
    (d,) = err.value.diagnostics
    assert d.message == f"{layer} would receive the padding mask of embedding(mask_zero=true), but {why}", str(err.value)
    assert (d.span.line, d.span.col) == (4, col), str(err.value)
    assert len(d.notes) == 1 and d.notes[0].startswith("the mask is made at") and d.notes[0].endswith(":3:17")
    assert "return_sequences=false" in d.hint


def test_masked_is_not_written():
    with pytest.raises(specc.SpecError, match="masked=true reads a sequence and its ids"):
        specc.loads("model m {\n  input x: float32[5, 3]\n  x -> lstm(4, masked=true)\n}\n")


# --------------------------------------------------------------------------- Keras' semantics


@pytest.mark.parametrize("name", sorted(CASES))
def test_backends_agree_on_padded_batches(name):
    text = _spec(CASES[name])
    w = _weights(text, 3)
    model, tb, km, _ = build_both(text, weights=w)
    xs = [_tokens(6, 7, 4)]
    yt, yk = forward_both(tb, km, xs)
    assert np.abs(yk).max() > 0.1 and max_rel(yt, yk) < 1e-12
    ys = random_targets(model, 6, np.random.default_rng(5))
    lt, lk, gt, gk = grads_both(tb, km, xs, ys)
    assert abs(lt - lk) <= 1e-12 * abs(lk)
    for k in w:
        assert max_rel(gt[k], gk[k]) < 1e-10, k
    # the mask matters: without it the outputs differ
    plain = build_both(text.replace(", mask_zero=true", ""), weights=w)
    assert max_rel(forward_both(plain[1], plain[2], xs)[0], yt) > 1e-3


@pytest.mark.parametrize("name", ["lstm", "gru_backwards", "bilstm"])
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


def test_float32():
    text = _spec(CASES["bilstm"])
    _, tb, km, _ = build_both(text, dtype="float32", weights=_weights(text, 8))
    yt, yk = forward_both(tb, km, [_tokens(6, 7, 9)])
    assert yt.dtype == yk.dtype == np.float32 and max_rel(yt, yk) < 1e-5


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


def test_generated_code_masks(tmp_path):
    text = _spec("bidirectional(gru(4))")
    model = specc.loads(text)
    w = _weights(text, 2)
    x = [_tokens(4, 7, 3)]
    src_t, src_k = emit_torch(model), emit_keras(model)
    assert "mask=keras.ops.not_equal(tokens, 0)" in src_k
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
