"""Training data for ``specc train`` / ``evaluate``: scikit-learn's digits, an ``.npz``
file, or synthetic data drawn from the spec's types — validated against the spec before
any training (see :mod:`specc.train.validate`).

NPZ layout: ``x`` (one input) or ``x_<input name>`` (several), ``y`` (one output) or
``y_<output name>``; optional ``x_val`` / ``x_val_<input>`` and ``y_val`` /
``y_val_<output>``.  Without validation arrays the spec's ``validation_split`` is held
out: a fixed split (seed 0, stratified by class for class labels), independent of the
training seed, so every run of a spec validates on the same examples.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from specc.ir.graph import Model
from specc.verification.data import pad_ids
from specc.weights.io import CheckpointError, load_npz

from .errors import TrainError, fail
from .validate import check_inputs, check_lengths, check_targets, target_kind, vocab_of

__all__ = ["Split", "Dataset", "load_data", "split_indices", "SPLIT_SEED", "DIGITS_VAL_FRACTION"]

SPLIT_SEED = 0
DIGITS_VAL_FRACTION = 0.2
SYNTHETIC_EXAMPLES = 1024
SYNTHETIC_SEQ_LEN = 16


@dataclass
class Split:
    """Examples: one array per model input and one per output, rows aligned."""

    xs: list[np.ndarray]
    ys: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.xs[0])

    def take(self, idx: np.ndarray) -> Split:
        return Split([x[idx] for x in self.xs], [y[idx] for y in self.ys])


@dataclass
class Dataset:
    name: str
    train: Split
    val: Split | None
    note: str = ""


def split_indices(n: int, fraction: float, labels: np.ndarray | None = None, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) row indices: ``fraction`` held out, per class if ``labels``."""
    rng = np.random.default_rng(seed)
    if fraction <= 0:
        return np.arange(n), np.arange(0)
    if labels is not None and labels.ndim == 1:
        val = []
        for c in np.unique(labels):
            rows = np.flatnonzero(labels == c)
            rng.shuffle(rows)
            val.append(rows[: int(round(fraction * len(rows)))])
        v = np.sort(np.concatenate(val))
    else:
        v = np.sort(rng.permutation(n)[: int(round(fraction * n))])
    t = np.setdiff1d(np.arange(n), v)
    if len(t) == 0 or len(v) == 0:
        raise fail(f"cannot hold out {fraction:g} of {n} examples for validation", "give more examples, x_val/y_val arrays, or change validation_split")
    return t, v


def _class_labels(model: Model, ys: list[np.ndarray]) -> np.ndarray | None:
    kind = target_kind(model)
    if len(ys) != 1:
        return None
    if kind == "class_index" and ys[0].ndim == 1:
        return ys[0]
    if kind == "one_hot" and ys[0].ndim == 2:
        return ys[0].argmax(-1)
    if kind == "binary" and ys[0].shape[1:] == (1,):
        return (ys[0][:, 0] > 0.5).astype(np.int64)
    return None


def _held_out(model: Model, split: Split, fraction: float) -> tuple[Split, Split | None]:
    if fraction <= 0:
        return split, None
    t, v = split_indices(len(split), fraction, _class_labels(model, split.ys))
    return split.take(t), split.take(v)


def load_data(model: Model, source: str = "digits") -> Dataset:
    """The data set ``source`` names, checked against ``model``."""
    if model.train is None:
        raise fail(f"{model.name} has no train section", "add train { loss …; optimizer … } to the spec")
    if source == "digits":
        return _digits(model)
    if source == "synthetic":
        return _synthetic(model)
    p = Path(source)
    if p.suffix == ".npz" or p.exists() or "/" in source:
        return _npz(model, p)
    raise fail(f"unknown data {source!r}", "use --data digits, --data synthetic, or a path to an .npz file")


# --------------------------------------------------------------------------- digits


