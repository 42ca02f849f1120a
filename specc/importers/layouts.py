"""Layouts of traced torch values relative to the spec's channels-last canonical tensors
(``torch_value = canonical.permute(perm)``), shared by the torch importer's modules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["V", "_cf", "_ident", "_canon_shape"]


@dataclass
class V:
    """A traced value."""

    kind: str  # "t" tensor | "size" | "int" | "rnn" | "rnn_state" | "state" | "bi_last" | "pooled" | "tuple"
    tid: str | None = None
    perm: tuple[int, ...] = ()
    shape: tuple[int, ...] = ()  # torch shape (batch included)
    data: Any = None
    extra: dict = field(default_factory=dict)


def _cf(rank: int) -> tuple[int, ...]:
    """perm of a channels-first tensor of ``rank`` (batch included)."""
    return (0, rank - 1, *range(1, rank - 1))


def _ident(rank: int) -> tuple[int, ...]:
    return tuple(range(rank))


def _canon_shape(v: V) -> tuple[int, ...]:
    out = [0] * len(v.shape)
    for i, c in enumerate(v.perm):
        out[c] = v.shape[i]
    return tuple(out)
