"""Transposed convolution with the IR's output size (Keras' rule, see
``specc/ir/ops/conv_transpose.py``).  Self-contained: imports only ``torch``.

The transposed convolution's "full" result has ``(in − 1)·stride + (k − 1)·dilation + 1``
rows.  The IR crops it to its size with the smaller half of the crop at the start, or
extends it with zeros (plus the bias) at the end.  ``nn.ConvTranspose2d``'s ``padding``
crops the same amount from both sides, so an odd crop needs this module: it runs with
padding 0 (``output_padding`` extends at the end) and then slices.

It also takes its input contiguous (channels-first): torch 2.13's oneDNN transposed
convolution corrupts the heap in float32 backward for a channels-last-strided input when a
kernel side is 1 and ``output_padding`` extends that side (``double free or corruption``;
found by ``specc fuzz``), so the lowering routes that case here as well."""

from __future__ import annotations

import torch
from torch import nn


class ConvTranspose2d(nn.ConvTranspose2d):
    """``nn.ConvTranspose2d`` (padding 0) followed by a crop of the full output.

    ``crop`` is ``(top, bottom, left, right)``: rows/columns removed at each side."""

    def __init__(self, *args, crop: tuple[int, int, int, int] = (0, 0, 0, 0), **kwargs):
        super().__init__(*args, **kwargs)
        self.crop = tuple(crop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = super().forward(x.contiguous())
        top, bottom, left, right = self.crop
        return y[:, :, top : y.shape[2] - bottom, left : y.shape[3] - right]