def _digits(model: Model) -> Dataset:
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise fail(f"the digits data have one input and one output; {model.name} has {len(model.inputs)} and {len(model.outputs)}", "use an .npz file or --data synthetic")
    inp = model.inputs[0]
    t = inp.type
    if not t.is_float or t.size() != 64:
        raise fail(f"the digits data are 8×8×1 images (64 values); the input '{inp.name}' is {t}", "declare input image: float32[8, 8, 1], or use --data synthetic / an .npz file")
    out = model.type_of(model.outputs[0])
    kind = target_kind(model)
    if kind not in ("class_index", "one_hot") or out.shape != (10,):
        raise fail(f"the digits data have 10 classes; the output is {out} with loss {model.train.loss.kind}", "end with dense(10, activation=softmax) and a (sparse_)categorical_crossentropy loss")
    from specc.extras import needs, require

    require("sklearn", "--data digits", "install it with pip install 'specc[train]', or use --data synthetic / an .npz file")
    with needs("--data digits"):
        from sklearn.datasets import load_digits
    d = load_digits()
    x = (d.images / 16.0).astype(np.float32).reshape(-1, *t.shape)
    y = d.target.astype(np.int64)
    xs = check_inputs(model, [x], ["digits images"])
    ys = check_targets(model, [y], ["digits labels"])
    tr, va = split_indices(len(y), DIGITS_VAL_FRACTION, y)
    full = Split(xs, ys)
    return Dataset("digits", full.take(tr), full.take(va), f"scikit-learn digits: {len(tr)} train / {len(va)} validation (fixed stratified split)")


# --------------------------------------------------------------------------- npz


def _npz(model: Model, path: Path) -> Dataset:
    if not path.exists():
        raise fail(f"{path}: no such data file", "give an existing .npz file, or --data digits / synthetic")
    if path.is_dir():
        raise fail(f"{path}: is a directory, not an .npz file")
    if not zipfile.is_zipfile(path):
        try:
            with open(path, "rb") as f:
                npy = f.read(6) == b"\x93NUMPY"
        except OSError as e:
            raise fail(f"{path}: cannot read the data file: {e.strerror}") from None
        what = "a single .npy array, not an .npz archive" if npy else "not an .npz file (np.savez archive)"
        raise fail(f"{path}: {what}", "save with np.savez(path, x=..., y=...)")
    try:
        arrays = load_npz(path)  # bounded by the file's real size, never unpickled
    except CheckpointError as e:
        raise fail(str(e), "store plain numeric arrays with np.savez (specc never unpickles)" if "objects" in str(e) else "write the file again with np.savez(path, x=..., y=...)") from None
    return _from_arrays(model, arrays, str(path))


def _keys(names: list[str], prefix: str) -> list[str]:
    return [prefix] if len(names) == 1 else [f"{prefix}_{n}" for n in names]


def _pick(arrays: dict, keys: list[str], alt: list[str], path: str, what: str) -> list[np.ndarray] | None:
    for ks in (keys, alt):
        if all(k in arrays for k in ks):
            return [arrays[k] for k in ks]
    present = [k for k in keys if k in arrays]
    if present or what in ("inputs", "targets"):
        missing = [k for k in keys if k not in arrays]
        have = ", ".join(sorted(arrays)) or "nothing"
        raise fail(f"{path}: missing array(s) {', '.join(missing)} ({what}); the file holds {have}", f"name the arrays {', '.join(keys)}")
    return None


def _from_arrays(model: Model, arrays: dict, path: str) -> Dataset:
    in_names = [i.name for i in model.inputs]
    out_names = list(model.outputs)
    xk, yk = _keys(in_names, "x"), _keys(out_names, "y")
    xvk, yvk = _keys(in_names, "x_val"), _keys(out_names, "y_val")
    # one input / output may also be stored under its own name
    xs = _pick(arrays, xk, [f"x_{n}" for n in in_names], path, "inputs")
    ys = _pick(arrays, yk, [f"y_{n}" for n in out_names], path, "targets")
    xv = _pick(arrays, xvk, [f"x_val_{n}" for n in in_names], path, "validation inputs")
    yv = _pick(arrays, yvk, [f"y_val_{n}" for n in out_names], path, "validation targets")
    if (xv is None) != (yv is None):
        raise fail(f"{path}: validation inputs without targets (or the reverse)", f"give both {', '.join(xvk + yvk)}, or neither")
    train = _checked(model, xs, ys, xk, yk, path)
    if xv is not None:
        val = _checked(model, xv, yv, xvk, yvk, path)
        note = f"{path}: {len(train)} train / {len(val)} validation examples"
        return Dataset(path, train, val, note)
    train, val = _held_out(model, train, model.train.validation_split)
    note = f"{path}: {len(train)} train" + (f" / {len(val)} validation (validation_split {model.train.validation_split:g}, fixed)" if val else " (no validation)")
    return Dataset(path, train, val, note)


