"""What an importer builds: the source model as a list of IR layers with the source's
names, each with its canonical weights and where each weight came from.

An importer (``keras.py``, ``torch.py``) reads a framework model and calls
:meth:`Builder.add` once per layer, in execution order, with an IR op (validated by
pydantic as it is made), the tensors it reads, its canonical weights (already converted
to the IR's layouts by the backends' own per-op converters) and, per canonical weight,
the source parameter it came from.  :mod:`specc.importers.writer` turns the builder into
spec text; the spec is then elaborated like any other (shape inference, every check).
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["ImportFailure", "Layer", "InputDecl", "Builder", "safe_name"]


class ImportFailure(Exception):
    """The source model cannot be expressed in the spec language (or cannot be read).

    ``where`` names the source layer or call; ``missing`` the feature the language lacks."""

    def __init__(self, message: str, where: str | None = None, missing: str | None = None):
        self.where = where
        self.missing = missing
        text = message if where is None else f"{where}: {message}"
        super().__init__(text)


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_RESERVED = frozenset(keyword.kwlist) | {"model", "block", "input", "output", "repeat", "train", "verify", "as", "true", "false", "none", "self"}


def safe_name(name: str) -> str:
    """A spec identifier for a source name: other characters become '_', a leading digit
    gets 'layer_' before it, reserved words get a trailing '_'."""
    out = re.sub(r"[^A-Za-z0-9_]", "_", name) or "layer"
    if out[0].isdigit():
        out = "layer_" + out
    while out.startswith("__"):
        out = out[1:]
    if out in _RESERVED:
        out += "_"
    return out


@dataclass
class InputDecl:
    name: str
    dtype: str
    dims: tuple[Any, ...]  # without the batch; None = unknown
    note: str = ""  # the source layout, e.g. "NCHW (batch, 1, 28, 28) → channels-last"
    perm: tuple[int, ...] | None = None  # source tensor = canonical.permute(perm); None: same layout


@dataclass
class Layer:
    name: str  # dotted spec path; each segment an identifier
    op: Any  # an IR Op
    inputs: list[str]  # tensor ids (a model input's name, a layer's name, "name:1", …)
    source: str  # the source layer or call, e.g. "conv1 (torch.nn.Conv2d)"
    weights: dict[str, np.ndarray] = field(default_factory=dict)  # canonical local name → array
    origins: dict[str, str] = field(default_factory=dict)  # canonical local name → source parameter
    trainable: bool = True
    src: Any = None  # the framework object its weights come from
    value: Any = None  # where the source computes this layer's output (for verify --against)

    @property
    def outputs(self) -> list[str]:
        n = self.op.n_outputs()
        return [self.name if i == 0 else f"{self.name}:{i}" for i in range(n)]

    @property
    def local(self) -> str:
        return self.name.rsplit(".", 1)[-1]


class Builder:
    """Collects the layers of one imported model."""

    def __init__(self, name: str, framework: str):
        self.name = safe_name(name)
        self.framework = framework
        self.inputs: list[InputDecl] = []
        self.layers: list[Layer] = []
        self.outputs: list[str] = []
        self.notes: list[str] = []  # report lines (layouts, conventions converted)
        self._taken: set[str] = set()

    def add_input(self, name: str, dtype: str, dims, note: str = "") -> str:
        n = self._unique(safe_name(name))
        self.inputs.append(InputDecl(n, dtype, tuple(dims), note))
        return n

    def _unique(self, path: str) -> str:
        out, i = path, 1
        while out in self._taken:
            out = f"{path}_{i}"
            i += 1
        self._taken.add(out)
        return out

    def add(self, name: str, op, inputs: list[str], source: str, weights=None, origins=None, trainable: bool = True) -> list[str]:
        """Add a layer named after the source (dots separate scopes); its output tensor ids."""
        # numbered segments (nn.Sequential / ModuleList children) stay numbers: the writer
        # makes repeats of them, or joins them to their parent's name
        path = ".".join(s if s.isdigit() else safe_name(s) for s in name.split(".") if s != "") or "layer"
        layer = Layer(self._unique(path), op, list(inputs), source, dict(weights or {}), dict(origins or {}), trainable)
        self.layers.append(layer)
        return layer.outputs
