"""Exports from the keras backend: ``.keras`` (``model.save``), a TensorFlow SavedModel
(``model.export(format="tf_saved_model")``, endpoint ``serve``) and ONNX
(``model.export(format="onnx")``, which needs ``tf2onnx`` on TensorFlow)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from specc.ir.graph import Model

__all__ = ["export_keras_file", "export_savedmodel", "export_keras_onnx", "keras_reference", "run_keras_file", "run_savedmodel"]


def _model(model: Model, weights):
    import specc

    km = specc.build(model, "keras", weights=weights, compile=False)
    return km


def _call(km, inputs: list[np.ndarray]) -> list[np.ndarray]:
    y = km(inputs[0] if len(inputs) == 1 else list(inputs), training=False)
    return [np.asarray(a) for a in y] if isinstance(y, (list, tuple)) else [np.asarray(y)]


def keras_reference(model: Model, weights, inputs: list[np.ndarray]) -> list[np.ndarray]:
    return _call(_model(model, weights), inputs)


def export_keras_file(model: Model, weights, path: Path, examples: list[np.ndarray]) -> None:
    import specc

    km = specc.build(model, "keras", weights=weights)  # compiled: the file carries optimizer and loss
    km.optimizer.build(km.trainable_variables)
    km.save(str(path))


def run_keras_file(path: Path, inputs: list[np.ndarray]) -> list[np.ndarray]:
    import specc.backends.keras.lib  # noqa: F401 - registers specc's serializable classes (and imports TF quietly)

    import keras

    km = keras.saving.load_model(str(path), safe_mode=True)
    return _call(km, inputs)


def export_savedmodel(model: Model, weights, path: Path, examples: list[np.ndarray]) -> None:
    km = _model(model, weights)
    _call(km, [e[:1] for e in examples])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        km.export(str(path), format="tf_saved_model", verbose=False)


def run_savedmodel(path: Path, inputs: list[np.ndarray]) -> list[np.ndarray]:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    y = loaded.serve(*(tf.constant(x) for x in inputs))
    return [np.asarray(a) for a in y] if isinstance(y, (list, tuple)) else [np.asarray(y)]


def export_keras_onnx(model: Model, weights, path: Path, examples: list[np.ndarray]) -> None:
    from specc.extras import require

    require("tf2onnx", "specc export --to onnx --backend keras", "install it with pip install tf2onnx (or 'specc[export]'), or export with --backend torch: the same weights give the same function")
    km = _model(model, weights)
    _call(km, [e[:1] for e in examples])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        km.export(str(path), format="onnx", verbose=False)
