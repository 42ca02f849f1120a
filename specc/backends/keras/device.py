"""Device settings for the Keras backend."""

from __future__ import annotations

import contextlib

import tensorflow as tf

__all__ = ["configure", "device_scope", "has_gpu"]


def has_gpu() -> bool:
    return bool(tf.config.list_physical_devices("GPU"))


def configure(device: str | None) -> None:
    """Validate ``device`` and make GPU math exact: no TF32, memory allocated as needed."""
    if device is None or device == "cpu":
        return
    if not device.startswith("cuda"):
        raise ValueError(f"unknown device {device!r}; use cpu or cuda")
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        raise RuntimeError("device cuda was asked for, but TensorFlow sees no GPU")
    tf.config.experimental.enable_tensor_float_32_execution(False)
    for g in gpus:
        with contextlib.suppress(RuntimeError):  # already initialised
            tf.config.experimental.set_memory_growth(g, True)


def device_scope(device: str | None):
    """Context placing Keras computation on ``device`` (cpu, cuda, cuda:N)."""
    if device is None:
        return contextlib.nullcontext()
    if device == "cpu":
        return tf.device("/CPU:0")
    idx = device.split(":")[1] if ":" in device else "0"
    return tf.device(f"/GPU:{idx}")
