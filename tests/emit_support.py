"""Shared by the tests of `specc compile`: import a generated module and check that it
computes exactly what `specc.build` builds (forward, loss, optimizer steps)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import specc
from specc.backends.keras.emit import emit_keras
from specc.backends.torch.emit import emit_torch
from specc.ir.transforms import without_dropout
from specc.verification.data import random_inputs, random_targets, verification_weights


def _import(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _torch_model_class(mod):
    return next(v for v in vars(mod).values() if isinstance(v, type) and issubclass(v, torch.nn.Module) and v.__module__ == mod.__name__ and "reset_parameters" in vars(v))


def ready_to_train(*kms) -> None:
    """Make each compiled Keras model's optimizer slots now, as specc's own loops do
    (verification/probes.py, train/keras_loop.py): made inside the first traced step they
    make TensorFlow trace that step twice (half the CPU of a large model's first
    ``train_on_batch``).  The steps taken are the same."""
    for km in kms:
        km.optimizer.build(km.trainable_variables)


def _check_torch(model, tmp_path, name):
    src = emit_torch(model)
    assert "import specc" not in src and not re.search(r"(?<![.\w])(eval|exec)\(", src)
    path = tmp_path / f"{name}_torch.py"
    path.write_text(src)
    mod = _import(path, f"{name}_torch")
    weights, _ = verification_weights(model, 0)
    built = specc.build(model, "torch", dtype="float64", weights=weights)
    gen = _torch_model_class(mod)().double()
    assert set(gen.state_dict()) == set(built.model.state_dict())
    gen.load_state_dict(built.model.state_dict())
    rng = np.random.default_rng(0)
    xs = built.to_inputs(random_inputs(model, 3, rng, "float64"))
    built.model.eval()
    gen.eval()
    a, b = built.model(*xs), gen(*xs)
    a, b = (a, b) if isinstance(a, tuple) else ((a,), (b,))
    assert len(a) == len(b) and all(torch.equal(u, v) for u, v in zip(a, b))
    if model.train is not None:
        y = built.to_targets(random_targets(model, 3, rng, "float64"))
        opt = mod.make_optimizer(gen)
        sched = (mod.make_scheduler(opt),) if hasattr(mod, "make_scheduler") else ()
        for _ in range(2):  # same dropout masks from the same seed; equal up to float reordering
            torch.manual_seed(5)
            la = built.train_step(xs, y)
            torch.manual_seed(5)
            lb = mod.train_step(gen, opt, xs, y, *sched)
            assert la == pytest.approx(lb, rel=1e-12)
        now = built.model.state_dict()
        for k, v in gen.state_dict().items():
            torch.testing.assert_close(v, now[k], rtol=1e-12, atol=1e-14, msg=k)
    return mod


def _check_keras(model, tmp_path, name):
    model = without_dropout(model)  # keras dropout seeds differ per model instance
    src = emit_keras(model)
    assert "import specc" not in src and not re.search(r"(?<![.\w])(eval|exec)\(", src)
    path = tmp_path / f"{name}_keras.py"
    path.write_text(src)
    mod = _import(path, f"{name}_keras")
    weights, _ = verification_weights(model, 0)
    built = specc.build(model, "keras", dtype="float64", weights=weights)
    gen = mod.build_model("float64")
    # every operation (layers, `a + b`, masks) has the in-memory model's name, again in a
    # second build in this process (Keras numbers the names it makes up across models)
    names = [op.name for op in built.operations]
    assert [op.name for op in gen.operations] == names
    assert [op.name for op in mod.build_model("float64").operations] == names
    if model.train is not None:
        mod.compile_model(gen, "float64")
        ready_to_train(built, gen)
    values = {v.path: v.numpy() for v in built.weights}
    assert sorted(values) == sorted(v.path for v in gen.weights)
    for v in gen.weights:
        v.assign(values[v.path])
    rng = np.random.default_rng(0)
    xs = random_inputs(model, 3, rng, "float64")
    x = xs if len(xs) > 1 else xs[0]
    np.testing.assert_array_equal(np.asarray(built(x, training=False)), np.asarray(gen(x, training=False)))
    if model.train is not None:
        ys = random_targets(model, 3, rng, "float64")
        y = ys if len(ys) > 1 else ys[0]
        for _ in range(2):
            assert built.train_on_batch(x, y) == gen.train_on_batch(x, y)
        now = {v.path: v.numpy() for v in built.weights}
        for v in gen.weights:
            np.testing.assert_array_equal(v.numpy(), now[v.path], err_msg=v.path)
    return mod
