"""positions and sinusoidal_embedding: keras.io's token + learned position embedding as a
spec equals the same model written with Keras layers; both backends agree (float64 and
float32, on several sequence lengths with one model); sinusoidal encodings equal the
formula; negative controls (positions off by one, sin and cos swapped) are caught."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from support import build_both, forward_both, max_rel

import specc
from specc.backends.keras import lib as KL
from specc.backends.torch import lib as L

POSEMB = """model m {
  input tokens: int32[?]
  tok = tokens -> embedding(vocab=50, dim=8)
  pos = tokens -> positions -> embedding(vocab=12, dim=8)
  x = tok + pos
  x -> dense(3)
  train { loss mse; optimizer sgd(lr=0.1) }
}
"""

SINUS = """model m {
  input tokens: int32[?]
  tok = tokens -> embedding(vocab=50, dim=7)
  x = tok + (tokens -> positions -> sinusoidal_embedding(7, base=100))
  x -> dense(3)
}
"""


def _weights(text, seed):
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(v.shape) for k, v in specc.build(specc.loads(text), "torch", dtype="float64").get_weights().items()}


def _ids(batch, length, seed=0):
    return np.random.default_rng(seed).integers(0, 50, (batch, length)).astype("int32")


def test_shapes_and_errors():
    m = specc.loads(SINUS)
    assert str(m.nodes[1].types[0]) == "int32[?]" and m.nodes[2].types[0].shape == (None, 7)
    with pytest.raises(specc.SpecError, match="sinusoidal_embedding needs integer positions"):
        specc.loads("model m {\n  input x: float32[5, 3]\n  sinusoidal_embedding(4)\n}\n")
    with pytest.raises(specc.SpecError, match="positions needs a sequence"):
        specc.loads("model m {\n  input x: float32[]\n  positions\n}\n")


class _TokenAndPositionEmbedding(keras.layers.Layer):
    def __init__(self, maxlen, vocab_size, embed_dim, **kwargs):
        super().__init__(**kwargs)
        self.token_emb = keras.layers.Embedding(input_dim=vocab_size, output_dim=embed_dim, dtype=self.dtype_policy)
        self.pos_emb = keras.layers.Embedding(input_dim=maxlen, output_dim=embed_dim, dtype=self.dtype_policy)

    def call(self, x):
        maxlen = keras.ops.shape(x)[-1]
        positions = keras.ops.arange(start=0, stop=maxlen, step=1)
        positions = self.pos_emb(positions)
        x = self.token_emb(x)
        return x + positions


def test_posemb_equals_keras_io_reference():
    """keras.io: x = token_emb(x) + pos_emb(arange(maxlen)), then a dense layer."""
    w = _weights(POSEMB, 1)
    model, tb, km, _ = build_both(POSEMB, weights=w)
    ids = _ids(3, 9)
    layer = _TokenAndPositionEmbedding(12, 50, 8, dtype="float64")  # keras.io's layer, verbatim
    dense = keras.layers.Dense(3, dtype="float64")
    inp = keras.Input((None,), dtype="int32")
    ref = keras.Model(inp, dense(layer(inp)))
    layer.token_emb.set_weights([w["embedding.embeddings"]])
    layer.pos_emb.set_weights([w["embedding_1.embeddings"]])
    dense.set_weights([w["dense.kernel"], w["dense.bias"]])
    expect = np.asarray(ref(ids))
    yt, yk = forward_both(tb, km, [ids])
    assert np.abs(expect).max() > 0.5
    assert max_rel(yt, expect) < 1e-14 and max_rel(yk, expect) < 1e-14


@pytest.mark.parametrize("text", [POSEMB, SINUS], ids=["learned", "sinusoidal"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_backends_agree_on_every_length(text, dtype):
    model, tb, km, _ = build_both(text, dtype=dtype, weights=_weights(text, 2))
    for length in (1, 5, 12):
        yt, yk = forward_both(tb, km, [_ids(2, length, seed=length)])
        assert yt.shape == (2, length, 3)
        assert max_rel(yt, yk) < (1e-12 if dtype == "float64" else 1e-5)  # float32: a few roundings


@pytest.mark.parametrize("dim, base", [(8, 10000.0), (7, 100.0)])
def test_sinusoidal_formula(dim, base):
    p = np.array([[0, 1, 5, 30]])
    ref = np.zeros((1, 4, dim))
    for j in range(dim):
        w = base ** (-(2 * (j // 2)) / dim)
        ref[..., j] = np.sin(p * w) if j % 2 == 0 else np.cos(p * w)
    t = L.SinusoidalEmbedding(dim, base).double()
    import torch

    assert max_rel(t(torch.tensor(p)).numpy(), ref) < 1e-15
    k = KL.SinusoidalEmbedding(dim, base, dtype="float64")
    assert max_rel(np.asarray(k(p)), ref) < 1e-15


def test_negative_controls(monkeypatch):
    from specc.backends.torch.ops import positions as torch_positions

    for text in (POSEMB, SINUS):
        w = _weights(text, 3)
        model, _, km, _ = build_both(text, weights=w)
        ids = _ids(2, 6)
        if text is POSEMB:
            monkeypatch.setitem(__import__("specc.backends.torch.plan", fromlist=["FUNCTIONS"]).FUNCTIONS, "positions", lambda x: L.positions(x) + 1)
        else:
            monkeypatch.setattr(torch_positions.L.SinusoidalEmbedding, "forward", _swapped)
        tb = specc.build(model, "torch", dtype="float64", weights=w)
        assert max_rel(*forward_both(tb, km, [ids])) > 1e-2
        monkeypatch.undo()


def _swapped(self, p):
    import torch

    omega = torch.tensor(self.omega, dtype=self.like.dtype)
    angle = p.to(omega.dtype).unsqueeze(-1) * omega
    odd = torch.arange(self.dim) % 2 == 1
    return torch.where(odd, torch.sin(angle), torch.cos(angle))
