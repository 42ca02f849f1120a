"""Exports from the torch backend: ONNX (torch.onnx, the TorchScript-based exporter — the
torch.export-based one needs ``onnxscript``) and TorchScript (``torch.jit.trace``).

Both export the ``SpeccModule`` in eval mode: inputs and outputs are channels-last, in the
spec's order, named after the spec's inputs and outputs; the batch dimension (and every
symbolic dimension) is dynamic in ONNX."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from specc.ir.graph import Model

__all__ = ["export_torch_onnx", "export_torchscript", "torch_reference", "io_names"]


def io_names(model: Model) -> tuple[list[str], list[str]]:
    outs = [o.replace(".", "_").replace(":", "_") for o in model.outputs]
    return [i.name for i in model.inputs], outs


def _bundle(model: Model, weights):
    import specc

    b = specc.build(model, "torch", weights=weights)
    b.model.eval()
    return b


def torch_reference(model: Model, weights, inputs: list[np.ndarray]) -> list[np.ndarray]:
    y = _bundle(model, weights).predict(inputs)
    return list(y) if isinstance(y, tuple) else [y]


def _fix_transposes(path: Path) -> None:
    """The TorchScript-based exporter writes ``movedim(-1, 1)`` as a Transpose with a
    negative entry in ``perm``, which ONNX forbids: make the entries non-negative."""
    import onnx

    m = onnx.load(str(path))
    changed = False
    for node in m.graph.node:
        if node.op_type != "Transpose":
            continue
        for a in node.attribute:
            if a.name == "perm" and any(p < 0 for p in a.ints):
                r = len(a.ints)
                fixed = [p % r for p in a.ints]
                del a.ints[:]
                a.ints.extend(fixed)
                changed = True
    if changed:
        onnx.save(m, str(path))


def export_torch_onnx(model: Model, weights, path: Path, examples: list[np.ndarray], opset: int = 17) -> None:
    import torch

    bundle = _bundle(model, weights)
    ins, outs = io_names(model)
    dynamic = {}
    for name, inp in zip(ins, model.inputs, strict=True):
        dynamic[name] = {0: "batch", **{k + 1: str(d or f"{name}_{k}") for k, d in enumerate(inp.type.shape) if not isinstance(d, int)}}
    for name, out in zip(outs, model.outputs, strict=True):
        dynamic[name] = {0: "batch", **{k + 1: str(d or f"{name}_{k}") for k, d in enumerate(model.type_of(out).shape) if not isinstance(d, int)}}
    args = tuple(bundle.to_inputs(examples))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(bundle.model, args, str(path), dynamo=False, input_names=ins, output_names=outs, dynamic_axes=dynamic, opset_version=opset)
    _fix_transposes(path)


def export_torchscript(model: Model, weights, path: Path, examples: list[np.ndarray]) -> None:
    import torch

    bundle = _bundle(model, weights)
    args = tuple(bundle.to_inputs(examples))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(bundle.model, args, check_trace=False)
        traced.save(str(path))


def run_torchscript(path: Path, inputs: list[np.ndarray]) -> list[np.ndarray]:
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = torch.jit.load(str(path))
    with torch.no_grad():
        y = m(*(torch.from_numpy(x) for x in inputs))
    return [t.numpy() for t in y] if isinstance(y, tuple) else [y.numpy()]
