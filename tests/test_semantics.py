"""One test per place where PyTorch and Keras disagree (../shared/SEMANTICS.md): specc's
lowering in each backend against the frameworks' own reference layers, losses and
optimizers, with random weights and inputs (float64), and — where a framework default
differs — a check that the naive translation really is different."""

from __future__ import annotations

import itertools
import math

import keras
import numpy as np
import pytest
import torch

import specc
from specc.backends.torch.lib.training import SpeccLoss, SpeccOptimizer
from specc.ir.initializers import INITIALIZERS, compute_fans
from specc.weights import init_weights

F64 = "float64"


def both(text: str, seed: int = 0, weights=None):
    model = specc.loads(text)
    w = weights or {k: v + 0.1 * np.random.default_rng(seed).standard_normal(v.shape) for k, v in init_weights(model, seed).items()}
    tb = specc.build(model, "torch", dtype=F64, weights=w)
    km = specc.build(model, "keras", dtype=F64, weights=w)
    return model, tb, km, w


def close(a, b, tol=1e-12):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape
    err = np.max(np.abs(a - b)) / (np.max(np.abs(b)) + 1e-300)
    assert err < tol, f"relative error {err:.3g}"


def keras_ref(layer, x, weights=None):
    y = layer(x)
    if weights is not None:
        layer.set_weights(weights)
        y = layer(x)
    return np.asarray(y)


# --------------------------------------------------------------------------- layout


def test_channels_last_and_flatten_order_match_keras_reference(rng):
    """specc's torch model (channels-first inside, flatten folded into the dense weights)
    equals a hand-built channels-last Keras model given the same canonical weights."""
    model, tb, km, w = both("model m { input x: float32[5, 4, 3]\n conv2d(6, kernel=3, padding=same)\n flatten\n dense(7) }")
    x = rng.standard_normal((2, 5, 4, 3))
    ref = keras.Sequential([keras.Input((5, 4, 3), dtype=F64), keras.layers.Conv2D(6, 3, padding="same", dtype=F64), keras.layers.Flatten(dtype=F64), keras.layers.Dense(7, dtype=F64)])
    ref.set_weights([w["conv2d.kernel"], w["conv2d.bias"], w["dense.kernel"], w["dense.bias"]])
    close(tb.predict(x), ref(x))
    close(km(x), ref(x))
    # the plan really runs channels-first with no permute before the dense layer
    fns = [getattr(s, "fn", None) for s in tb.plan.steps]
    assert fns.count("to_channels_first") == 1 and "to_channels_last" not in fns


# --------------------------------------------------------------------------- padding


@pytest.mark.parametrize("k,s,d,size", [(2, 1, 1, 7), (3, 2, 1, 7), (4, 2, 1, 8), (4, 3, 1, 10), (3, 1, 2, 9), (5, 2, 1, 6), (1, 2, 1, 5)])
def test_same_padding_conv_matches_keras(k, s, d, size, rng):
    """Keras 'same' pads the extra row/column at the end; torch's own padding cannot."""
    text = f"model m {{ input x: float32[{size}, {size + 1}, 2]\n conv2d(3, kernel={k}, stride={s}, dilation={d}, padding=same) }}"
    model, tb, km, w = both(text)
    x = rng.standard_normal((2, size, size + 1, 2))
    ref = keras_ref(keras.layers.Conv2D(3, k, strides=s, dilation_rate=d, padding="same", dtype=F64), x, [w["conv2d.kernel"], w["conv2d.bias"]])
    close(tb.predict(x), ref)
    close(km(x), ref)


def test_same_padding_with_unknown_size_is_computed_at_run_time(rng):
    model, tb, km, w = both("model m { input x: float32[?, 5]\n conv1d(4, kernel=4, stride=2, padding=same) }")
    for length in (7, 8):
        x = rng.standard_normal((2, length, 5))
        ref = keras_ref(keras.layers.Conv1D(4, 4, strides=2, padding="same", dtype=F64), x, [w["conv1d.kernel"], w["conv1d.bias"]])
        close(tb.predict(x), ref)


