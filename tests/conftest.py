"""Shared test set-up: quiet TensorFlow, import torch before tensorflow (as Keras' own
tests do), and a deterministic random generator."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# The suite runs one pytest worker per core; each worker uses both frameworks, whose thread
# pools otherwise spin against each other (measured: 10× slower).  One thread each.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

import torch  # noqa: E402 - torch before tensorflow, as Keras' own tests do

torch.set_num_threads(1)

import numpy as np
import pytest

pytest_plugins = ["pytester"]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
