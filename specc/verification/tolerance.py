"""How close two backends must be, and why.

A comparison passes when ``max|a − b| ≤ atol + rtol · max|ref|`` over a tensor (the scale
is the tensor's largest magnitude, so tiny elements next to large ones do not make
meaningless relative errors).

**float64** (ε ≈ 2.2e-16): forward rtol 1e-10 — round-off of even deep models stays
below 1e-13, so anything above 1e-10 is a semantic difference, never rounding.  Gradients
and weights after optimizer steps: 1e-9 (a few more operations, Adam's division by
√v + ε amplifies rounding of small gradients).

**float32** (ε ≈ 1.2e-7): per layer family, the measured round-off of one layer
(dot products of length K lose about √K·ε; normalisation and recurrences a little more),
times a growth factor for the layers before it, since errors compound with depth:
``rtol = base · (1 + depth / 4)`` where depth counts weighted layers on the way.
Gradients 1e-4 · (1 + depth / 4), weights after each step 1e-4 per step (float32 loses
about 1e-7 per step per weight; optimizers like Adam normalise gradients, so a relative
gradient error of 1e-6 becomes a step error of the same size).

A ``verify { rtol …; atol … }`` section or ``--rtol/--atol`` override the forward values.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Tolerance", "forward_tolerance", "gradient_tolerance", "step_tolerance", "FAMILY_RTOL32"]

FAMILY_RTOL32 = {
    "elementwise": 2e-6,
    "shape": 1e-7,
    "pool": 2e-6,
    "dense": 1e-5,
    "conv": 1e-5,
    "norm": 2e-5,
    "rnn": 3e-5,
    "attention": 2e-5,
}


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float

    def bound(self, scale: float) -> float:
        return self.atol + self.rtol * scale


def forward_tolerance(family: str, depth: int, dtype: str, rtol: float | None = None, atol: float | None = None) -> Tolerance:
    if dtype == "float64":
        return Tolerance(rtol if rtol is not None else 1e-10, atol if atol is not None else 1e-12)
    base = FAMILY_RTOL32.get(family, 1e-5)
    return Tolerance(rtol if rtol is not None else base * (1 + depth / 4), atol if atol is not None else 1e-6)


def gradient_tolerance(depth: int, dtype: str) -> Tolerance:
    if dtype == "float64":
        return Tolerance(1e-9, 1e-12)
    return Tolerance(1e-4 * (1 + depth / 4), 1e-6)


def step_tolerance(step: int, dtype: str) -> Tolerance:
    if dtype == "float64":
        return Tolerance(1e-9 * step, 1e-12)
    return Tolerance(1e-4 * step, 1e-6)
