"""What both backends share, checked against the frameworks' own definitions.

A cross-backend comparison cannot see a bug in code both backends use: specc's NumPy
initialisers (both load the same drawn weights) and the IR's defaults (both read the same
number).  Here each initialiser's distribution is compared with the framework function of
the same name — moments, and the truncation point — and each default the IR documents as
"as in PyTorch" or "as in Keras" is compared with that framework's signature.  Verify gives
both backends specc's seeded dropout masks, scaled by 1/(1 − rate) — the frameworks' own
dropout kernels are replaced there, so their scaling and drop rate are checked here."""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np

__all__ = ["Check", "initializer_checks", "default_checks", "dropout_checks"]


@dataclass
class Check:
    what: str
    ok: bool
    detail: str


# --------------------------------------------------------------------------- initialisers

SHAPE = (3, 3, 48, 64)  # a conv kernel: fan_in 432, fan_out 576; 27,648 draws


def _torch_sample(fn, **kw) -> np.ndarray:
    import torch

    t = torch.empty(SHAPE[-1], SHAPE[-2], *SHAPE[:-2], dtype=torch.float64)  # torch layout (out, in, *k)
    g = torch.Generator().manual_seed(1)
    fn(t, generator=g, **kw)
    return t.numpy()


def _keras_sample(cls, **kw) -> np.ndarray:
    return np.asarray(cls(seed=1, **kw)(SHAPE, dtype="float64"), dtype=np.float64)


def _framework_pairs():
    """(IR initialiser text, framework label, sampler) for every random initialiser."""
    import keras
    import torch.nn.init as I

    K = keras.initializers
    return [
        ("glorot_normal", "keras GlorotNormal", lambda: _keras_sample(K.GlorotNormal)),
        ("glorot_uniform", "keras GlorotUniform", lambda: _keras_sample(K.GlorotUniform)),
        ("he_normal", "keras HeNormal", lambda: _keras_sample(K.HeNormal)),
        ("he_uniform", "keras HeUniform", lambda: _keras_sample(K.HeUniform)),
        ("lecun_normal", "keras LecunNormal", lambda: _keras_sample(K.LecunNormal)),
        ("lecun_uniform", "keras LecunUniform", lambda: _keras_sample(K.LecunUniform)),
        ("random_normal(mean=0.3, stddev=0.2)", "keras RandomNormal", lambda: _keras_sample(K.RandomNormal, mean=0.3, stddev=0.2)),
        ("random_uniform(minval=-0.2, maxval=0.6)", "keras RandomUniform", lambda: _keras_sample(K.RandomUniform, minval=-0.2, maxval=0.6)),
        ("truncated_normal(mean=0.1, stddev=0.3)", "keras TruncatedNormal", lambda: _keras_sample(K.TruncatedNormal, mean=0.1, stddev=0.3)),
        *[
            (f"variance_scaling(scale=2.0, mode={m}, distribution={d})", f"keras VarianceScaling({m}, {d})", lambda m=m, d=d: _keras_sample(K.VarianceScaling, scale=2.0, mode=m, distribution=d))
            for m in ("fan_in", "fan_out", "fan_avg")
            for d in ("truncated_normal", "untruncated_normal", "uniform")
        ],
        ("xavier_normal(gain=1.5)", "torch xavier_normal_", lambda: _torch_sample(I.xavier_normal_, gain=1.5)),
        ("xavier_uniform(gain=1.5)", "torch xavier_uniform_", lambda: _torch_sample(I.xavier_uniform_, gain=1.5)),
        *[
            (f"kaiming_normal(a=0.2, mode={m}, nonlinearity={n})", f"torch kaiming_normal_({m}, {n})", lambda m=m, n=n: _torch_sample(I.kaiming_normal_, a=0.2, mode=m, nonlinearity=n))
            for m in ("fan_in", "fan_out")
            for n in ("leaky_relu", "relu", "tanh", "selu", "linear", "sigmoid")
        ],
        *[
            (f"kaiming_uniform(a=0.2, mode={m}, nonlinearity={n})", f"torch kaiming_uniform_({m}, {n})", lambda m=m, n=n: _torch_sample(I.kaiming_uniform_, a=0.2, mode=m, nonlinearity=n))
            for m in ("fan_in", "fan_out")
            for n in ("leaky_relu", "relu", "tanh")
        ],
    ]


