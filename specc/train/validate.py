"""Check arrays against a spec before any training: shapes per example, dtype kinds,
id and label ranges, lengths.  Every problem is one clear :class:`TrainError`; arrays
that pass come back in the dtypes training uses (float inputs float32, ids in the declared
integer type, class indices int64, other targets float32; integer labels one-hot for a
categorical loss)."""

from __future__ import annotations

import numpy as np

from specc.ir.graph import Model
from specc.ir.types import TensorType, fmt_shape

from .errors import fail

__all__ = ["check_inputs", "check_targets", "check_lengths", "target_kind", "vocab_of"]


def _shape(a: np.ndarray) -> str:
    return "(" + ", ".join(str(d) for d in a.shape[1:]) + ")"


def _fits(actual: tuple[int, ...], declared: tuple) -> bool:
    return len(actual) == len(declared) and all(not isinstance(d, int) or d == a for a, d in zip(actual, declared, strict=True))


def _example_where(mask: np.ndarray) -> int:
    flat = mask.reshape(mask.shape[0], -1).any(axis=1)
    return int(np.argmax(flat))


def vocab_of(model: Model, input_name: str) -> int | None:
    """The smallest vocabulary of the embeddings reading ``input_name`` (None if none)."""
    vocabs = model.vocabs(input_name)
    return min(vocabs) if vocabs else None


def check_inputs(model: Model, arrays: list[np.ndarray], names: list[str]) -> list[np.ndarray]:
    """``arrays[i]`` (stored as ``names[i]``) for model input i → checked, converted arrays."""
    out = []
    for a, key, inp in zip(arrays, names, model.inputs, strict=True):
        t: TensorType = inp.type
        what = f"{key} (the input '{inp.name}', {t})"
        kind = a.dtype.kind
        if kind not in "fiub":
            raise fail(f"{key}: arrays of dtype {a.dtype} cannot feed {what}", "store numbers: floats for features, integers for token ids")
        if a.ndim == 0:
            raise fail(f"{key}: a scalar, expected one example per row for {what}")
        if not _fits(a.shape[1:], t.shape):
            hint = f"each example must have shape {fmt_shape(t.shape)}"
            if t.size() is not None and int(np.prod(a.shape[1:])) == t.size():
                hint += f"; reshape with x.reshape(-1, {', '.join(str(d) for d in t.shape)})"
            raise fail(f"{key}: examples have shape {_shape(a)}, expected {fmt_shape(t.shape)} for {what}", hint)
        if t.is_float:
            if kind != "f":
                raise fail(f"{key}: {a.dtype} array for the float input '{inp.name}' ({t})", f"convert to floats, e.g. {key}.astype('float32') (scaled as the model expects, e.g. / 255)")
            bad = ~np.isfinite(a)
            if bad.any():
                raise fail(f"{key}: NaN or infinite values (first in example {_example_where(bad)})", "clean or drop those examples")
            out.append(np.ascontiguousarray(a, dtype=np.float32))
        else:
            if kind not in "iu":
                raise fail(f"{key}: {a.dtype} array for the integer input '{inp.name}' ({t}): token ids must be integers", f"store ids as integers, e.g. {key}.astype('int64')")
            vocab = vocab_of(model, inp.name)
            if a.size:
                lo, hi = int(a.min()), int(a.max())
                if lo < 0:
                    raise fail(f"{key}: negative id {lo} (example {_example_where(a < 0)}) for the input '{inp.name}'", "ids must be ≥ 0")
                if vocab is not None and hi >= vocab:
                    raise fail(f"{key}: id {hi} (example {_example_where(a >= vocab)}) is out of range for the embedding's vocab of {vocab}", f"ids must lie in [0, {vocab}); raise vocab in the spec or remap the ids")
            out.append(np.ascontiguousarray(a, dtype=np.dtype(t.dtype)))
    return out


def target_kind(model: Model) -> str:
    """How targets look: class_index, one_hot, binary, distribution or value."""
    if model.train is None:
        return "value"
    k = model.train.loss.kind
    return {
        "sparse_categorical_crossentropy": "class_index",
        "categorical_crossentropy": "one_hot",
        "binary_crossentropy": "binary",
        "kl_divergence": "distribution",
    }.get(k, "value")


