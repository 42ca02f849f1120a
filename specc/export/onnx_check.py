"""Run an ONNX model in onnxruntime (CPU) — the check every ONNX export passes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..train.errors import fail

__all__ = ["run_onnx"]


def run_onnx(path: Path, inputs: list[np.ndarray]) -> list[np.ndarray]:
    from specc.extras import require

    require("onnxruntime", "checking an ONNX export", "install it with pip install 'specc[export]', or pass --no-check")
    import onnxruntime as ort
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    if len(names) != len(inputs):
        raise fail(f"the ONNX model takes {len(names)} input(s), the spec declares {len(inputs)}")
    return [np.asarray(a) for a in sess.run(None, dict(zip(names, inputs, strict=True)))]