def _ir_sample(text: str) -> np.ndarray:
    from specc.ir.initializers import INITIALIZERS
    from specc.ir.spec import ArgValue, CallValue, Symbol

    if "(" in text:
        name, rest = text.split("(", 1)
        args = []
        for part in rest.rstrip(")").split(", "):
            k, v = part.split("=")
            try:
                value = float(v)
            except ValueError:
                value = Symbol(v)
            args.append((k, ArgValue(value)))
        init = INITIALIZERS.make(ArgValue(CallValue(name, args)))
    else:
        init = INITIALIZERS.make(ArgValue(Symbol(text)))
    return np.asarray(init.sample(SHAPE, np.random.default_rng(7)), dtype=np.float64)


def _moments(x: np.ndarray) -> tuple[float, float, float, float]:
    x = x.ravel()
    return float(x.mean()), float(x.std()), float(x.min()), float(x.max())


def _support(extreme: float) -> str:
    return "uniform" if extreme < 1.9 else "truncated at 2σ" if extreme < 2.6 else "untruncated"


def initializer_checks() -> list[Check]:
    """Each random initialiser against the framework function it is documented to match:
    mean and standard deviation within 4 standard errors (27,648 draws: ~1.7 % of σ for the
    std), and the same support — uniform bounds, truncated at ±2σ, or untruncated tails —
    judged by the extreme values in units of the sample std (≈ 1.73, 2.27, > 3.5)."""
    out = []
    n = float(np.prod(SHAPE))
    for text, label, framework in _framework_pairs():
        ours, theirs = _ir_sample(text), framework()
        m1, s1, lo1, hi1 = _moments(ours)
        m2, s2, lo2, hi2 = _moments(theirs)
        se_mean = 4 * s2 / np.sqrt(n)
        se_std = 4 * s2 / np.sqrt(2 * n)
        # extremes in σ units: uniform ≈ 1.73, truncated ≈ 2, normal tails ≈ 4
        e1 = max(abs(lo1 - m1), abs(hi1 - m1)) / s1
        e2 = max(abs(lo2 - m2), abs(hi2 - m2)) / s2
        ok = abs(m1 - m2) <= se_mean and abs(s1 - s2) <= se_std and _support(e1) == _support(e2)
        out.append(Check(f"initialiser {text} ~ {label}", ok, f"mean {m1:.4g} vs {m2:.4g}, std {s1:.4g} vs {s2:.4g}, extreme {e1:.2f}σ vs {e2:.2f}σ ({_support(e2)})"))
    # orthogonal: every singular value equals the gain, in both
    import keras

    for gain in (1.0, 1.7):
        from specc.ir.initializers import INITIALIZERS
        from specc.ir.spec import ArgValue, CallValue

        init = INITIALIZERS.make(ArgValue(CallValue("orthogonal", [("gain", ArgValue(gain))])))
        ours = np.asarray(init.sample((40, 24), np.random.default_rng(3)))
        theirs = np.asarray(keras.initializers.Orthogonal(gain=gain, seed=1)((40, 24), dtype="float64"))
        sv1, sv2 = np.linalg.svd(ours, compute_uv=False), np.linalg.svd(theirs, compute_uv=False)
        ok = np.allclose(sv1, gain, rtol=1e-9) and np.allclose(sv2, gain, rtol=1e-6)
        out.append(Check(f"initialiser orthogonal(gain={gain}) ~ keras Orthogonal", ok, f"singular values {sv1.min():.6g}…{sv1.max():.6g} vs {sv2.min():.6g}…{sv2.max():.6g}"))
    return out


# --------------------------------------------------------------------------- defaults


def _default(cls, name):
    return inspect.signature(cls).parameters[name].default


