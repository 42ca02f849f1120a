"""The Keras 3 (TensorFlow) backend.  Importing it selects the TensorFlow backend for Keras
and quiets TensorFlow's start-up logging; it fails clearly if Keras was already set up
with another backend."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _check_keras_backend() -> None:
    import keras

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            f"specc's keras backend needs Keras on TensorFlow, but Keras runs on {keras.backend.backend()!r}; "
            "set KERAS_BACKEND=tensorflow before importing keras"
        )


_check_keras_backend()
