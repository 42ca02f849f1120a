"""Training callbacks: decisions taken after each epoch from the epoch's metrics, the same
for every backend (``specc train`` takes them in framework-free code, from the numbers
both backends report through :mod:`specc.train.metrics`).

Written in the train section as a list: ``callbacks [early_stopping(monitor=val_loss,
patience=3, min_delta=1e-3, restore_best=true), best_checkpoint(monitor=val_accuracy)]``.

**Monitors** name an entry of the epoch's history: ``loss`` or a metric of the spec
(``accuracy``, ``f1``, ``f1_micro``, …) on the training data, or the same prefixed with
``val_`` on the validation data.  ``mode=auto`` minimises losses and ``mae`` and maximises
every other metric.

**Improvement** (Keras' rule): a value improves on the best so far when it is lower than
``best − min_delta`` (mode ``min``) or higher than ``best + min_delta`` (``max``); the
first epoch always improves.

* ``early_stopping``: stop once ``patience`` epochs in a row have not improved (after the
  epoch that makes ``wait`` reach ``patience``); with ``restore_best=true`` the weights the
  run ends with (returned, saved as ``weights.safetensors``) are those of the best epoch,
  whether it stopped early or ran every epoch.
* ``best_checkpoint``: keeps the best epoch's checkpoint (never pruned) and a copy of the
  weights it was scored with as ``best.safetensors``.  Every run keeps one: without this
  callback its monitor is early stopping's, else ``val_loss`` (``loss`` when the run has
  no validation data).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from specc.ir.spec import Family, Spec, Symbol

__all__ = ["CALLBACKS", "Callback", "CallbackBase", "EarlyStopping", "BestCheckpoint", "monitor_mode", "improves"]

CALLBACKS = Family("callback")

#: metrics that get better as they fall
_LOWER_IS_BETTER = ("loss", "mae")


class CallbackBase(Spec):
    monitor: str = Field("val_loss", description="history entry watched: loss, a metric, or val_ + either")
    mode: Literal["auto", "min", "max"] = Field("auto", description="min: lower is better; max: higher; auto: from the monitor")

    @field_validator("monitor", mode="before")
    @classmethod
    def _name(cls, v):
        if isinstance(v, Symbol):
            return str(v)
        return v

    def resolved_mode(self) -> str:
        return monitor_mode(self.monitor, self.mode)


def monitor_mode(monitor: str, mode: str = "auto") -> str:
    if mode != "auto":
        return mode
    base = monitor.removeprefix("val_")
    return "min" if base in _LOWER_IS_BETTER else "max"


def improves(value: float, best: float | None, mode: str, min_delta: float = 0.0) -> bool:
    """Keras' rule: better than ``best`` by more than ``min_delta`` (the first value always is)."""
    if best is None:
        return value == value  # a NaN never improves
    return value < best - min_delta if mode == "min" else value > best + min_delta


@CALLBACKS.register
class EarlyStopping(CallbackBase):
    """Stop when the monitor has not improved for ``patience`` epochs."""

    kind: Literal["early_stopping"] = "early_stopping"
    patience: int = Field(5, ge=1, description="epochs without improvement before stopping")
    min_delta: float = Field(0.0, ge=0, description="smallest change that counts as an improvement")
    restore_best: bool = Field(False, description="end with the best epoch's weights")
    positional = ("monitor",)


@CALLBACKS.register
class BestCheckpoint(CallbackBase):
    """Keep the best epoch's checkpoint and weights (best.safetensors)."""

    kind: Literal["best_checkpoint"] = "best_checkpoint"
    positional = ("monitor",)


Callback = CALLBACKS.field_type()