def _checked(model: Model, xs, ys, xk, yk, source: str | None = None) -> Split:
    xs = [np.asarray(a) for a in xs]
    ys = [np.asarray(a) for a in ys]
    try:
        check_lengths(xs, xk, ys, yk)
        return Split(check_inputs(model, xs, xk), check_targets(model, ys, yk))
    except TrainError as e:
        if source is None:
            raise
        raise fail(f"{source}: {e.message}", e.hint) from None


# --------------------------------------------------------------------------- synthetic


def synthetic_arrays(model: Model, n: int = SYNTHETIC_EXAMPLES, seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Inputs of the declared types and targets from a fixed random rule on them: a linear
    map of the (embedded) inputs, normalised, turned into the loss's kind of target — so a
    model that fits it can drive the loss down."""
    rng = np.random.default_rng([seed, 7])
    xs, feats = [], []
    for inp in model.inputs:
        shape = tuple(d if isinstance(d, int) else SYNTHETIC_SEQ_LEN for d in inp.type.shape)
        if inp.type.is_float:
            x = rng.standard_normal((n, *shape)).astype(np.float32)
            f = x
        else:
            vocab = vocab_of(model, inp.name) or 100
            x = rng.integers(0, vocab, (n, *shape)).astype(inp.type.dtype)
            if model.padded(inp.name):  # embedding(mask_zero=true): padding of lengths that differ per example
                x = pad_ids(np.maximum(x, 1), rng).astype(inp.type.dtype)
            table = rng.standard_normal((vocab, 4))
            f = table[x]  # (n, *shape, 4)
        xs.append(x)
        feats.append(f)
    ys = []
    for out in model.outputs:
        oshape = tuple(d if isinstance(d, int) else SYNTHETIC_SEQ_LEN for d in model.type_of(out).shape)
        # per-position rule when an input runs along the output's leading axes (taggers)
        lead = oshape[:-1]
        per_pos = [f.reshape(n, *lead, -1) for f in feats if lead and f.shape[1 : 1 + len(lead)] == lead]
        if per_pos:
            z = np.concatenate(per_pos, -1)
        else:
            z = np.concatenate([f.reshape(n, -1) for f in feats], -1)
            lead = ()
        w = rng.standard_normal((z.shape[-1], int(np.prod(oshape[len(lead) :] or (1,)))))
        s = (z @ w).reshape(n, *oshape)
        s = (s - s.mean(0)) / (s.std(0) + 1e-9)
        ys.append(_as_targets(model, s))
    return xs, ys


def _as_targets(model: Model, s: np.ndarray) -> np.ndarray:
    kind = target_kind(model)
    if kind == "class_index":
        return s.argmax(-1).astype(np.int64)
    if kind == "one_hot":
        return np.eye(s.shape[-1], dtype=np.float32)[s.argmax(-1)]
    if kind == "binary":
        return (s > 0).astype(np.float32)
    if kind == "distribution":
        e = np.exp(s - s.max(-1, keepdims=True))
        return (e / e.sum(-1, keepdims=True)).astype(np.float32)
    return np.tanh(s).astype(np.float32)


def _synthetic(model: Model) -> Dataset:
    xs, ys = synthetic_arrays(model)
    names_x = _keys([i.name for i in model.inputs], "x")
    names_y = _keys(list(model.outputs), "y")
    train = _checked(model, xs, ys, names_x, names_y)
    frac = model.train.validation_split or 0.2
    train, val = _held_out(model, train, frac)
    return Dataset("synthetic", train, val, f"synthetic data from the spec's types: {len(train)} train / {len(val)} validation")
