"""Canonical weights ⇄ the PyTorch model's ``state_dict``, through each op's converters."""

from __future__ import annotations

import numpy as np
import torch

from .plan import TORCH_OPS, Plan

__all__ = ["to_state_dict", "from_state_dict", "state_key"]


def state_key(attr: tuple[str, ...], local: str) -> str:
    return ".".join((*attr, local))


def to_state_dict(plan: Plan, weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Canonical ``{name: array}`` → ``{state_dict key: array}`` (torch layouts)."""
    model = plan.model
    out: dict[str, np.ndarray] = {}
    for node in model.nodes:
        specs = model.node_weights(node)
        if not specs:
            continue
        local = {w.name: weights[f"{node.name}.{w.name}"] for w in specs}
        info = plan.nodes[node.name]
        for k, v in TORCH_OPS[node.op.kind].to_torch(info, local).items():
            out[state_key(info.attr, k)] = np.ascontiguousarray(v)
    return out


def from_state_dict(plan: Plan, sd: dict[str, torch.Tensor | np.ndarray]) -> dict[str, np.ndarray]:
    """The inverse: a state_dict (tensors or arrays) → canonical weights."""
    model = plan.model
    out: dict[str, np.ndarray] = {}
    for node in model.nodes:
        specs = model.node_weights(node)
        if not specs:
            continue
        info = plan.nodes[node.name]
        prefix = ".".join(info.attr) + "."
        local = {
            k[len(prefix) :]: (v.detach().cpu().double().numpy() if isinstance(v, torch.Tensor) else np.asarray(v))
            for k, v in sd.items()
            if k.startswith(prefix)
        }
        conv = TORCH_OPS[node.op.kind].from_torch(info, local)
        for w in specs:
            out[f"{node.name}.{w.name}"] = np.asarray(conv[w.name], dtype=np.float64)
    return out