def test_causal_conv1d_pads_in_front(rng):
    model, tb, km, w = both("model m { input x: float32[9, 3]\n conv1d(2, kernel=3, dilation=2, padding=causal) }")
    x = rng.standard_normal((2, 9, 3))
    ref = keras_ref(keras.layers.Conv1D(2, 3, dilation_rate=2, padding="causal", dtype=F64), x, [w["conv1d.kernel"], w["conv1d.bias"]])
    close(tb.predict(x), ref)


@pytest.mark.parametrize("kind,pool,stride,size", [("max", 2, 2, 7), ("max", 3, 2, 8), ("avg", 2, 2, 7), ("avg", 3, 2, 8), ("avg", 3, 1, 5), ("max", 2, 1, 6)])
def test_same_pooling_matches_keras(kind, pool, stride, size, rng):
    """'same' pooling: padded cells never win a max and are not counted in an average."""
    layer = "maxpool2d" if kind == "max" else "avgpool2d"
    model, tb, km, _ = both(f"model m {{ input x: float32[{size}, {size}, 2]\n {layer}({pool}, stride={stride}, padding=same) }}")
    x = rng.standard_normal((2, size, size, 2)) + 3.0  # positive: zero padding would show in a max
    cls = keras.layers.MaxPooling2D if kind == "max" else keras.layers.AveragePooling2D
    ref = keras_ref(cls(pool, strides=stride, padding="same", dtype=F64), x)
    close(tb.predict(x), ref)
    close(km(x), ref)


def test_explicit_pool_padding_matches_torch_reference(rng):
    """Explicit padding: −∞ for max, real-cell counts for average (torch count_include_pad=False)."""
    x = rng.standard_normal((2, 6, 6, 3))
    xt = torch.from_numpy(x).permute(0, 3, 1, 2)
    for layer, ref_mod in (("maxpool2d", torch.nn.MaxPool2d(3, 2, padding=1)), ("avgpool2d", torch.nn.AvgPool2d(3, 2, padding=1, count_include_pad=False))):
        model, tb, km, _ = both(f"model m {{ input x: float32[6, 6, 3]\n {layer}(3, stride=2, padding=1) }}")
        ref = ref_mod(xt).permute(0, 2, 3, 1).numpy()
        close(tb.predict(x), ref)
        close(km(x), ref)


# --------------------------------------------------------------------------- normalisation


def test_batch_norm_training_statistics_follow_keras(rng):
    """Keras' momentum convention and biased moving variance; torch's BatchNorm2d differs."""
    model, tb, km, w = both("model m { input x: float32[4, 4, 3]\n batch_norm(momentum=0.9, epsilon=1e-3)\n train { loss mse } }")
    ref = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3, dtype=F64)
    ref.build((None, 4, 4, 3))
    ref.set_weights([w[f"batch_norm.{k}"] for k in ("gamma", "beta", "moving_mean", "moving_variance")])
    tb.model.train()
    for _ in range(2):
        x = rng.standard_normal((5, 4, 4, 3)) * 2 + 1
        out_t = tb.model(*tb.to_inputs(x)).detach().numpy()
        out_r = np.asarray(ref(x, training=True))
        close(out_t, out_r)
    got = tb.get_weights()
    close(got["batch_norm.moving_variance"], ref.moving_variance.numpy())
    close(got["batch_norm.moving_mean"], ref.moving_mean.numpy())
    # torch's own layer (momentum 1 − 0.9, unbiased running variance) ends elsewhere
    bn = torch.nn.BatchNorm2d(3, momentum=0.1, eps=1e-3).double()
    bn.running_mean.copy_(torch.from_numpy(w["batch_norm.moving_mean"]))
    bn.running_var.copy_(torch.from_numpy(w["batch_norm.moving_variance"]))
    for _ in range(2):
        bn(torch.from_numpy(rng.standard_normal((5, 3, 4, 4))))
    assert np.abs(bn.running_var.numpy() - ref.moving_variance.numpy()).max() > 1e-3


