"""The IR's initialisers on PyTorch tensors (self-contained: used by generated code).

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


def _vs(tensor, scale, mode, distribution, fan_in, fan_out):
    denom = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[mode]
    scale = scale / max(1.0, denom)
    if distribution == "truncated_normal":
        std = math.sqrt(scale) / _TRUNC_STD
        return nn.init.trunc_normal_(tensor, 0.0, std, -2.0 * std, 2.0 * std)
    if distribution == "untruncated_normal":
        return nn.init.normal_(tensor, 0.0, math.sqrt(scale))
    limit = math.sqrt(3.0 * scale)
    return nn.init.uniform_(tensor, -limit, limit)


_GAINS = {"linear": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3.0, "relu": math.sqrt(2.0), "selu": 0.75}


def _gain(nonlinearity, a):
    if nonlinearity == "leaky_relu":
        return math.sqrt(2.0 / (1.0 + a * a))
    return _GAINS[nonlinearity]


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
    keras_vs = {
        "glorot_uniform": (1.0, "fan_avg", "uniform"),
        "glorot_normal": (1.0, "fan_avg", "truncated_normal"),
        "he_uniform": (2.0, "fan_in", "uniform"),
        "he_normal": (2.0, "fan_in", "truncated_normal"),
        "lecun_uniform": (1.0, "fan_in", "uniform"),
        "lecun_normal": (1.0, "fan_in", "truncated_normal"),
    }
    if kind in keras_vs:
        return _vs(tensor, *keras_vs[kind], fan_in, fan_out)
    if kind == "variance_scaling":
        return _vs(tensor, p.get("scale", 1.0), p.get("mode", "fan_in"), p.get("distribution", "truncated_normal"), fan_in, fan_out)
    if kind == "xavier_uniform":
        bound = p.get("gain", 1.0) * math.sqrt(6.0 / (fan_in + fan_out))
        return nn.init.uniform_(tensor, -bound, bound)
    if kind == "xavier_normal":
        return nn.init.normal_(tensor, 0.0, p.get("gain", 1.0) * math.sqrt(2.0 / (fan_in + fan_out)))
    if kind in ("kaiming_uniform", "kaiming_normal"):
        fan = fan_in if p.get("mode", "fan_in") == "fan_in" else fan_out
        std = _gain(p.get("nonlinearity", "leaky_relu"), p.get("a", 0.0)) / math.sqrt(max(fan, 1.0))
        if kind == "kaiming_normal":
            return nn.init.normal_(tensor, 0.0, std)
        return nn.init.uniform_(tensor, -math.sqrt(3.0) * std, math.sqrt(3.0) * std)
    if kind == "orthogonal":
        flat = tensor.view(tensor.shape[0], -1) if tensor.dim() > 1 else tensor.view(1, -1)
        nn.init.orthogonal_(flat, gain=p.get("gain", 1.0))
        return tensor
    raise ValueError(f"unknown initializer {kind}")
