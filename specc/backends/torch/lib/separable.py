"""Depthwise-separable convolution: a depthwise convolution (``groups`` = input channels,
no bias) followed by a pointwise 1×1 convolution holding the only bias (see
``specc/ir/ops/depthwise.py``).  Self-contained: imports only ``torch``."""

from __future__ import annotations

import torch
from torch import nn


class SeparableConv2d(nn.Module):
    """``pointwise(depthwise(x))`` on channels-first images; the two convolutions are
    given ready-made (the depthwise one carries the padding)."""

    def __init__(self, depthwise: nn.Module, pointwise: nn.Module):
        super().__init__()
        self.depthwise = depthwise
        self.pointwise = pointwise

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))
