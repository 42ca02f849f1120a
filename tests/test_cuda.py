"""CUDA: every example spec builds, runs and verifies on a GPU.  Skipped where there is
none (the suite never requires one); run it on a GPU machine with `pytest tests/test_cuda.py`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import specc

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")]

SPECS = sorted((Path(__file__).resolve().parent.parent / "specs").glob("*.spec"))


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_torch_on_cuda_equals_cpu(spec):
    """float64 on the GPU (TF32 off) computes what the CPU computes, forward and training."""
    from specc.ir.transforms import without_dropout
    from specc.verification.data import random_inputs, random_targets, verification_weights

    model = without_dropout(specc.load(spec))
    w, _ = verification_weights(model, 0)
    rng = np.random.default_rng(0)
    x = random_inputs(model, 4, rng, "float64")
    y = random_targets(model, 4, rng, "float64")
    cpu = specc.build(model, "torch", dtype="float64", weights=w)
    gpu = specc.build(model, "torch", dtype="float64", weights=w, device="cuda")
    assert next(gpu.model.parameters()).is_cuda
    np.testing.assert_allclose(gpu.predict(x), cpu.predict(x), rtol=1e-10, atol=1e-12)
    for _ in range(2):
        cpu.train_step(x, y if len(y) > 1 else y[0])
        gpu.train_step(x, y if len(y) > 1 else y[0])
    a, b = cpu.get_weights(), gpu.get_weights()
    for k in a:
        np.testing.assert_allclose(b[k], a[k], rtol=1e-9, atol=1e-12, err_msg=k)


def _tf_has_gpu() -> bool:
    from specc.backends.keras.device import has_gpu

    return has_gpu()


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_verify_on_cuda(spec):
    if not _tf_has_gpu():
        pytest.skip("TensorFlow sees no GPU here (e.g. tensorflow-cpu): the keras side cannot run on cuda")
    report = specc.verify(spec, dtype="float32", device="cuda")
    assert report.ok, report.render_text()
