"""IR activations as PyTorch function steps (each exact for the IR's definition)."""

from __future__ import annotations

from typing import Any

from .layout import CF, Layout


def torch_axis(axis: int, rank: int, layout: Layout) -> int:
    """Map an IR axis (batch = 0; ``rank`` counts non-batch axes) to the torch tensor's axis."""
    full = rank + 1
    a = axis + full if axis < 0 else axis
    if layout == CF and rank >= 2:
        if a == full - 1:
            return 1
        if a >= 1:
            return a + 1
    return a


def activation_step(spec, layout: Layout, rank: int) -> tuple[str, dict[str, Any]]:
    k = spec.kind
    if k == "relu":
        return "torch.relu", {}
    if k == "relu6":
        return "F.relu6", {}
    if k == "sigmoid":
        return "torch.sigmoid", {}
    if k == "tanh":
        return "torch.tanh", {}
    if k == "softmax":
        return "torch.softmax", {"dim": torch_axis(spec.axis, rank, layout)}
    if k == "log_softmax":
        return "torch.log_softmax", {"dim": torch_axis(spec.axis, rank, layout)}
    if k == "leaky_relu":
        return "F.leaky_relu", {"negative_slope": float(spec.alpha)}
    if k == "elu":
        return "F.elu", {"alpha": float(spec.alpha)}
    if k == "selu":
        return "F.selu", {}
    if k == "gelu":
        return "F.gelu", {"approximate": "tanh" if spec.approximate else "none"}
    if k == "silu":
        return "F.silu", {}
    if k == "softplus":
        return "F.softplus", {}
    if k == "hard_sigmoid":
        return "hard_sigmoid", {}
    raise NotImplementedError(f"activation {k} has no torch lowering")  # pragma: no cover
