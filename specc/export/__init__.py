"""``specc export``: a spec + canonical weights → a deployable model file, checked.

====================  ===========  ==============================================
``--to``              backends     written with
====================  ===========  ==============================================
onnx                  torch, keras torch.onnx (TorchScript-based exporter) / keras
                                   ``model.export(format="onnx")`` (needs tf2onnx)
torchscript           torch        ``torch.jit.trace``
keras                 keras        ``model.save`` (a ``.keras`` file, compiled)
savedmodel            keras        ``model.export(format="tf_saved_model")``
====================  ===========  ==============================================

Every export is written to a temporary path beside the target and renamed into place,
then loaded back (ONNX in onnxruntime) and run on a seeded random batch of a size other
than the one it was traced with; its outputs must match the source framework's own to
``max|a − b| ≤ TOLERANCE · max(1, max|b|)`` (float32), else the export fails.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from specc.compiler import as_model
from specc.extras import needs
from specc.ir.graph import Model

from ..train.errors import fail
from .atomic import atomic_target

__all__ = ["export", "ExportResult", "FORMATS", "TOLERANCE", "example_inputs"]

FORMATS = {"onnx": ("torch", "keras"), "torchscript": ("torch",), "keras": ("keras",), "savedmodel": ("keras",)}
SUFFIX = {"onnx": ".onnx", "torchscript": ".pt", "keras": ".keras", "savedmodel": ""}
TOLERANCE = 1e-4
CHECK_BATCH = 3


@dataclass
class ExportResult:
    path: Path
    format: str
    backend: str
    max_abs_diff: float
    tolerance: float
    checked_with: str

    def line(self) -> str:
        return f"wrote {self.path} ({self.format} from {self.backend}); checked in {self.checked_with}: max |diff| {self.max_abs_diff:.3g} (tolerance {self.tolerance:.3g})"


def example_inputs(model: Model, batch: int, seed: int = 0, seq_len: int = 7) -> list[np.ndarray]:
    """Seeded random inputs: U(0, 1) floats; ids valid for every embedding reading them."""
    from specc.train.validate import vocab_of

    rng = np.random.default_rng([seed, batch])
    out = []
    for i in model.inputs:
        shape = (batch, *(d if isinstance(d, int) else seq_len for d in i.type.shape))
        if i.type.is_float:
            out.append(rng.random(shape).astype(np.float32))
        else:
            out.append(rng.integers(0, vocab_of(model, i.name) or 100, shape).astype(i.type.dtype))
    return out


def _default_backend(to: str) -> str:
    """The first backend that can export ``to`` and is installed (else the first)."""
    from specc.extras import BACKEND_MODULES, installed

    for b in FORMATS[to]:
        if all(installed(m) for m in BACKEND_MODULES[b]):
            return b
    return FORMATS[to][0]


def require_for_export(to: str, backend: str, check: bool) -> None:
    """Every package ``--to to --backend backend`` needs is installed (else exit 2, naming it)."""
    from specc.extras import require, require_backend

    purpose = f"specc export --to {to}"
    require_backend(backend, f"{purpose} (from the {backend} backend)")
    if to == "onnx":
        if backend == "torch":
            require("onnx", purpose)
        else:
            require("tf2onnx", f"{purpose} --backend keras", "install it with pip install tf2onnx (or 'specc[export]'), or export with --backend torch: the same weights give the same function")
        if check:
            require("onnxruntime", f"checking an ONNX export", "install it with pip install 'specc[export]', or pass --no-check")


def export(spec: Model | str | os.PathLike, weights: str | os.PathLike | dict, to: str, out: str | os.PathLike, backend: str | None = None, *, check: bool = True, allow_nonfinite: bool = False) -> ExportResult:
    """Export ``spec`` with ``weights`` (checkpoint path or canonical dict) to ``out``."""
    model = as_model(spec)
    if to not in FORMATS:
        raise fail(f"unknown export format {to!r}", f"choose one of: {', '.join(FORMATS)}")
    backend = backend or _default_backend(to)
    if backend not in FORMATS[to]:
        raise fail(f"--to {to} exports from the {' or '.join(FORMATS[to])} backend, not {backend}", f"use --backend {FORMATS[to][0]}")
    require_for_export(to, backend, check)
    if isinstance(weights, dict):
        w = weights
    else:
        from specc.train.evaluate import load_checked

        w = load_checked(model, weights, allow_nonfinite=allow_nonfinite)
    out = Path(out)
    if to == "keras" and out.suffix != ".keras":
        raise fail(f"-o {out}: a Keras model file must end in .keras", f"use -o {out.with_suffix('.keras')}")
    examples = example_inputs(model, 2)
    writer, runner, checked = _plan(to, backend)
    with needs(f"specc export --to {to}"), atomic_target(out, directory=(to == "savedmodel")) as tmp:
        writer(model, w, tmp, examples)
        probe = example_inputs(model, CHECK_BATCH, seed=1)
        diff = 0.0
        if check:
            got = runner(tmp, probe)
            ref = _reference(backend, model, w, probe)
            diff, scale = _max_diff(got, ref)
            if diff > TOLERANCE * scale:
                raise fail(f"the exported {to} model disagrees with {backend}: max |diff| {diff:.3g} > {TOLERANCE * scale:.3g}", "please report it with the spec; the file was not written")
    return ExportResult(out, to, backend, diff, TOLERANCE, checked if check else "(not checked)")


def _max_diff(got: list[np.ndarray], ref: list[np.ndarray]) -> tuple[float, float]:
    if len(got) != len(ref):
        raise fail(f"the exported model returns {len(got)} output(s), the spec declares {len(ref)}")
    diff, scale = 0.0, 1.0
    for a, b in zip(got, ref, strict=True):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        if a.shape != b.shape:
            raise fail(f"the exported model's output has shape {a.shape}, the framework's {b.shape}")
        diff = max(diff, float(np.max(np.abs(a - b))) if a.size else 0.0)
        scale = max(scale, float(np.max(np.abs(b))) if b.size else 0.0)
    return diff, scale


def _reference(backend: str, model: Model, w, inputs):
    if backend == "torch":
        from .torch_export import torch_reference

        return torch_reference(model, w, inputs)
    from .keras_export import keras_reference

    return keras_reference(model, w, inputs)


def _plan(to: str, backend: str):
    if to == "onnx":
        from .onnx_check import run_onnx

        if backend == "torch":
            from .torch_export import export_torch_onnx

            return export_torch_onnx, run_onnx, "onnxruntime"
        from .keras_export import export_keras_onnx

        return export_keras_onnx, run_onnx, "onnxruntime"
    if to == "torchscript":
        from .torch_export import export_torchscript, run_torchscript

        return export_torchscript, run_torchscript, "torch.jit.load"
    if to == "keras":
        from .keras_export import export_keras_file, run_keras_file

        return export_keras_file, run_keras_file, "keras.saving.load_model"
    from .keras_export import export_savedmodel, run_savedmodel

    return export_savedmodel, run_savedmodel, "tf.saved_model.load"
