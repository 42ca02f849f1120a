"""Helpers for the import tests: build a reference model (in float32 or float64), import
it, and compare its outputs with both backends' compiled models."""

from __future__ import annotations

import importlib
from contextlib import contextmanager

import numpy as np

import specc
from specc.importers import import_model

SEQ = 12  # length given to sequences of unknown length


def reference(name: str):
    return importlib.import_module(f"tests.reference_models.{name}")


@contextmanager
def keras_dtype(dtype: str):
    import keras

    old, old_x = keras.config.dtype_policy(), keras.config.floatx()
    keras.config.set_dtype_policy(dtype)
    keras.config.set_floatx(dtype)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(old)
        keras.config.set_floatx(old_x)


def example_inputs(model, rng, batch: int = 3, vocab: int = 50):
    """Inputs of the spec's declared (canonical) shapes: ids below ``vocab``, floats N(0, 1)."""
    out = []
    for i in model.inputs:
        shape = (batch, *(SEQ if d is None or isinstance(d, str) else d for d in i.type.shape))
        if i.type.is_float:
            out.append(rng.normal(size=shape))
        else:
            out.append(rng.integers(0, vocab, size=shape))
    return out


def max_rel(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.max(np.abs(a - b)) / (np.max(np.abs(b)) + 1e-300))


def compiled_outputs(result, inputs, dtype: str, backends=("torch", "keras")):
    """Inference outputs of the imported spec in each backend (first output)."""
    cast = [x.astype(dtype) if np.issubdtype(x.dtype, np.floating) else x.astype(np.int32) for x in inputs]
    out = []
    if "torch" in backends:
        tb = specc.build(result.model, "torch", dtype=dtype, weights=result.weights)
        yt = tb.predict(cast)
        out.append(np.asarray(yt[0] if isinstance(yt, tuple) else yt))
    if "keras" in backends:
        km = specc.build(result.model, "keras", dtype=dtype, weights=result.weights, compile=False)
        yk = km(cast if len(cast) > 1 else cast[0], training=False)
        out.append(np.asarray(yk[0] if isinstance(yk, (list, tuple)) else yk))
    return tuple(out)


def import_keras_reference(name: str, dtype: str):
    with keras_dtype(dtype):
        src = reference(name).build()
    return src, import_model(src)


def keras_source_output(src, inputs, dtype: str):
    cast = [x.astype(dtype) if np.issubdtype(x.dtype, np.floating) else x.astype(np.int32) for x in inputs]
    y = src(cast if len(cast) > 1 else cast[0], training=False)
    return np.asarray(y[0] if isinstance(y, (list, tuple)) else y)


def torch_reference(module_name: str, ctor: str):
    m = reference(module_name)
    inputs = m.INPUTS if isinstance(m.INPUTS, list) else m.INPUTS[ctor]
    return getattr(m, ctor), inputs


def torch_source_inputs(result, rng, batch: int = 3, vocab: int = 50):
    """Example inputs in the source's own layout and the same values in the spec's."""
    canon = example_inputs(result.model, rng, batch, vocab)
    src = []
    for decl, x in zip(result.model.inputs, canon, strict=True):
        perm = result.input_perms.get(decl.name)
        src.append(x if perm is None else np.transpose(x, perm))
    return src, canon


def torch_source_output(module, inputs, dtype: str):
    import torch

    module = module.double() if dtype == "float64" else module.float()
    module.eval()
    ts = [torch.from_numpy(x.astype(dtype)) if np.issubdtype(x.dtype, np.floating) else torch.from_numpy(x.astype(np.int64)) for x in inputs]
    with torch.no_grad():
        y = module(*ts)
    return (y[0] if isinstance(y, (tuple, list)) else y).numpy()
