"""specc — a declarative model-spec compiler.

Write a network once in a ``.spec`` file; specc validates it (:func:`load`), builds it
in PyTorch or Keras (:func:`build`), and proves both backends compute the same function
(:func:`verify`).  Framework imports are lazy: ``import specc`` and ``specc.load`` never
import torch or tensorflow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from specc.api import load, loads
from specc.errors import Diagnostic, SpecError
from specc.version import __version__

__all__ = ["load", "loads", "build", "verify", "import_model", "SpecError", "Diagnostic", "Model", "__version__"]

if TYPE_CHECKING:
    from specc.ir.graph import Model


def __getattr__(name: str) -> Any:
    if name == "Model":
        from specc.ir.graph import Model

        return Model
    if name == "build":
        from specc.compiler import build

        return build
    if name == "import_model":
        from specc.importers import import_model

        return import_model
    if name == "verify":
        from specc.verification import verify

        return verify
    raise AttributeError(f"module 'specc' has no attribute {name!r}")