def _ir_default(family_item, field: str):
    return family_item.model_fields[field].get_default(call_default_factory=True)


def default_checks() -> list[Check]:
    """IR defaults against the framework the IR follows for them: optimizers follow
    PyTorch (formulas and defaults, except SGD's learning rate, Keras' 0.01); layers,
    losses and schedules follow Keras where the two differ."""
    import keras
    import torch

    from specc.ir import activations as A
    from specc.ir import losses as L
    from specc.ir import optimizers as O
    from specc.ir import schedules as S
    from specc.ir.ops import normalization as N
    from specc.ir.ops import recurrent as R

    pairs = [
        (O.Adam, "lr", "torch Adam lr", _default(torch.optim.Adam, "lr")),
        (O.Adam, "beta1", "torch Adam betas[0]", _default(torch.optim.Adam, "betas")[0]),
        (O.Adam, "beta2", "torch Adam betas[1]", _default(torch.optim.Adam, "betas")[1]),
        (O.Adam, "epsilon", "torch Adam eps", _default(torch.optim.Adam, "eps")),
        (O.AdamW, "weight_decay", "torch AdamW weight_decay", _default(torch.optim.AdamW, "weight_decay")),
        (O.AdamW, "epsilon", "torch AdamW eps", _default(torch.optim.AdamW, "eps")),
        (O.RMSprop, "lr", "torch RMSprop lr", _default(torch.optim.RMSprop, "lr")),
        (O.RMSprop, "rho", "torch RMSprop alpha", _default(torch.optim.RMSprop, "alpha")),
        (O.RMSprop, "epsilon", "torch RMSprop eps", _default(torch.optim.RMSprop, "eps")),
        (O.Adagrad, "lr", "torch Adagrad lr", _default(torch.optim.Adagrad, "lr")),
        (O.Adagrad, "epsilon", "torch Adagrad eps", _default(torch.optim.Adagrad, "eps")),
        (O.Adagrad, "initial_accumulator", "torch Adagrad initial_accumulator_value", _default(torch.optim.Adagrad, "initial_accumulator_value")),
        (O.Adagrad, "lr_decay", "torch Adagrad lr_decay", _default(torch.optim.Adagrad, "lr_decay")),
        (O.Adadelta, "lr", "torch Adadelta lr", _default(torch.optim.Adadelta, "lr")),
        (O.Adadelta, "rho", "torch Adadelta rho", _default(torch.optim.Adadelta, "rho")),
        (O.Adadelta, "epsilon", "torch Adadelta eps", _default(torch.optim.Adadelta, "eps")),
        (O.SGD, "lr", "keras SGD learning_rate", _default(keras.optimizers.SGD, "learning_rate")),
        (O.SGD, "momentum", "torch SGD momentum", _default(torch.optim.SGD, "momentum")),
        (O.SGD, "dampening", "torch SGD dampening", _default(torch.optim.SGD, "dampening")),
        (N.BatchNorm, "momentum", "keras BatchNormalization momentum", _default(keras.layers.BatchNormalization, "momentum")),
        (N.BatchNorm, "epsilon", "keras BatchNormalization epsilon", _default(keras.layers.BatchNormalization, "epsilon")),
        (N.LayerNorm, "epsilon", "keras LayerNormalization epsilon", _default(keras.layers.LayerNormalization, "epsilon")),
        (R.LSTM, "unit_forget_bias", "keras LSTM unit_forget_bias", _default(keras.layers.LSTM, "unit_forget_bias")),
        (R.GRU, "reset_after", "keras GRU reset_after", _default(keras.layers.GRU, "reset_after")),
        (A.LeakyRelu, "alpha", "torch LeakyReLU negative_slope", _default(torch.nn.LeakyReLU, "negative_slope")),
        (A.Elu, "alpha", "torch ELU alpha", _default(torch.nn.ELU, "alpha")),
        (L.Huber, "delta", "keras Huber delta", _default(keras.losses.Huber, "delta")),
        (S.Cosine, "alpha", "keras CosineDecay alpha", _default(keras.optimizers.schedules.CosineDecay, "alpha")),
        (S.Step, "gamma", "torch StepLR gamma", _default(torch.optim.lr_scheduler.StepLR, "gamma")),
    ]
    out = []
    for cls, field, label, theirs in pairs:
        ours = _ir_default(cls, field)
        ok = theirs is not inspect.Parameter.empty and (ours == theirs or (isinstance(ours, float) and np.isclose(ours, float(theirs), rtol=1e-12, atol=0)))
        out.append(Check(f"default {cls.__name__.lower()}.{field} = {label}", bool(ok), f"IR {ours!r}, framework {theirs!r}"))
    return out


