"""Model → model transformations."""

from __future__ import annotations

from specc.ir.graph import Model, Node

__all__ = ["without_dropout"]


def _no_dropout(op):
    updates = {}
    if op.kind == "dropout":
        updates["rate"] = 0.0
    for field in ("dropout", "recurrent_dropout"):
        if field in type(op).model_fields and getattr(op, field):
            updates[field] = 0.0
    if op.kind == "bidirectional":
        updates["layer"] = _no_dropout(op.layer)
    return op.model_copy(update=updates) if updates else op


def without_dropout(model: Model) -> Model:
    """The same model with every dropout rate set to 0 (for comparing training steps:
    random masks cannot be matched across frameworks)."""
    nodes = tuple(n.model_copy(update={"op": _no_dropout(n.op)}) for n in model.nodes)
    return model.model_copy(update={"nodes": nodes})
