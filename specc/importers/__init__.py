"""Bring existing models in: a Keras model or a PyTorch module → a spec, its canonical
weights and a report of the mapping (``specc import``, :func:`import_model`).

The pipeline: the framework importer (:mod:`.keras`, :mod:`.torch`) reads the model into a
:class:`~.graph.Builder` (IR ops with the source's names); :mod:`.writer` writes it as spec
text in ``specc fmt``'s form; the text is elaborated like any spec (so everything
``specc check`` checks holds); the source's weights are read into canonical weights through
the backends' own per-op converters; :class:`ImportReport` states the mapping.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from specc.importers.graph import Builder, ImportFailure

__all__ = ["import_model", "ImportResult", "ImportReport", "ImportFailure", "load_source", "InputSpec", "parse_input"]


@dataclass
class InputSpec:
    """``--input NAME:DTYPE[DIMS]``: an example input for tracing (dims without the batch,
    in the source's own layout)."""

    name: str
    dtype: str
    dims: tuple[int, ...]


def parse_input(text: str) -> InputSpec:
    import re

    m = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*([a-z0-9]+)\s*\[([0-9,\s]*)\]\s*", text)
    if not m:
        raise ImportFailure(f"--input {text!r}: expected NAME:DTYPE[DIMS], e.g. x:float32[1,28,28]")
    dtype = m.group(2)
    if dtype not in ("float32", "float64", "float16", "bfloat16", "int32", "int64", "bool"):
        raise ImportFailure(f"--input {text!r}: unknown dtype {dtype!r} (float32, float64, int32, int64, …)")
    dims = tuple(int(d) for d in m.group(3).replace(" ", "").split(",") if d)
    if any(d <= 0 for d in dims) or any(d > 1 << 20 for d in dims):
        raise ImportFailure(f"--input {text!r}: dimensions must be positive and reasonable")
    return InputSpec(m.group(1), dtype, dims)


@dataclass
class ImportReport:
    framework: str
    source: str
    inputs: list[str] = field(default_factory=list)  # "x: NCHW (batch, 1, 28, 28) → float32[28, 28, 1]"
    weights: list[tuple[str, str, str]] = field(default_factory=list)  # (source parameter(s), canonical weight(s), rule)
    notes: list[str] = field(default_factory=list)

    def render(self) -> str:
        lines = [f"imported {self.source} ({self.framework})", "inputs:"]
        lines += [f"  {i}" for i in self.inputs]
        if self.notes:
            lines.append("conventions made explicit:")
            lines += [f"  {n}" for n in self.notes]
        if self.weights:
            lines.append("weights (source → canonical):")
            w = max(len(s) for s, _, _ in self.weights)
            lines += [f"  {s:<{w}}  →  {c}" + (f"   ({r})" if r else "") for s, c, r in self.weights]
        return "\n".join(lines)


@dataclass
class ImportResult:
    model: Any  # specc.ir.graph.Model
    weights: dict[str, np.ndarray]
    text: str  # the spec, formatted
    report: ImportReport
    source: Any = None  # the framework model
    mapping: dict[str, str] = field(default_factory=dict)  # IR node name → source layer/module path
    input_perms: dict[str, tuple[int, ...]] = field(default_factory=dict)  # source input = canonical.permute(perm)
    layers: dict[str, Any] = field(default_factory=dict)  # IR node name → importer Layer (src, value)
    traced: Any = None  # torch: the fx GraphModule the import traced

    def to_canonical(self, name: str, x):
        """A source-layout input array → the spec's (channels-last) layout."""
        perm = self.input_perms.get(name)
        return x if perm is None else np.transpose(x, np.argsort(perm))


def load_source(src: str | os.PathLike) -> Any:
    """A source model from a path: ``.keras``, a Keras JSON config, or ``file.py:NAME``
    (an ``nn.Module`` subclass, or a callable returning an ``nn.Module`` / ``keras.Model``,
    constructed without arguments).  The file is the user's own Python, imported as such."""
    s = str(src)
    if s.endswith(".keras") or s.endswith(".json"):
        if not os.path.exists(s):
            raise ImportFailure(f"{s}: no such file")
        if s.endswith(".keras"):
            from specc.weights.io import CheckpointError
            from specc.weights.keras_file import inspect_keras_zip

            try:  # a damaged zip, non-float or non-finite weights: refused before Keras reads it
                inspect_keras_zip(s)
            except CheckpointError as e:
                raise ImportFailure(str(e)) from None
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        try:
            import keras
        except ImportError:
            raise ImportFailure("importing a Keras model needs Keras: pip install 'specc[keras]'") from None
        try:
            if s.endswith(".keras"):
                return keras.models.load_model(s, compile=False)
            with open(s, encoding="utf-8") as f:
                return keras.models.model_from_json(f.read())
        except Exception as e:  # noqa: BLE001 - any reader error, reported
            raise ImportFailure(f"{s}: cannot load the Keras model ({type(e).__name__}: {e})") from None
    if ":" in s:
        path, name = s.rsplit(":", 1)
        if not path.endswith(".py") or not os.path.exists(path):
            raise ImportFailure(f"{s}: expected FILE.py:NAME with an existing file")
        import importlib.util
        import sys

        mod_name = "_specc_user_" + os.path.splitext(os.path.basename(path))[0].replace("-", "_")
        spec = importlib.util.spec_from_file_location(mod_name, path)
        if spec is None or spec.loader is None:
            raise ImportFailure(f"{path}: cannot import this file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as e:  # noqa: BLE001 - the user's file raised
            raise ImportFailure(f"{path}: importing the file failed: {type(e).__name__}: {e}") from None
        if not hasattr(module, name):
            raise ImportFailure(f"{path} has no {name!r}")
        obj = getattr(module, name)
        try:
            made = obj() if callable(obj) else obj
        except Exception as e:  # noqa: BLE001
            raise ImportFailure(f"{s}: constructing it without arguments failed: {type(e).__name__}: {e}") from None
        return made
    raise ImportFailure(f"{s}: expected a .keras file, a Keras .json config or FILE.py:NAME")


def _framework(obj) -> str:
    mods = [c.__module__ for c in type(obj).__mro__]
    if any(m.startswith("torch.nn") for m in mods):
        return "torch"
    if any(m.startswith("keras") for m in mods):
        return "keras"
    raise ImportFailure(f"{type(obj).__name__} is neither a torch.nn.Module nor a keras.Model")


def import_model(obj_or_path, inputs: list[InputSpec | str] | None = None, name: str | None = None) -> ImportResult:
    """Import a Keras model or PyTorch module (or a path, see :func:`load_source`) as a spec.

    ``inputs`` (PyTorch only: needed for tracing) gives each input's dtype and dimensions
    without the batch, in the source's own layout (``x:float32[1,28,28]`` for NCHW)."""
    from specc.importers.writer import write_spec

    obj = load_source(obj_or_path) if isinstance(obj_or_path, (str, os.PathLike)) else obj_or_path
    src_name = str(obj_or_path) if isinstance(obj_or_path, (str, os.PathLike)) else type(obj).__name__
    fw = _framework(obj)
    ins = [parse_input(i) if isinstance(i, str) else i for i in (inputs or [])]
    if fw == "keras":
        from specc.importers.keras import import_keras

        if ins:
            raise ImportFailure("--input is for PyTorch sources; a Keras model declares its inputs")
        builder, sources = import_keras(obj)
    else:
        from specc.importers.torch import import_torch

        builder, sources = import_torch(obj, ins)
    if name:
        from specc.importers.graph import safe_name

        builder.name = safe_name(name)
    text = write_spec(builder, [f"imported from {src_name} ({fw}) by specc import"])
    from specc.api import loads
    from specc.errors import SpecError

    try:
        model = loads(text, f"<import of {src_name}>")
    except SpecError as e:  # the importer wrote something the language refuses
        raise ImportFailure("the imported spec does not check:\n" + e.render() + "\n" + text) from None
    if len(model.nodes) != len(builder.layers):  # pragma: no cover - the writer keeps every layer
        raise ImportFailure("internal: the written spec lost layers")
    report = ImportReport(fw, src_name, notes=list(builder.notes))
    for decl in builder.inputs:
        t = model.type_of(decl.name)
        dims = ", ".join("?" if d is None else str(d) for d in t.shape)
        report.inputs.append(f"{decl.name}: {t.dtype}[{dims}]" + (f"  ← {decl.note}" if decl.note else "  (same layout as the source)"))
    weights: dict[str, np.ndarray] = {}
    mapping: dict[str, str] = {}
    for node, layer in zip(model.nodes, builder.layers, strict=True):
        if node.op.kind != layer.op.kind:  # pragma: no cover - same order by construction
            raise ImportFailure(f"internal: node {node.name} is {node.op.kind}, expected {layer.op.kind}")
        src = layer.src
        mapping[node.name] = layer.source
        if src is None:
            continue
        if fw == "keras":
            from specc.importers.keras import keras_weights

            got, origins = keras_weights(model, node, src)
            for k, v in got.items():
                weights[f"{node.name}.{k}"] = v
                report.weights.append((origins[k], f"{node.name}.{k}", "same layout"))
        else:
            from specc.importers.torch import torch_weights

            got, (keys, rule) = torch_weights(model, node, src)
            for k, v in got.items():
                weights[f"{node.name}.{k}"] = v
            if got:
                report.weights.append((", ".join(keys), ", ".join(f"{node.name}.{k}" for k in got), rule))
    expected = {f"{n.name}.{w.name}": w.shape for n, w in model.weights()}
    for k, shape in expected.items():
        if k not in weights or tuple(weights[k].shape) != tuple(shape):
            raise ImportFailure(f"internal: weight {k} {shape} not filled from the source")
    perms = {d.name: tuple(d.perm) for d in builder.inputs if d.perm is not None and tuple(d.perm) != tuple(range(len(d.perm)))}
    layers = {node.name: layer for node, layer in zip(model.nodes, builder.layers, strict=True)}
    return ImportResult(model, weights, text, report, obj, mapping, perms, layers, getattr(builder, "traced", None))
