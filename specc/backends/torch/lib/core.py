"""PyTorch modules and functions that reproduce the IR's semantics where ``torch.nn`` differs.

This file imports only ``torch`` and ``math``: ``specc compile --to torch`` copies the
classes and functions a model uses into the generated source, so generated models never
import specc.  Each item documents the rule it implements; the IR modules in
``specc/ir/ops`` state the meaning.

Layout: inside a specc PyTorch model, image/sequence tensors flow channels-first (what
torch's kernels want); the model's inputs and outputs are channels-last, as the IR
defines, converted once at the edges.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# --------------------------------------------------------------------------- layout glue


def to_channels_first(x: torch.Tensor) -> torch.Tensor:
    """(batch, *spatial, channels) → (batch, channels, *spatial)."""
    return x.movedim(-1, 1)


def to_channels_last(x: torch.Tensor) -> torch.Tensor:
    """(batch, channels, *spatial) → (batch, *spatial, channels)."""
    return x.movedim(1, -1)


def flatten(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(1)


def hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """relu6(x + 3) / 6.  (F.hardsigmoid's backward uses a float32 1/6, even in float64.)"""
    return F.relu6(x + 3.0) / 6.0


def same_pads(size: int, k: int, s: int, d: int) -> tuple[int, int]:
    """Keras' 'same' padding of one axis: (lo, hi), the extra cell at the end."""
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def _same_pad_arg(x: torch.Tensor, kernel, stride, dilation) -> list[int]:
    """F.pad argument (last axis first) for 'same' padding of every spatial axis of x."""
    pads: list[int] = []
    spatial = x.shape[2:]
    for i in reversed(range(len(kernel))):
        lo, hi = same_pads(int(spatial[i]), kernel[i], stride[i], dilation[i])
        pads += [lo, hi]
    return pads


# --------------------------------------------------------------------------- convolutions


class PrePadded:
    """Mixin for a convolution: explicit (possibly asymmetric) padding applied before it.

    ``pad`` is an ``F.pad`` argument (last axis first: ``[left, right, top, bottom]``);
    ``same=True`` computes Keras' 'same' padding from the input size at run time (needed
    when stride > 1 and the size is not known when the model is built)."""

    def __init__(self, *args, pad: tuple[int, ...] = (), same: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.pad = tuple(pad)
        self.same = same

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.same:
            x = F.pad(x, _same_pad_arg(x, self.kernel_size, self.stride, self.dilation))
        elif self.pad:
            x = F.pad(x, self.pad)
        return super().forward(x)


class Conv1d(PrePadded, nn.Conv1d):
    """nn.Conv1d with the IR's padding (see PrePadded)."""


class Conv2d(PrePadded, nn.Conv2d):
    """nn.Conv2d with the IR's padding (see PrePadded)."""


# --------------------------------------------------------------------------- pooling


class Pool(nn.Module):
    """Max or average pooling over 1 or 2 spatial axes with the IR's padding rules.

    Padded cells never win a max (−∞) and are not counted in an average.  ``pad`` is an
    ``F.pad`` argument; ``same=True`` computes Keras' 'same' padding at run time."""

    def __init__(self, mode: str, kernel: tuple[int, ...], stride: tuple[int, ...], pad: tuple[int, ...] = (), same: bool = False):
        super().__init__()
        self.mode = mode
        self.kernel = tuple(kernel)
        self.stride = tuple(stride)
        self.pad = tuple(pad)
        self.same = same

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad = list(self.pad)
        if self.same:
            pad = _same_pad_arg(x, self.kernel, self.stride, (1,) * len(self.kernel))
        pool = F.max_pool1d if self.mode == "max" and len(self.kernel) == 1 else F.max_pool2d
        if self.mode == "max":
            if any(pad):
                x = F.pad(x, pad, value=-math.inf)
            return pool(x, self.kernel, self.stride)
        avg = F.avg_pool1d if len(self.kernel) == 1 else F.avg_pool2d
        if not any(pad):
            return avg(x, self.kernel, self.stride)
        # average of the real cells only: sum over the window / number of real cells
        summed = avg(F.pad(x, pad), self.kernel, self.stride)
        ones = torch.ones((1, 1, *x.shape[2:]), dtype=x.dtype, device=x.device)
        counts = avg(F.pad(ones, pad), self.kernel, self.stride)
        return summed / counts


# --------------------------------------------------------------------------- normalisation


class BatchNorm(nn.Module):
    """Batch normalisation with Keras' conventions.

    Training: normalise with the batch mean and biased variance; update
    ``moving = momentum·moving + (1 − momentum)·batch`` with the *biased* variance.
    Inference: use the moving statistics.  ``channel_dim`` is the channel axis of the
    input (1 for channels-first tensors, −1 for channels-last ones).  A ``frozen`` layer
    (``trainable=false`` in the spec) always runs in inference mode, as Keras does."""

    def __init__(self, num_features: int, momentum: float = 0.99, eps: float = 1e-3, center: bool = True, scale: bool = True, channel_dim: int = 1):
        super().__init__()
        self.momentum = momentum
        self.eps = eps
        self.channel_dim = channel_dim
        self.weight = nn.Parameter(torch.ones(num_features)) if scale else None
        self.bias = nn.Parameter(torch.zeros(num_features)) if center else None
        self.register_buffer("moving_mean", torch.zeros(num_features))
        self.register_buffer("moving_var", torch.ones(num_features))
        self.frozen = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dim = self.channel_dim % x.dim()
        if dim != 1:
            x = x.movedim(dim, 1)
        if self.training and not self.frozen:
            y = F.batch_norm(x, None, None, self.weight, self.bias, True, 0.0, self.eps)
            with torch.no_grad():
                dims = [d for d in range(x.dim()) if d != 1]
                var, mean = torch.var_mean(x, dim=dims, correction=0)
                self.moving_mean.mul_(self.momentum).add_(mean, alpha=1.0 - self.momentum)
                self.moving_var.mul_(self.momentum).add_(var, alpha=1.0 - self.momentum)
        else:
            y = F.batch_norm(x, self.moving_mean, self.moving_var, self.weight, self.bias, False, 0.0, self.eps)
        return y.movedim(1, dim) if dim != 1 else y


# --------------------------------------------------------------------------- merging


def add(*xs: torch.Tensor) -> torch.Tensor:
    out = xs[0]
    for x in xs[1:]:
        out = out + x
    return out


def multiply(*xs: torch.Tensor) -> torch.Tensor:
    out = xs[0]
    for x in xs[1:]:
        out = out * x
    return out


def concat(*xs: torch.Tensor, dim: int) -> torch.Tensor:
    return torch.cat(xs, dim=dim)


class LayerNorm(nn.Module):
    """Layer normalisation with optional scale and shift, over the trailing axes of
    ``shape`` or, given ``dims``, over those axes of the input (biased variance; gamma and
    beta have the shape of the normalised axes)."""

    def __init__(self, shape, eps: float = 1e-3, scale: bool = True, center: bool = True, dims: tuple[int, ...] | None = None):
        super().__init__()
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        self.eps = eps
        self.normalized_shape = shape
        self.dims = None if dims is None else tuple(dims)
        self.weight = nn.Parameter(torch.ones(shape)) if scale else None
        self.bias = nn.Parameter(torch.zeros(shape)) if center else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.dims is None:
            return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        var, mean = torch.var_mean(x, dim=self.dims, correction=0, keepdim=True)
        y = (x - mean) * torch.rsqrt(var + self.eps)
        shape = [x.shape[d] if d in self.dims else 1 for d in range(x.dim())]
        if self.weight is not None:
            y = y * self.weight.reshape(shape)
        if self.bias is not None:
            y = y + self.bias.reshape(shape)
        return y


# --------------------------------------------------------------------------- reshaping


class Reshape(nn.Module):
    """Per-example reshape (the batch axis is kept)."""

    def __init__(self, shape: tuple[int, ...]):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)


class Permute(nn.Module):
    """Permute axes; ``dims`` include the batch axis (0)."""

    def __init__(self, dims: tuple[int, ...]):
        super().__init__()
        self.dims = tuple(dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(self.dims)


class Crop(nn.Module):
    """Remove ``(lo, hi)`` cells at the ends of each spatial axis of a channels-first
    tensor (axes 2, 3, …)."""

    def __init__(self, cropping: tuple[tuple[int, int], ...]):
        super().__init__()
        self.cropping = tuple(tuple(c) for c in cropping)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        index = [slice(None), slice(None)]
        for i, (lo, hi) in enumerate(self.cropping):
            index.append(slice(lo, x.shape[2 + i] - hi))
        return x[tuple(index)]


class FeatureOrder(nn.Module):
    """Reorder the last axis: ``out[..., i] = x[..., index[i]]``."""

    def __init__(self, index: tuple[int, ...]):
        super().__init__()
        self.register_buffer("index", torch.tensor(index, dtype=torch.long), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.index_select(-1, self.index)


# --------------------------------------------------------------------------- positions


def masked_mean(x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """The mean of (batch, time, features) over the steps whose id is not 0 (padding):
    Keras' GlobalAveragePooling1D with the mask of embedding(mask_zero=true)."""
    keep = (ids != 0).unsqueeze(-1)
    return torch.where(keep, x, 0.0).sum(1) / keep.to(x.dtype).sum(1)


def positions(x: torch.Tensor) -> torch.Tensor:
    """The positions 0 … T−1 along axis 1 of every example: (batch, T) integers."""
    return torch.arange(x.shape[1], device=x.device).expand(x.shape[0], -1)


class SinusoidalEmbedding(nn.Module):
    """Fixed encodings of integer positions p: out[..., 2i] = sin(p·ω_i),
    out[..., 2i+1] = cos(p·ω_i), ω_i = base^(−2i/dim), in the module's float dtype (the
    dtype of its ``like`` buffer, which follows ``.to()`` / ``.double()``)."""

    def __init__(self, dim: int, base: float = 10000.0):
        super().__init__()
        self.dim = dim
        self.base = base
        self.omega = [base ** (-(2 * (j // 2)) / dim) for j in range(dim)]  # float64 values
        self.register_buffer("like", torch.zeros(()), persistent=False)

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        omega = torch.tensor(self.omega, dtype=self.like.dtype, device=p.device)
        angle = p.to(omega.dtype).unsqueeze(-1) * omega
        odd = torch.arange(self.dim, device=p.device) % 2 == 1
        return torch.where(odd, torch.cos(angle), torch.sin(angle))