def test_layer_norm_epsilon(rng):
    model, tb, km, w = both("model m { input x: float32[5, 8]\n layer_norm }")
    x = rng.standard_normal((3, 5, 8)) * 0.01  # small variance: epsilon matters
    ref = keras_ref(keras.layers.LayerNormalization(epsilon=1e-3, dtype=F64), x, [w["layer_norm.gamma"], w["layer_norm.beta"]])
    close(tb.predict(x), ref)
    close(km(x), ref)
    naive = torch.nn.functional.layer_norm(torch.from_numpy(x), (8,), torch.from_numpy(w["layer_norm.gamma"]), torch.from_numpy(w["layer_norm.beta"]))  # eps 1e-5
    assert np.abs(naive.numpy() - ref).max() > 1e-2


# --------------------------------------------------------------------------- activations


@pytest.mark.parametrize(
    "act,keras_fn",
    [
        ("gelu", lambda x: x * 0.5 * (1 + keras.ops.erf(x * math.sqrt(0.5)))),  # TF's own gelu rounds √2 to float32
        ("gelu(approximate=true)", lambda x: 0.5 * x * (1 + keras.ops.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))),
        ("leaky_relu", lambda x: keras.ops.where(x > 0, x, 0.01 * x)),
        ("leaky_relu(0.3)", lambda x: keras.ops.where(x > 0, x, 0.3 * x)),
        ("elu(0.5)", lambda x: keras.activations.elu(x, alpha=0.5)),
        ("selu", keras.activations.selu),
        ("hard_sigmoid", keras.activations.hard_sigmoid),
        ("silu", keras.activations.silu),
        ("softplus", keras.activations.softplus),
        ("relu6", keras.activations.relu6),
        ("softmax(axis=1)", lambda x: keras.activations.softmax(x, axis=1)),
        ("log_softmax", keras.activations.log_softmax),
    ],
)
def test_activations_match_keras(act, keras_fn, rng):
    model, tb, km, _ = both(f"model m {{ input x: float32[4, 5]\n {act} }}")
    x = rng.standard_normal((3, 4, 5)) * 3
    ref = np.asarray(keras_fn(keras.ops.convert_to_tensor(x)))
    close(tb.predict(x), ref)
    close(km(x), ref)


def test_keras_own_gelu_is_not_float64_exact():
    """Why specc computes gelu itself in Keras: TF's rounds √2 to float32."""
    x = keras.ops.convert_to_tensor(np.linspace(-3, 3, 101))
    exact = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in np.asarray(x)])
    assert np.abs(np.asarray(keras.activations.gelu(x, approximate=False)) - exact).max() > 1e-11
    model, tb, km, _ = both("model m { input x: float32[101]\n gelu }")
    close(km(np.asarray(x)[None]), exact[None], 1e-15)


def test_activation_defaults_are_not_the_frameworks():
    """The IR's leaky_relu slope (0.01) differs from Keras' layer (0.3) and string (0.2);
    gelu is exact although keras.ops.gelu defaults to the tanh form."""
    x = keras.ops.convert_to_tensor(np.array([-2.0, 1.5]))
    assert float(keras.layers.LeakyReLU()(x)[0]) == pytest.approx(-0.6)
    assert float(keras.activations.leaky_relu(x)[0]) == pytest.approx(-0.4)
    assert specc.loads("model m { input x: float32[2]\n leaky_relu }").nodes[0].op.fn.alpha == 0.01
    assert abs(float(keras.ops.gelu(x)[1]) - float(keras.activations.gelu(x)[1])) > 1e-5


# --------------------------------------------------------------------------- losses