def _labels(a: np.ndarray, key: str, classes: int, out_name: str) -> np.ndarray:
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or np.any(a != np.round(a)):
            raise fail(f"{key}: labels must be integer class indices, found non-integer values", f"store labels as integers in [0, {classes})")
    elif a.dtype.kind not in "iub":
        raise fail(f"{key}: labels of dtype {a.dtype}", f"store labels as integers in [0, {classes})")
    if a.size:
        lo, hi = a.min(), a.max()
        if lo < 0 or hi >= classes:
            bad = (a < 0) | (a >= classes)
            v = int(lo) if lo < 0 else int(hi)
            raise fail(f"{key}: label {v} (example {_example_where(bad)}) is out of range for the {classes} classes of the output '{out_name}'", f"labels must lie in [0, {classes})")
    return a.astype(np.int64)


def check_targets(model: Model, arrays: list[np.ndarray], names: list[str]) -> list[np.ndarray]:
    """``arrays[i]`` (stored as ``names[i]``) for model output i → checked, converted targets."""
    kind = target_kind(model)
    out = []
    for a, key, out_name in zip(arrays, names, model.outputs, strict=True):
        t = model.type_of(out_name)
        shape = t.shape
        if a.dtype.kind not in "fiub":
            raise fail(f"{key}: targets of dtype {a.dtype}", "store targets as numbers")
        if a.ndim == 0:
            raise fail(f"{key}: a scalar, expected one target per example")
        classes = shape[-1] if shape and isinstance(shape[-1], int) else None
        if kind == "class_index":
            if a.ndim == len(shape) + 1 and a.shape[-1] == 1 and (classes != 1):
                a = a[..., 0]  # (N, 1) labels
            if not _fits(a.shape[1:], shape[:-1]):
                raise fail(f"{key}: labels have shape {_shape(a)} per example, expected {fmt_shape(shape[:-1])} (one class index per output row of {out_name} {t})", "sparse_categorical_crossentropy takes integer class indices, not one-hot rows")
            out.append(_labels(a, key, classes or 2**31, out_name))
            continue
        if kind == "one_hot" and a.dtype.kind in "iub" and _fits(a.shape[1:], shape[:-1]) and classes:
            lab = _labels(a, key, classes, out_name)
            out.append(np.eye(classes, dtype=np.float32)[lab])
            continue
        if shape == (1,) and a.ndim == 1:
            a = a[:, None]
        if not _fits(a.shape[1:], shape):
            hint = f"each target must have shape {fmt_shape(shape)}"
            if kind == "one_hot":
                hint += " (one-hot rows), or give integer class labels"
            raise fail(f"{key}: targets have shape {_shape(a)} per example, expected {fmt_shape(shape)} for the output '{out_name}' ({t})", hint)
        af = a.astype(np.float32)
        if not np.all(np.isfinite(af)):
            raise fail(f"{key}: NaN or infinite targets (first in example {_example_where(~np.isfinite(af))})")
        if kind in ("binary", "one_hot", "distribution") and af.size and (af.min() < 0 or af.max() > 1):
            raise fail(f"{key}: targets outside [0, 1] for {model.train.loss.kind}", "binary targets are 0/1 (or probabilities)")
        out.append(np.ascontiguousarray(af))
    return out


def check_lengths(xs: list[np.ndarray], xnames: list[str], ys: list[np.ndarray], ynames: list[str]) -> int:
    for k, a in zip([*xnames, *ynames], [*xs, *ys], strict=True):
        if a.ndim == 0:
            raise fail(f"{k}: a scalar ({a.dtype}), expected an array with one row per example", f"store {k} with a leading example axis, e.g. np.array([...]) of shape (N, ...)")
    sizes = {k: len(a) for k, a in zip([*xnames, *ynames], [*xs, *ys], strict=True)}
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"{k} has {n}" for k, n in sizes.items())
        raise fail(f"mismatched lengths: {listed} examples", "every array must hold one row per example")
    n = next(iter(sizes.values()))
    if n == 0:
        raise fail(f"{xnames[0]}: no examples")
    return n
