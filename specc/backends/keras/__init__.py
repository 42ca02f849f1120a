"""The Keras 3 (TensorFlow) backend.  Importing it selects the TensorFlow backend for Keras,
imports TensorFlow without its start-up chatter on stderr (shown if the import fails), and
fails clearly if Keras was already set up with another backend."""

from __future__ import annotations

import os
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# TF's C++ logging: 3 hides its per-op warnings (e.g. grappler's "Not handling type DT_DOUBLE")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _import_tensorflow_quietly() -> None:
    """TensorFlow prints absl/oneDNN notices to file descriptor 2 while it loads, before any
    setting can silence them; hold them back unless the import fails."""
    if "tensorflow" in sys.modules:
        return
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # stderr replaced (pytest capture, notebooks)
        import tensorflow  # noqa: F401

        return
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), fd)
        try:
            import tensorflow  # noqa: F401
        except BaseException:
            os.dup2(saved, fd)
            sink.seek(0)
            sys.stderr.write(sink.read().decode("utf-8", errors="replace"))
            raise
        finally:
            os.dup2(saved, fd)
            os.close(saved)


def _check_keras_backend() -> None:
    import keras

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            f"specc's keras backend needs Keras on TensorFlow, but Keras runs on {keras.backend.backend()!r}; "
            "set KERAS_BACKEND=tensorflow before importing keras"
        )


_import_tensorflow_quietly()
_check_keras_backend()