def _keras_loss(kind, **kw):
    return {
        "mse": keras.losses.MeanSquaredError,
        "mae": keras.losses.MeanAbsoluteError,
        "huber": keras.losses.Huber,
        "binary_crossentropy": keras.losses.BinaryCrossentropy,
        "categorical_crossentropy": keras.losses.CategoricalCrossentropy,
        "sparse_categorical_crossentropy": keras.losses.SparseCategoricalCrossentropy,
        "kl_divergence": keras.losses.KLDivergence,
    }[kind](dtype=F64, **kw)


@pytest.mark.parametrize(
    "kind,kw",
    [
        ("mse", {}),
        ("mae", {}),
        ("huber", {"delta": 0.7}),
        ("binary_crossentropy", {}),
        ("binary_crossentropy", {"from_logits": True, "label_smoothing": 0.2}),
        ("categorical_crossentropy", {}),
        ("categorical_crossentropy", {"from_logits": True, "label_smoothing": 0.1}),
        ("sparse_categorical_crossentropy", {}),
        ("sparse_categorical_crossentropy", {"from_logits": True}),
        ("kl_divergence", {}),
    ],
)
def test_losses_match_keras_including_clipping(kind, kw, rng):
    """Reductions, from_logits, label smoothing and probability clipping (saturated
    probabilities of exactly 0 and 1 are included)."""
    n, c = 6, 4
    logits = rng.standard_normal((n, c)) * 3
    if kw.get("from_logits"):
        pred = logits
    elif kind == "binary_crossentropy":
        pred = 1 / (1 + np.exp(-logits))
        pred[0, 0], pred[1, 1] = 0.0, 1.0
    else:
        pred = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        pred[0] = [1.0, 0.0, 0.0, 0.0]
    if kind == "sparse_categorical_crossentropy":
        y = rng.integers(0, c, n)
        y[0] = 1  # the saturated row's true class has probability 0: clipping decides
    elif kind in ("binary_crossentropy",):
        y = rng.integers(0, 2, (n, c)).astype(float)
    elif kind == "categorical_crossentropy":
        y = np.eye(c)[rng.integers(0, c, n)]
        y[0] = [0, 1, 0, 0]
    elif kind == "kl_divergence":
        y = rng.random((n, c))
        y /= y.sum(1, keepdims=True)
    else:
        y = rng.standard_normal((n, c))
    ours = SpeccLoss(kind, kw.get("from_logits", False), kw.get("label_smoothing", 0.0), kw.get("delta", 1.0))(torch.from_numpy(pred), torch.from_numpy(y))
    ref = _keras_loss(kind, **kw)(y, pred)
    assert math.isfinite(float(ours))
    close(ours.item(), float(ref))


def test_crossentropy_after_softmax_uses_the_logits(rng):
    """A softmax output with from_logits=false: both backends use the logits (exactly), as
    Keras does; torch's naive log(softmax) would saturate."""
    model, tb, km, w = both("model m { input x: float32[3]\n dense(4, activation=softmax)\n train { loss categorical_crossentropy } }")
    x = rng.standard_normal((5, 3)) * 40  # extreme logits: probabilities round to 0 and 1
    y = np.eye(4)[rng.integers(0, 4, 5)]
    lt = float(tb.compute_loss(x, y).detach())
    lk = float(km.loss(y, km(x, training=False)))
    close(lt, lk)
    probs = tb.predict(x)
    naive = -(y * np.log(np.clip(probs, 1e-7, 1 - 1e-7))).sum(1).mean()
    assert abs(naive - lt) > 1.0  # clipping would have capped the loss