# --------------------------------------------------------------------------- metrics


def metric_checks(model, seed: int = 0, batch: int = 64) -> list[Check]:
    """Each metric of ``model`` as Keras' compiled metric computes it (what ``fit`` reports)
    against specc's NumPy metric (what the torch training loop reports), on the model's own
    outputs for random inputs and targets.  Keras keeps metric state in its float type
    (float32), so they must agree to float32 resolution: 1e-6 (a wrong threshold, average
    or smoothing moves a metric by a count over the batch, ≥ 1/64 here)."""
    if model.train is None or not model.train.metrics:
        return []
    from specc.backends.keras.bundle import build_keras, metric_constructs
    from specc.train.metrics import metric_values
    from specc.verification.data import random_inputs, random_targets, verification_weights

    weights, _ = verification_weights(model, seed)
    rng = np.random.default_rng([seed, 1234])
    x = random_inputs(model, batch, rng, "float64")
    y = random_targets(model, batch, rng, "float64")
    km = build_keras(model, weights, dtype="float64", compile=False)
    p = km(x if len(x) > 1 else x[0], training=False)
    p = np.asarray(p[0] if isinstance(p, (list, tuple)) else p, dtype=np.float64)
    out = []
    for m in model.train.metrics:
        one = model.model_copy(update={"train": model.train.model_copy(update={"metrics": (m,)})})
        ours = next(iter(metric_values(one, p, y[0]).values()))
        metric = metric_constructs(one)[0].build()
        metric.update_state(y[0], p)
        theirs = float(np.asarray(metric.result()))
        ok = abs(ours - theirs) <= 1e-6 * max(1.0, abs(theirs))
        out.append(Check(f"metric {m.describe()} of {model.name}: keras = specc's numpy (torch training)", ok, f"{theirs:.10g} vs {ours:.10g}"))
    return out


# --------------------------------------------------------------------------- dropout kernels


def dropout_checks(rate: float = 0.3, n: int = 200_000) -> list[Check]:
    """torch's F.dropout and Keras' backend dropout (what verify replaces by the seeded
    pattern ×1/(1 − rate)): kept values scaled by 1/(1 − rate), a fraction ≈ rate dropped."""
    import torch
    import torch.nn.functional as F

    from specc.backends.keras.bundle import build_keras  # noqa: F401 - TensorFlow, imported quietly

    import keras

    torch.manual_seed(0)
    ones = np.ones(n)
    runs = {
        "torch F.dropout": F.dropout(torch.ones(n, dtype=torch.float64), rate, training=True).numpy(),
        "keras random.dropout": np.asarray(keras.random.dropout(keras.ops.convert_to_tensor(ones, dtype="float64"), rate, seed=1), dtype=np.float64),
    }
    out = []
    sigma = (rate * (1 - rate) / n) ** 0.5
    for name, y in runs.items():
        kept = y[y != 0]
        scale_ok = bool(kept.size) and np.allclose(kept, 1.0 / (1.0 - rate), rtol=1e-12, atol=0)
        frac = 1.0 - kept.size / n
        ok = scale_ok and abs(frac - rate) < 5 * sigma
        out.append(Check(f"dropout {name} = seeded mask ×1/(1 − rate)", ok, f"kept values {np.unique(kept)[:3]} (want {1 / (1 - rate):.12g}), dropped {frac:.4f} (rate {rate})"))
    return out
