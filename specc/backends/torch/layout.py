"""Torch value layouts: how a tensor inside a torch model relates to the IR's channels-last meaning.

``CANON`` (as the IR), ``CF`` (channels moved to axis 1) or ``Perm`` (a flattened
channels-first image: features in another order, folded into the next dense layer's
weights).  Shared by the planner (:mod:`.plan`) and the activation lowering
(:mod:`.activations`), which both depend on this module and not on each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Layout", "CANON", "CF", "Perm"]


@dataclass(frozen=True)
class Layout:
    kind: str  # "canon" | "cf" | "perm"
    perm: tuple[int, ...] | None = None  # for "perm": torch feature i is canonical feature perm[i]

    def to_canonical(self, a: np.ndarray) -> np.ndarray:
        """Convert a batch of values in this layout to the canonical layout (numpy)."""
        if self.kind == "cf":
            return np.moveaxis(a, 1, -1)
        if self.kind == "perm":
            return a[..., np.argsort(np.asarray(self.perm))]
        return a


CANON = Layout("canon")
CF = Layout("cf")


def Perm(perm) -> Layout:  # noqa: N802 - reads like a constructor
    return Layout("perm", tuple(int(i) for i in perm))
