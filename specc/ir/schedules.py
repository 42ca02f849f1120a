"""Learning-rate schedules.  ``t`` counts optimizer steps already taken (0 for the first
step), so the first step always uses the optimizer's ``lr``; each formula is given by
:meth:`factor` (the multiplier of the base ``lr``)."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from specc.ir.spec import Family, Spec

SCHEDULES = Family("schedule")


class ScheduleBase(Spec):
    def factor(self, t: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def lr_at(self, base_lr: float, t: int) -> float:
        return base_lr * self.factor(t)


@SCHEDULES.register
class Constant(ScheduleBase):
    """lr."""

    kind: Literal["constant"] = "constant"

    def factor(self, t: int) -> float:
        return 1.0


def _power(base: float, exponent: float) -> float:
    """``base ** exponent``, inf where Python would raise OverflowError (a growing schedule
    run long enough; the training loop reports the overflow)."""
    try:
        return base**exponent
    except OverflowError:
        return math.inf


@SCHEDULES.register
class Step(ScheduleBase):
    """lr · gamma^⌊t / step_size⌋."""

    kind: Literal["step"] = "step"
    step_size: int = Field(..., gt=0, description="optimizer steps between decays")
    gamma: float = Field(0.1, gt=0, le=1e6, description="multiplier applied at each decay")
    positional = ("step_size", "gamma")

    def factor(self, t: int) -> float:
        return _power(self.gamma, t // self.step_size)


@SCHEDULES.register
class Exponential(ScheduleBase):
    """lr · decay_rate^(t / decay_steps)  (⌊t / decay_steps⌋ with staircase)."""

    kind: Literal["exponential"] = "exponential"
    decay_steps: int = Field(..., gt=0, description="steps over which the rate decays by decay_rate")
    decay_rate: float = Field(..., gt=0, le=1e6, description="multiplier per decay_steps")
    staircase: bool = Field(False, description="decay in discrete jumps")
    positional = ("decay_steps", "decay_rate")

    def factor(self, t: int) -> float:
        p = t / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return _power(self.decay_rate, p)


@SCHEDULES.register
class Cosine(ScheduleBase):
    """Linear warm-up from 0 over ``warmup_steps``, then
    lr · ((1 − alpha) · ½(1 + cos(π · min(t', decay_steps) / decay_steps)) + alpha)
    with t' = t − warmup_steps."""

    kind: Literal["cosine"] = "cosine"
    decay_steps: int = Field(..., gt=0, description="steps from the peak to the floor")
    alpha: float = Field(0.0, ge=0, le=1, description="floor, as a fraction of lr")
    warmup_steps: int = Field(0, ge=0, description="steps of linear warm-up before the decay")
    positional = ("decay_steps",)

    def factor(self, t: int) -> float:
        if t < self.warmup_steps:
            return (t + 1) / self.warmup_steps
        t = min(t - self.warmup_steps, self.decay_steps)
        return (1.0 - self.alpha) * 0.5 * (1.0 + math.cos(math.pi * t / self.decay_steps)) + self.alpha


Schedule = SCHEDULES.field_type()
