"""Random weights, inputs and targets for comparing backends (all seeded)."""

from __future__ import annotations

import numpy as np

from specc.ir.graph import Model
from specc.weights import init_weights

__all__ = ["verification_weights", "random_inputs", "random_targets", "pad_ids", "SEQ_LEN"]

SEQ_LEN = 6  # length used for unknown sequence dimensions


def concrete(shape) -> tuple[int, ...]:
    return tuple(d if isinstance(d, int) else SEQ_LEN for d in shape)


def verification_weights(model: Model, seed: int) -> tuple[dict[str, np.ndarray], list[str]]:
    """The spec's initial weights, with every constant-initialised weight (biases, norm
    scales and shifts, batch-norm statistics) replaced by random values so that each
    weight — and each bug in converting it — changes the outputs.  Returns the weights and
    the names that were randomised."""
    w = init_weights(model, seed)
    rng = np.random.default_rng([seed, 7919])
    changed = []
    for name, value in w.items():
        if value.size and np.ptp(value) == 0:
            changed.append(name)
            if name.endswith("moving_variance"):
                w[name] = rng.uniform(0.5, 1.5, value.shape)
            elif name.endswith("gamma"):
                w[name] = rng.uniform(0.5, 1.5, value.shape)
            else:
                w[name] = rng.normal(0.0, 0.1, value.shape)
    return w, changed


def random_inputs(model: Model, batch: int, rng: np.random.Generator, dtype: str) -> list[np.ndarray]:
    """Inputs of the declared shapes: N(0, 1) floats; integer ids valid for every
    embedding that reads them."""
    out = []
    for i in model.inputs:
        shape = (batch, *concrete(i.type.shape))
        if i.type.is_float:
            out.append(rng.standard_normal(shape).astype(dtype))
        else:
            vocabs = model.vocabs(i.name)
            if model.padded(i.name):  # real ids ≥ 1, then padding (0) of a length that differs per example
                out.append(pad_ids(rng.integers(1, max(min(vocabs), 2), shape), rng).astype(i.type.dtype))
            else:
                out.append(rng.integers(0, min(vocabs) if vocabs else 100, shape).astype(i.type.dtype))
    return out


def pad_ids(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``x`` (batch, steps) with each example's tail set to 0 (padding): lengths 1 … steps,
    as many different ones as the batch allows (the padded batches that ports get wrong)."""
    if x.ndim != 2:
        return x
    n, steps = x.shape
    lengths = rng.permutation(np.resize(np.arange(steps, 0, -1), n))
    out = x.copy()
    out[np.arange(steps)[None, :] >= lengths[:, None]] = 0
    return out


def random_targets(model: Model, batch: int, rng: np.random.Generator, dtype: str) -> list[np.ndarray]:
    """Valid targets for the spec's loss, one per output."""
    kind = model.train.loss.kind if model.train else "mse"
    out = []
    for o in model.outputs:
        shape = (batch, *concrete(model.type_of(o).shape))
        if kind == "sparse_categorical_crossentropy":
            out.append(rng.integers(0, shape[-1], shape[:-1]))
        elif kind == "categorical_crossentropy":
            out.append(np.eye(shape[-1], dtype=dtype)[rng.integers(0, shape[-1], shape[:-1])])
        elif kind == "binary_crossentropy":
            out.append(rng.integers(0, 2, shape).astype(dtype))
        elif kind == "kl_divergence":
            p = rng.random(shape) + 0.05
            out.append((p / p.sum(-1, keepdims=True)).astype(dtype))
        else:
            out.append(rng.standard_normal(shape).astype(dtype))
    return out

