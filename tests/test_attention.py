"""multi_head_attention: specc's torch module == specc's Keras model (forward, gradients,
training steps) over the layer's options; both == the frameworks' own layers
(keras.layers.MultiHeadAttention with the canonical weights, torch.nn.MultiheadAttention
with the weights converted as SEMANTICS.md says) and a numpy reference; negative
controls; parameter counts; the transformer example spec end to end."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import torch
from gradients import grads_both
from support import build_both, forward_both, max_rel, random_inputs, random_targets, train_both

from specc.backends.torch.ops.attention import MultiHeadAttentionOp
from specc.compiler import as_model
from specc.weights import init_weights

TRAIN = "train {\n    loss mse\n    optimizer sgd(lr=0.05, momentum=0.9)\n  }"


def spec(inputs: dict[str, str], call: str, train: bool = True) -> str:
    decl = "\n".join(f"  input {n}: float32[{s}]" for n, s in inputs.items())
    args = ", ".join(inputs)
    src = args if len(inputs) == 1 else f"({args})"
    return f"model m {{\n{decl}\n  y = {src} -> multi_head_attention({call})\n  {TRAIN if train else ''}\n}}\n"


def random_weights(spec_text: str, seed: int, scale: float = 0.4) -> dict[str, np.ndarray]:
    """Non-trivial canonical weights: every weight (biases too) N(0, scale²)."""
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(v.shape) * scale for k, v in init_weights(as_model(spec_text), 0).items()}


CASES = {
    "self": spec({"x": "6, 8"}, "heads=2, key_dim=3"),
    "self_causal": spec({"x": "6, 8"}, "heads=4, key_dim=2, causal=true"),
    "query_value": spec({"q": "5, 8", "v": "7, 6"}, "heads=2, key_dim=4, value_dim=3, output_dim=5"),
    "query_value_key": spec({"q": "4, 8", "v": "6, 5", "k": "6, 7"}, "heads=3, key_dim=2, value_dim=4"),
    "cross_causal": spec({"q": "7, 6", "v": "4, 6"}, "heads=2, key_dim=3, causal=true, output_dim=3"),
    "no_bias": spec({"q": "4, 6", "v": "6, 4"}, "heads=2, key_dim=3, use_bias=false, causal=true"),
    "regularized": spec({"x": "5, 6"}, "heads=2, key_dim=3, value_dim=2, reg=l2(0.05), bias_reg=l1(0.02)"),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request):
    text = CASES[request.param]
    w = random_weights(text, seed=len(request.param))
    model, tb, km, _ = build_both(text, weights=w)
    rng = np.random.default_rng(7)
    xs = random_inputs(model, 3, rng)
    ys = random_targets(model, 3, rng)
    return model, tb, km, w, xs, ys


def test_forward(case):
    model, tb, km, w, xs, _ = case
    yt, yk = forward_both(tb, km, xs)
    assert yt.shape == yk.shape == (3, *model.type_of(model.outputs[0]).shape)
    assert np.abs(yk).max() > 0.1
    assert max_rel(yt, yk) < 1e-12


def test_gradients(case):
    _, tb, km, w, xs, ys = case
    lt, lk, gt, gk = grads_both(tb, km, xs, ys)
    assert abs(lt - lk) <= (1e-7 if km.losses else 1e-12) * abs(lk)  # Keras' penalty values are float32
    assert set(gt) == set(gk) == set(w)
    for name in w:
        if name.endswith("key_bias"):  # softmax ignores it: the gradient is the penalty's only
            assert np.abs(gt[name] - gk[name]).max() < 1e-12
            continue
        assert np.abs(gk[name]).max() > 1e-6, name
        assert max_rel(gt[name], gk[name]) < 1e-10, name


def test_training_steps(case):
    _, tb, km, w, xs, ys = case
    tb.set_weights(w)
    km.specc.set_weights(km, w)
    km.run_eagerly = True  # same steps, no tf.function tracing (the example spec below traces)
    diffs = train_both(tb, km, xs, ys, steps=3)
    assert max(diffs) < 1e-10
    moved = max(np.abs(tb.get_weights()[n] - w[n]).max() for n in w)
    assert moved > 1e-3  # the steps changed the weights


def test_parameter_counts(case):
    model, tb, km, w, _, _ = case
    n_torch = sum(p.numel() for p in tb.model.parameters())
    assert n_torch == model.count_params()[0] == km.count_params() == sum(v.size for v in w.values())


# --------------------------------------------------------------------------- references


def numpy_mha(q, v, k, w, heads, causal, align="top_left"):
    """The IR's formula, directly (einsum layouts, scale 1/√key_dim, additive −∞ mask)."""

    def get(name, shape):
        return w.get(name, np.zeros(shape))

    kd = w["query_kernel"].shape[-1]
    Q = np.einsum("bte,ehd->bthd", q, w["query_kernel"]) + get("query_bias", w["query_kernel"].shape[1:])
    K = np.einsum("bte,ehd->bthd", k, w["key_kernel"]) + get("key_bias", w["key_kernel"].shape[1:])
    V = np.einsum("bte,ehd->bthd", v, w["value_kernel"]) + get("value_bias", w["value_kernel"].shape[1:])
    scores = np.einsum("bqhd,bkhd->bhqk", Q, K) / math.sqrt(kd)
    if causal:
        lq, lk = scores.shape[-2:]
        shift = 0 if align == "top_left" else lk - lq
        allowed = np.arange(lk)[None, :] <= np.arange(lq)[:, None] + shift
        scores = np.where(allowed, scores, -np.inf)
    p = np.exp(scores - scores.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    o = np.einsum("bhqk,bkhd->bqhd", p, V)
    return np.einsum("bqhd,hdo->bqo", o, w["output_kernel"]) + get("output_bias", w["output_kernel"].shape[-1:])


@pytest.mark.parametrize("name", ["self_causal", "query_value_key", "cross_causal", "no_bias"])
def test_numpy_reference_and_causal_alignment(name):
    text = CASES[name]
    w = random_weights(text, seed=3)
    model, tb, km, _ = build_both(text, weights=w)
    xs = random_inputs(model, 2, np.random.default_rng(3))
    q = xs[0]
    v = xs[1] if len(xs) > 1 else q
    k = xs[2] if len(xs) > 2 else v
    op = model.nodes[0].op
    local = {key.split(".", 1)[1]: val for key, val in w.items()}
    ref = numpy_mha(q, v, k, local, op.heads, op.causal)
    yt, yk = forward_both(tb, km, xs)
    assert max_rel(yt, ref) < 1e-12
    assert max_rel(yk, ref) < 1e-12
    if op.causal and q.shape[1] < k.shape[1]:  # bottom-right alignment is another function
        wrong = numpy_mha(q, v, k, local, op.heads, op.causal, align="bottom_right")
        assert max_rel(wrong, yt) > 1e-2


@pytest.mark.parametrize("key_dim", [4, 3])
def test_against_keras_layer(key_dim):
    """keras.layers.MultiHeadAttention, canonical weights assigned by path, vs specc torch.
    With key_dim 4 the scale 1/2 is exact in float32 and Keras' own layer agrees to
    rounding; with key_dim 3 Keras rounds 1/√3 to float32 (≈1e-8 off in float64), which
    specc's Keras subclass avoids."""
    text = spec({"q": "4, 8", "v": "6, 5", "k": "6, 7"}, f"heads=3, key_dim={key_dim}, value_dim=4, output_dim=5, causal=true")
    w = random_weights(text, seed=11)
    model, tb, km, _ = build_both(text, weights=w)
    xs = random_inputs(model, 2, np.random.default_rng(11))
    ref = keras.layers.MultiHeadAttention(3, key_dim, value_dim=4, output_shape=5, dtype="float64", name="ref")
    ref(xs[0], xs[1], xs[2])
    paths = {v.path: v for v in ref.weights}
    assert len(paths) == len(w)
    for key, val in w.items():
        layer, kind = key.split(".", 1)[1].rsplit("_", 1)
        paths[f"ref/{'attention_output' if layer == 'output' else layer}/{kind}"].assign(val)
    yk = np.asarray(ref(xs[0], xs[1], xs[2], use_causal_mask=True))
    yt, ys = forward_both(tb, km, xs)
    assert max_rel(ys, yt) < 1e-12
    if key_dim == 4:
        assert max_rel(yt, yk) < 1e-12
    else:
        assert 1e-12 < max_rel(yt, yk) < 1e-7
    assert max_rel(yt, np.asarray(ref(xs[0], xs[1], xs[2]))) > 1e-2  # the mask matters


@pytest.mark.parametrize("causal", [False, True])
def test_against_torch_multihead_attention(causal):
    """torch.nn.MultiheadAttention (heads·key_dim == E) with SEMANTICS.md's mapping:
    in_proj_weight = [Wq; Wk; Wv], W = kernel.reshape(E, E).T; out_proj.weight =
    output_kernel.reshape(E, E).T; boolean attn_mask True = blocked (Keras' opposite)."""
    e, h = 8, 2
    text = spec({"q": f"5, {e}", "v": f"6, {e}"}, f"heads={h}, key_dim={e // h}, causal={'true' if causal else 'false'}")
    w = random_weights(text, seed=5)
    model, _, km, _ = build_both(text, weights=w)
    xs = random_inputs(model, 2, np.random.default_rng(5))
    loc = {key.split(".", 1)[1]: val for key, val in w.items()}
    ref = torch.nn.MultiheadAttention(e, h, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.from_numpy(np.concatenate([loc[f"{n}_kernel"].reshape(e, e).T for n in ("query", "key", "value")])))
        ref.in_proj_bias.copy_(torch.from_numpy(np.concatenate([loc[f"{n}_bias"].reshape(e) for n in ("query", "key", "value")])))
        ref.out_proj.weight.copy_(torch.from_numpy(loc["output_kernel"].reshape(e, e).T))
        ref.out_proj.bias.copy_(torch.from_numpy(loc["output_bias"]))
        q, v = (torch.from_numpy(x) for x in xs)
        mask = torch.ones(5, 6, dtype=torch.bool).triu(1) if causal else None
        yt = ref(q, v, v, attn_mask=mask, need_weights=False)[0].numpy()
    yk = np.asarray(km(xs, training=False))
    assert max_rel(yt, yk) < 1e-12
    if causal:  # Keras' polarity (True = attend) given to torch blocks the wrong keys
        with torch.no_grad():
            flipped = ref(q, v, v, attn_mask=torch.ones(5, 6, dtype=torch.bool).tril(0), need_weights=False)[0].numpy()
        assert max_rel(flipped, yk) > 1e-2


# --------------------------------------------------------------------------- negative controls


def test_wrong_head_split_is_detected(monkeypatch):
    """Splitting the projection features (d, heads) instead of (heads, d) gives another model."""
    text = CASES["query_value"]
    w = random_weights(text, seed=2)
    original = MultiHeadAttentionOp.to_torch

    def wrong(self, info, local):
        out = original(self, info, local)
        for n in ("query", "key", "value"):
            kern = local[f"{n}_kernel"]
            out[f"{n}.weight"] = kern.transpose(0, 2, 1).reshape(kern.shape[0], -1).T
        return out

    monkeypatch.setattr(MultiHeadAttentionOp, "to_torch", wrong)
    model, tb, km, _ = build_both(text, weights=w)
    yt, yk = forward_both(tb, km, random_inputs(model, 2, np.random.default_rng(2)))
    assert max_rel(yt, yk) > 1e-2


def test_wrong_scale_is_detected(monkeypatch):
    """Scaling by 1/√(heads·key_dim) (torch's embed_dim habit) instead of 1/√key_dim."""
    import specc.backends.torch.lib.attention as A

    text = CASES["self"]
    w = random_weights(text, seed=4)
    model, tb, km, _ = build_both(text, weights=w)
    xs = random_inputs(model, 2, np.random.default_rng(4))
    yt, yk = forward_both(tb, km, xs)
    assert max_rel(yt, yk) < 1e-12
    sdpa = A.F.scaled_dot_product_attention
    monkeypatch.setattr(A.F, "scaled_dot_product_attention", lambda *a, scale, **k: sdpa(*a, scale=scale / math.sqrt(2), **k))
    assert max_rel(tb.predict(xs), yk) > 1e-3


# --------------------------------------------------------------------------- dropout, float32


def test_attention_dropout_only_in_training():
    text = spec({"x": "6, 8"}, "heads=2, key_dim=3, dropout=0.4")
    w = random_weights(text, seed=9)
    model, tb, km, _ = build_both(text, weights=w, no_dropout=False)
    xs = random_inputs(model, 3, np.random.default_rng(9))
    yt, yk = forward_both(tb, km, xs)
    assert max_rel(yt, yk) < 1e-12  # inference: no dropout in either
    x = torch.from_numpy(xs[0])
    tb.model.train()
    torch.manual_seed(0)
    with torch.no_grad():
        a, b = tb.model(x), tb.model(x)
    assert max_rel(a.numpy(), yt) > 1e-2 and max_rel(a.numpy(), b.numpy()) > 1e-2
    assert max_rel(np.asarray(km(xs[0], training=True)), yk) > 1e-2
    tb.model.eval()


def test_float32():
    text = CASES["query_value_key"]
    w = random_weights(text, seed=6)
    model, tb, km, _ = build_both(text, dtype="float32", weights=w)
    xs = random_inputs(model, 3, np.random.default_rng(6), dtype="float32")
    yt, yk = forward_both(tb, km, xs)
    assert yt.dtype == yk.dtype == np.float32
    assert max_rel(yt, yk) < 1e-5


def test_lengths_known_at_run_time():
    """Sequence lengths unknown when the model is built (symbolic T, ?): one model, several
    (query, key) lengths, causal, both shorter and longer queries."""
    text = spec({"q": "T, 8", "v": "?, 6"}, "heads=2, key_dim=3, causal=true")
    model, tb, km, _ = build_both(text, weights=random_weights(text, seed=1))
    for lq, lk in [(3, 5), (6, 2)]:
        rng = np.random.default_rng(lq)
        xs = [rng.standard_normal((2, lq, 8)), rng.standard_normal((2, lk, 6))]
        yt, yk = forward_both(tb, km, xs)
        assert yt.shape == (2, lq, 8)
        assert max_rel(yt, yk) < 1e-12


# --------------------------------------------------------------------------- the example spec


def test_transformer_classifier_spec():
    """specs/transformer_classifier.spec, float64, batch 4: forward and 3 AdamW steps
    (clip_norm, warm-up cosine schedule, sparse embedding gradients)."""
    path = "specs/transformer_classifier.spec"
    rng = np.random.default_rng(0)
    w = {k: rng.standard_normal(v.shape) * 0.1 for k, v in init_weights(as_model(path), 0).items()}
    for k in w:
        if k.endswith("gamma"):
            w[k] += 1.0
    model, tb, km, _ = build_both(path, weights=w)
    xs = random_inputs(model, 4, rng)
    ys = random_targets(model, 4, rng)
    yt, yk = forward_both(tb, km, xs)
    assert yt.shape == yk.shape == (4, 4)
    assert max_rel(yt, yk) < 1e-12
    diffs = train_both(tb, km, xs, ys, steps=3)
    assert max(diffs) < 1e-12
    moved = max(np.abs(tb.get_weights()[n] - w[n]).max() for n in w)
    assert moved > 1e-5
    assert sum(p.numel() for p in tb.model.parameters()) == model.count_params()[0] == km.count_params()


def test_keras_save_and_load(tmp_path):
    """specc's MultiHeadAttention subclass saves and loads (registered serializable) and
    keeps its exact scale."""
    text = CASES["cross_causal"]
    w = random_weights(text, seed=13)
    model, tb, km, _ = build_both(text, weights=w)
    xs = random_inputs(model, 2, np.random.default_rng(13))
    path = tmp_path / "m.keras"
    km.save(path)
    loaded = keras.models.load_model(path, compile=False)
    assert type(loaded.layers[-1]).__name__ == "MultiHeadAttention" and type(loaded.layers[-1]) is not keras.layers.MultiHeadAttention
    assert max_rel(np.asarray(loaded(xs, training=False)), tb.predict(xs)) < 1e-12