def test_regularisers_are_added_to_the_loss(rng):
    model, tb, km, w = both("model m { input x: float32[3]\n dense(4, reg=l1_l2(0.01, 0.02), bias_reg=l2(0.5))\n train { loss mse } }")
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 4))
    penalty = 0.01 * np.abs(w["dense.kernel"]).sum() + 0.02 * (w["dense.kernel"] ** 2).sum() + 0.5 * (w["dense.bias"] ** 2).sum()
    close(float(tb.penalty().detach()), penalty)
    close(sum(float(v) for v in km.losses), penalty, 1e-6)  # keras returns penalties in float32
    tb.model.eval()
    close(float(tb.compute_loss(x, y).detach()), float(km.loss(y, km(x))) + penalty)


# --------------------------------------------------------------------------- initialisers


@pytest.mark.parametrize("kind", ["glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform", "lecun_normal", "truncated_normal", "random_uniform", "random_normal"])
def test_keras_named_initialisers_match_keras_distribution(kind):
    """Same bounds and standard deviation as Keras' initialisers (truncated normals cut at 2σ)."""
    shape = (3, 3, 64, 128)
    ours = INITIALIZERS.lookup(kind)().sample(shape, np.random.default_rng(0))
    theirs = np.asarray(keras.initializers.get(kind)(shape, dtype=F64))
    _same_distribution(ours, theirs)


def _same_distribution(ours, theirs):
    """Same spread and same tails (99.9th percentile of |w|; the maximum for bounded ones)."""
    assert abs(ours.std() - theirs.std()) / theirs.std() < 0.02
    for q in (99.9, 100.0):
        a, b = np.percentile(np.abs(ours), q), np.percentile(np.abs(theirs), q)
        assert abs(a - b) / b < (0.03 if q < 100 else 0.25)


@pytest.mark.parametrize(
    "kind,params,torch_init",
    [
        ("xavier_uniform", {"gain": 2.0}, lambda t: torch.nn.init.xavier_uniform_(t, gain=2.0)),
        ("xavier_normal", {}, torch.nn.init.xavier_normal_),
        ("kaiming_uniform", {"a": math.sqrt(5)}, lambda t: torch.nn.init.kaiming_uniform_(t, a=math.sqrt(5))),
        ("kaiming_normal", {"mode": "fan_out", "nonlinearity": "relu"}, lambda t: torch.nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu")),
    ],
)
def test_torch_named_initialisers_match_torch(kind, params, torch_init):
    """Canonical (in, out) layout versus torch's (out, in): same fans, same distribution."""
    ours = INITIALIZERS.lookup(kind)(**params).sample((256, 512), np.random.default_rng(0))
    theirs = torch_init(torch.empty(512, 256, dtype=torch.float64)).numpy()
    _same_distribution(ours, theirs)


def test_keras_and_torch_normals_really_differ():
    """he_normal (Keras: truncated) and kaiming_normal (torch: not truncated) are distinct."""
    shape = (256, 512)
    he = INITIALIZERS.lookup("he_normal")().sample(shape, np.random.default_rng(0))
    kn = INITIALIZERS.lookup("kaiming_normal")().sample(shape, np.random.default_rng(0))
    bound = 2 * math.sqrt(2 / 256) / 0.87962566103423978
    assert np.abs(he).max() <= bound < np.abs(kn).max()


def test_fans_follow_the_canonical_layout():
    assert compute_fans((3, 3, 16, 32)) == (144.0, 288.0)
    assert compute_fans((20, 30)) == (20.0, 30.0)


def test_initial_weights_are_deterministic_per_name():
    a = specc.loads("model m { input x: float32[3]\n dense(4)\n dense(2) }")
    b = specc.loads("model m { input x: float32[3]\n dense(4)\n dense(2)\n dense(5) }")
    wa, wb = init_weights(a, 3), init_weights(b, 3)
    np.testing.assert_array_equal(wa["dense_1.kernel"], wb["dense_1.kernel"])
    assert not np.array_equal(init_weights(a, 4)["dense.kernel"], wa["dense.kernel"])


# --------------------------------------------------------------------------- optimizers

OPTIMIZER_CASES = [
    ("sgd", {"lr": 0.1}, lambda p: torch.optim.SGD(p, lr=0.1)),
    ("sgd", {"lr": 0.1, "momentum": 0.9, "dampening": 0.1}, lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1)),
    ("sgd", {"lr": 0.1, "momentum": 0.9, "nesterov": True}, lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True)),
    ("adam", {"lr": 0.01}, lambda p: torch.optim.Adam(p, lr=0.01)),
    ("adam", {"lr": 0.01, "amsgrad": True, "beta1": 0.8}, lambda p: torch.optim.Adam(p, lr=0.01, amsgrad=True, betas=(0.8, 0.999))),
    ("adamw", {"lr": 0.01, "weight_decay": 0.1}, lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1)),
    ("rmsprop", {"lr": 0.01, "momentum": 0.5, "centered": True}, lambda p: torch.optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True)),
    ("rmsprop", {"lr": 0.01}, lambda p: torch.optim.RMSprop(p, lr=0.01)),
    ("adagrad", {"lr": 0.1, "initial_accumulator": 0.1, "lr_decay": 0.01}, lambda p: torch.optim.Adagrad(p, lr=0.1, initial_accumulator_value=0.1, lr_decay=0.01)),
    ("adadelta", {"lr": 1.0}, lambda p: torch.optim.Adadelta(p, lr=1.0)),
]


