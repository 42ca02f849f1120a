"""Padding and output-size rules shared by convolutions and pooling.

**'same'** means Keras/TensorFlow's rule, for every backend: the output has
``ceil(in / stride)`` positions and the total padding
``max((out − 1)·stride + (k − 1)·dilation + 1 − in, 0)`` is split with the smaller half
first (``lo = total // 2``), so an odd total puts the extra row/column at the *end*.
**'valid'** pads nothing.  **'causal'** (1-D only) pads ``(k − 1)·dilation`` in front.
Explicit padding is ``p`` (both sides of every axis), ``[p_h, p_w]`` (both sides of each
axis) or ``[[top, bottom], [left, right]]``.
"""

from __future__ import annotations

import math
from typing import Any, Literal, Union

from specc.ir.types import Dim, ShapeError

PadMode = Literal["valid", "same", "causal"]
#: normalised padding: a mode, or one (lo, hi) pair per spatial axis
Padding = Union[PadMode, tuple[tuple[int, int], ...]]  # noqa: UP007


def normalize_padding(v: Any, ndim: int, allow_causal: bool) -> Padding:
    """Accept a mode, an int, a per-axis list, or a list of (lo, hi) pairs."""
    if isinstance(v, str):
        if v == "causal" and not allow_causal:
            raise ValueError("'causal' padding exists for 1-D layers only")
        if v not in ("valid", "same", "causal"):
            raise ValueError(f"'{v}' is not a padding; use valid, same{', causal' if allow_causal else ''} or a number")
        return v  # type: ignore[return-value]
    if isinstance(v, bool):
        raise ValueError("padding must be valid, same, or a number of zeros")
    if isinstance(v, int):
        v = [v] * ndim
    if isinstance(v, (list, tuple)):
        items = list(v)
        if ndim == 1 and len(items) == 2 and all(isinstance(i, int) for i in items):
            items = [items]  # conv1d: [left, right]
        if len(items) == ndim:
            pairs = []
            for it in items:
                if isinstance(it, int) and not isinstance(it, bool):
                    pairs.append((it, it))
                elif isinstance(it, (list, tuple)) and len(it) == 2 and all(isinstance(i, int) for i in it):
                    pairs.append((int(it[0]), int(it[1])))
                else:
                    break
            else:
                if any(p < 0 for pair in pairs for p in pair):
                    raise ValueError("padding must not be negative")
                return tuple(pairs)
    raise ValueError(
        f"padding must be valid, same, an integer, a list of {ndim} integers, or a list of {ndim} [lo, hi] pairs"
    )


def same_pads(size: int, k: int, s: int, d: int) -> tuple[int, int]:
    """(lo, hi) padding of 'same' for one axis of known ``size``."""
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def pads_for(padding: Padding, axis: int, size: Dim, k: int, s: int, d: int) -> tuple[int, int] | None:
    """(lo, hi) padding of one axis; None when it depends on an unknown size ('same', stride > 1)."""
    if padding == "valid":
        return 0, 0
    if padding == "causal":
        return (k - 1) * d, 0
    if padding == "same":
        if s == 1:  # independent of the size
            total = (k - 1) * d
            return total // 2, total - total // 2
        return same_pads(size, k, s, d) if isinstance(size, int) else None
    return padding[axis]  # type: ignore[index]


def conv_out(op: str, size: Dim, k: int, s: int, d: int, padding: Padding, axis: int) -> Dim:
    """Output length of a convolution/pooling window along one axis."""
    if padding == "same":
        return -(-size // s) if isinstance(size, int) else None
    if not isinstance(size, int):
        return None
    lo, hi = pads_for(padding, axis, size, k, s, d)  # type: ignore[misc]
    eff = (k - 1) * d + 1
    n = size + lo + hi - eff
    if n < 0:
        raise ShapeError(
            f"{op}: the window ({eff} wide{' with dilation' if d > 1 else ''}) does not fit the input "
            f"({size + lo + hi} after padding) on axis {axis + 1}",
            hint="use padding=same, a smaller kernel, or a larger input",
        )
    return n // s + 1


def transpose_out(size: Dim, k: int, s: int, d: int, padding: str, output_padding: int | None) -> Dim:
    """Keras' deconv_output_length (the IR's rule for transposed convolutions)."""
    if not isinstance(size, int):
        return None
    eff = k + (k - 1) * (d - 1)
    if output_padding is None:
        if padding == "valid":
            return size * s + max(eff - s, 0)
        return size * s
    pad = eff // 2 if padding == "same" else 0
    return (size - 1) * s + eff - 2 * pad + output_padding


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def prod(xs) -> int:
    return math.prod(xs)
