"""The IR's initialisers on PyTorch tensors (self-contained: used by generated code).
Fan-based initialisers (glorot, he, lecun, xavier, kaiming) arrive as ``variance_scaling``
with their (scale, mode, distribution), as ``specc/ir/initializers.py`` defines them.

``specc.build`` draws canonical weights with NumPy and loads them; generated standalone
code draws from the same distributions with PyTorch's generator instead, using the fans of
the canonical weight (given explicitly, since torch layouts differ from the canonical
ones).  Elementwise-independent initialisers do not depend on layout; ``orthogonal`` is
applied to the 2-D torch tensor (a transpose or a permutation of gate blocks of an
orthogonal matrix is orthogonal in the same distribution)."""

from __future__ import annotations

import math

import torch
from torch import nn

_TRUNC_STD = 0.87962566103423978


def _variance_scaling(tensor, scale, mode, distribution, fan_in, fan_out):
    denom = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[mode]
    scale = scale / max(1.0, denom)
    if distribution == "truncated_normal":
        std = math.sqrt(scale) / _TRUNC_STD
        return nn.init.trunc_normal_(tensor, 0.0, std, -2.0 * std, 2.0 * std)
    if distribution == "untruncated_normal":
        return nn.init.normal_(tensor, 0.0, math.sqrt(scale))
    limit = math.sqrt(3.0 * scale)
    return nn.init.uniform_(tensor, -limit, limit)


@torch.no_grad()
def specc_init_(tensor: torch.Tensor, kind: str, fan_in: float = 1.0, fan_out: float = 1.0, **p) -> torch.Tensor:
    """Fill ``tensor`` from the IR initialiser ``kind`` with parameters ``p``."""
    if kind == "zeros":
        return tensor.zero_()
    if kind == "ones":
        return tensor.fill_(1.0)
    if kind == "constant":
        return tensor.fill_(p.get("value", 0.0))
    if kind == "random_normal":
        return nn.init.normal_(tensor, p.get("mean", 0.0), p.get("stddev", 0.05))
    if kind == "random_uniform":
        return nn.init.uniform_(tensor, p.get("minval", -0.05), p.get("maxval", 0.05))
    if kind == "truncated_normal":
        mean, std = p.get("mean", 0.0), p.get("stddev", 0.05)
        return nn.init.trunc_normal_(tensor, mean, std, mean - 2 * std, mean + 2 * std)
    if kind == "variance_scaling":  # every fan-based initialiser, see specc/ir/initializers.py
        return _variance_scaling(tensor, p["scale"], p["mode"], p["distribution"], fan_in, fan_out)
    if kind == "orthogonal":
        flat = tensor.view(tensor.shape[0], -1) if tensor.dim() > 1 else tensor.view(1, -1)
        nn.init.orthogonal_(flat, gain=p.get("gain", 1.0))
        return tensor
    raise ValueError(f"unknown initializer {kind}")
