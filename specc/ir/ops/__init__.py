"""The layer vocabulary.  Every module in this package registers its layers in
:data:`LAYERS` when imported; importing this package imports them all."""

from __future__ import annotations

import importlib
import pkgutil

from specc.ir.ops.base import LAYERS, Op, WeightSpec

for _mod in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    if _mod not in ("base", "padding"):
        importlib.import_module(f"{__name__}.{_mod}")

#: pydantic type of "any layer" (discriminated on ``kind``)
AnyOp = LAYERS.union

__all__ = ["LAYERS", "Op", "WeightSpec", "AnyOp"]
