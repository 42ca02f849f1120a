"""`specc compile --to keras`: the train section copies only what Keras lacks — the one
optimizer class of the spec's kind (Keras' own class stepping with PyTorch's formulas, the
IR's), its schedule, clipping and decay only where the spec has them — and uses Keras' own metrics where they compute the IR's; the generated model
trains exactly like `specc.build`'s for every optimizer kind, schedule, clipping and decay."""

from __future__ import annotations

import re

import keras
import numpy as np
import pytest

import specc
from specc.backends.keras.bundle import metric_constructs
from specc.backends.keras.emit import emit_keras
from specc.backends.keras.lib.optimizers import OPTIMIZER_CLASSES
from specc.backends.keras.lib.training import SpeccAccuracy
from emit_support import _check_keras
from test_emit_train import TRAIN_CASES

CLASSES = {cls.__name__ for cls in OPTIMIZER_CLASSES.values()}


def _spec(train: str, loss: str = "categorical_crossentropy") -> str:
    return f"""model m {{
      input x: float32[6]
      h = x -> dense(5, activation=tanh, reg=l1_l2(0.01, 0.02)) -> dense(4, reg=l2(0.03), bias_reg=l1(0.01))
      a = h -> dense(3, activation=softmax)
      b = h -> dense(3)
      output a, b
      train {{ loss {loss}; {train}; metrics [accuracy] }}
    }}"""


@pytest.mark.parametrize("case", sorted(TRAIN_CASES))
def test_generated_keras_training_equals_build(case, tmp_path):
    """Every optimizer kind with decay, clipping and schedules: the generated module's
    weights after two steps are bit-equal to specc.build's (float64)."""
    model = specc.loads(_spec(TRAIN_CASES[case]))
    code = emit_keras(model)
    used = type(specc.build(model, "keras").optimizer).__name__
    assert re.search(rf"class {used}\(TorchHooks, keras\.optimizers\.\w+\):", code)
    assert not [c for c in CLASSES - {used} if f"class {c}(" in code]  # the other kinds are not copied
    opt = model.train.optimizer
    assert ("class TorchSchedule" in code) == (model.train.schedule is not None)
    assert ("class TorchClip" in code) == (opt.clip_norm is not None or opt.clip_value is not None)
    assert ("class TorchDecay" in code) == bool(opt.weight_decay)
    assert re.search(rf"return {used}\(learning_rate=Torch(LR|Schedule)\(", code)
    _check_keras(model, tmp_path, case)


def test_plain_keras_training_copies_no_schedule_or_accuracy(tmp_path):
    model = specc.loads(_spec("optimizer adam(lr=0.01)", "sparse_categorical_crossentropy").replace("dense(3, activation=softmax)", "dense(3)"))
    code = emit_keras(model)
    assert "return TorchAdam(learning_rate=TorchLR(0.01), epsilon=1e-08)" in code
    assert "keras.metrics.SparseCategoricalAccuracy(name='accuracy')" in code
    for absent in ("def schedule_factor", "class TorchSchedule", "class TorchClip", "class TorchDecay", "class OptimizerPart", "SpeccAccuracy", "hparams={"):
        assert absent not in code, absent
    _check_keras(model, tmp_path, "plain")


def _accuracies(mode, y, p):
    ours, theirs = SpeccAccuracy(mode=mode), (keras.metrics.SparseCategoricalAccuracy if mode == "sparse" else keras.metrics.CategoricalAccuracy)(name="accuracy")
    for m in (ours, theirs):
        m.update_state(y, p)
    return float(ours.result()), float(theirs.result())


@pytest.mark.parametrize("mode", ["sparse", "categorical"])
@pytest.mark.parametrize("shape", [(64, 5), (8, 7, 5)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_keras_argmax_accuracy_is_the_irs(mode, shape, dtype):
    """Keras' (Sparse)CategoricalAccuracy = SpeccAccuracy (argmax, ties included), targets
    with or without a trailing 1."""
    rng = np.random.default_rng(0)
    p = rng.integers(0, 3, shape).astype(dtype)  # many ties: argmax takes the first in both
    idx = rng.integers(0, shape[-1], shape[:-1])
    y = idx if mode == "sparse" else np.eye(shape[-1])[idx]
    a, b = _accuracies(mode, y, p)
    assert a == b and 0.0 < a < 1.0
    if mode == "sparse":
        assert _accuracies(mode, idx[..., None], p) == (a, a)


def test_keras_argmax_accuracy_is_not_exact_for_many_classes_in_bfloat16():
    """Why the built-in is used only below 2⁸ classes when the outputs may be half floats:
    Keras compares the indices as floats of the output's dtype, and bfloat16 rounds 257 to
    256 — a wrong prediction counted right."""
    p = np.zeros((1, 300), "float32")
    p[0, 257] = 1.0
    p = keras.ops.cast(p, "bfloat16")
    y = np.array([256])
    ours, theirs = _accuracies("sparse", y, p)
    assert (ours, theirs) == (0.0, 1.0)
    model = specc.loads("model m { input x: float32[4]\n dense(300)\n train { loss sparse_categorical_crossentropy(from_logits=true); metrics [accuracy] } }")
    assert metric_constructs(model, half_outputs=True)[0].cls is SpeccAccuracy
    assert metric_constructs(model)[0].cls is keras.metrics.SparseCategoricalAccuracy
