"""Helpers for tests that run a spec in both backends (float64 by default).

Kept small on purpose: ``specc verify`` is the full harness; these are for unit tests of
single layers and features."""

from __future__ import annotations

import numpy as np

import specc
from specc.compiler import as_model
from specc.ir.graph import Model
from specc.ir.transforms import without_dropout
from specc.verification import data
from specc.weights import init_weights

SEQ_LEN = data.SEQ_LEN


def build_both(spec, dtype: str = "float64", seed: int = 0, weights=None, no_dropout: bool = True):
    """(model, torch bundle, keras model, canonical weights) with identical weights."""
    model = as_model(spec)
    if no_dropout:
        model = without_dropout(model)
    w = weights if weights is not None else init_weights(model, seed)
    tb = specc.build(model, "torch", dtype=dtype, weights=w)
    km = specc.build(model, "keras", dtype=dtype, weights=w)
    return model, tb, km, w


def random_inputs(model: Model, batch: int, rng: np.random.Generator, dtype: str = "float64") -> list[np.ndarray]:
    """Inputs of the declared shapes (the verify harness' generator)."""
    return data.random_inputs(model, batch, rng, dtype)


def random_targets(model: Model, batch: int, rng: np.random.Generator, dtype: str = "float64") -> np.ndarray:
    """Targets of the first output, valid for the spec's loss."""
    return data.random_targets(model, batch, rng, dtype)[0]


def forward_both(tb, km, inputs) -> tuple[np.ndarray, np.ndarray]:
    """Inference-mode outputs of both backends (first output)."""
    yt = tb.predict(inputs)
    yk = km(inputs if len(inputs) > 1 else inputs[0], training=False)
    if isinstance(yt, tuple):
        yt, yk = yt[0], yk[0]
    return np.asarray(yt), np.asarray(yk)


def max_rel(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / (np.max(np.abs(b)) + 1e-30)) if a.size else 0.0


def train_both(tb, km, inputs, targets, steps: int = 3) -> list[float]:
    """Run ``steps`` optimizer steps in both; the max relative weight difference after each."""
    diffs = []
    x = inputs if len(inputs) > 1 else inputs[0]
    if not km.optimizer.built:  # the slots made now: made inside the first traced step, it is traced twice
        km.optimizer.build(km.trainable_variables)
    for _ in range(steps):
        tb.train_step(inputs, targets)
        km.train_on_batch(x, targets)
        wt, wk = tb.get_weights(), km.specc.get_weights(km)
        diffs.append(max(max_rel(wt[n], wk[n]) for n in wt))
    return diffs


def random_weights(text: str, seed: int, scale: float = 0.5) -> dict[str, np.ndarray]:
    """Canonical weights of the spec ``text`` drawn at random (normal × ``scale``): far from
    any initialiser's values, so a weight mapped wrong shows in the outputs."""
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(v.shape) * scale for k, v in init_weights(specc.loads(text), 0).items()}