def _run_keras_optimizer(kind, kw, w0, grads):
    from specc.backends.common import optimizer_args
    from specc.backends.keras.bundle import specc_optimizer as KerasOpt
    from specc.ir.graph import TrainConfig
    from specc.ir.losses import MeanSquaredError
    from specc.ir.optimizers import OPTIMIZERS

    cfg = TrainConfig(loss=MeanSquaredError(), optimizer=OPTIMIZERS.lookup(kind)(**kw))
    opt = KerasOpt(**optimizer_args(cfg))
    v = keras.Variable(w0.copy(), dtype=F64)
    for g in grads:
        opt.apply([keras.ops.convert_to_tensor(g)], [v])
    return v.numpy()


@pytest.mark.parametrize("kind,kw,ref", OPTIMIZER_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(OPTIMIZER_CASES)])
def test_keras_optimizer_follows_torch_formulas(kind, kw, ref, rng):
    """specc's Keras optimizer = torch.optim's update, step for step (float64)."""
    w0 = rng.standard_normal(10)
    grads = [rng.standard_normal(10) * s for s in (1.0, 0.1, 2.0, 0.01)]
    p = torch.nn.Parameter(torch.from_numpy(w0.copy()))
    opt = ref([p])
    for g in grads:
        p.grad = torch.from_numpy(g.copy())
        opt.step()
    close(_run_keras_optimizer(kind, kw, w0, grads), p.detach().numpy(), 1e-13)


def test_keras_builtin_adam_is_different():
    """Why specc ships its own Keras optimizers: Keras' Adam places ε elsewhere."""
    w0, g = np.array([1.0, 1.0]), np.array([1e-6, 1e-3])
    p = torch.nn.Parameter(torch.from_numpy(w0.copy()))
    ta = torch.optim.Adam([p], lr=0.1)
    v = keras.Variable(w0.copy(), dtype=F64)
    ka = keras.optimizers.Adam(learning_rate=0.1, epsilon=1e-8)
    for _ in range(3):
        p.grad = torch.from_numpy(g.copy())
        ta.step()
        ka.apply([keras.ops.convert_to_tensor(g)], [v])
    assert np.abs(v.numpy() - p.detach().numpy()).max() > 1e-4
    close(_run_keras_optimizer("adam", {"lr": 0.1}, w0, [g] * 3), p.detach().numpy(), 1e-13)


def test_decoupled_decay_clipping_and_schedule_in_both(rng):
    """weight decay (decoupled), clip_value, clip_norm and a schedule, applied in the IR's
    order, agree between the torch wrapper and the Keras optimizer."""
    w0 = rng.standard_normal(6)
    grads = [rng.standard_normal(6) * s for s in (3.0, 0.2, 1.0)]
    p = torch.nn.Parameter(torch.from_numpy(w0.copy()))
    opt = SpeccOptimizer([p], "sgd", lr=0.05, schedule={"kind": "step", "step_size": 1, "gamma": 0.5}, clip_norm=0.8, clip_value=0.5, weight_decay=0.1, hparams={"momentum": 0.9})
    for g in grads:
        p.grad = torch.from_numpy(g.copy())
        opt.step()
    # the same by hand: clip value, clip global norm, decay, momentum update, lr halving
    w, buf = w0.copy(), None
    for t, g in enumerate(grads):
        lr = 0.05 * 0.5**t
        g = np.clip(g, -0.5, 0.5)
        g = g * min(1.0, 0.8 / (np.linalg.norm(g) + 1e-6))  # clip_grad_norm_'s rule
        w = w * (1 - lr * 0.1)
        buf = g if buf is None else 0.9 * buf + g
        w = w - lr * buf
    close(p.detach().numpy(), w)
    from specc.backends.keras.bundle import specc_optimizer as KerasOpt

    kopt = KerasOpt(kind="sgd", lr=0.05, schedule={"kind": "step", "step_size": 1, "gamma": 0.5}, clip_norm=0.8, clip_value=0.5, weight_decay=0.1, hparams={"momentum": 0.9})
    v = keras.Variable(w0.copy(), dtype=F64)
    for g in grads:
        kopt.apply([keras.ops.convert_to_tensor(g)], [v])
    close(v.numpy(), w)


@pytest.mark.parametrize("sched", ["step(3, 0.5)", "exponential(4, 0.3)", "exponential(4, 0.3, staircase=true)", "cosine(10, alpha=0.1, warmup_steps=3)"])
def test_schedules_agree_in_both_backends(sched):
    from specc.backends.common import schedule_args
    from specc.backends.keras.lib.optimizers import schedule_factor as keras_factor
    from specc.backends.torch.lib.training import schedule_factor as torch_factor

    model = specc.loads(f"model m {{ input x: float32[2]\n dense(1)\n train {{ loss mse; schedule {sched} }} }}")
    s = model.train.schedule
    args = schedule_args(s)
    for t in range(15):
        expected = s.factor(t)
        assert torch_factor(args, t) == pytest.approx(expected, rel=1e-15)
        assert float(keras_factor(args, keras.ops.convert_to_tensor(float(t), dtype=F64))) == pytest.approx(expected, rel=1e-12)


def test_every_vocabulary_item_lowers_in_both_backends():
    """Coverage: each activation, initialiser, loss, optimizer and schedule builds in both."""
    from specc.ir.activations import ACTIVATIONS
    from specc.ir.losses import LOSSES
    from specc.ir.optimizers import OPTIMIZERS
    from specc.ir.schedules import SCHEDULES

    for act in ACTIVATIONS.classes:
        both(f"model m {{ input x: float32[3]\n dense(2, activation={act}) }}")
    for init in INITIALIZERS.classes:
        both(f"model m {{ input x: float32[3]\n dense(2, init={init}) }}")
    for loss, opt, sched in itertools.zip_longest(LOSSES.classes, OPTIMIZERS.classes, SCHEDULES.classes, fillvalue=None):
        loss = loss or "mse"
        opt = opt or "sgd"
        sched_line = f"; schedule {sched}({'' if sched == 'constant' else '10, 0.5' if sched in ('step', 'exponential') else '10'})" if sched else ""
        act = "softmax" if "categorical" in loss or loss == "kl_divergence" else "sigmoid" if loss == "binary_crossentropy" else "linear"
        both(f"model m {{ input x: float32[3]\n dense(2, activation={act})\n train {{ loss {loss}; optimizer {opt}{sched_line} }} }}")
