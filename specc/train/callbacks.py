"""The spec's callbacks (:mod:`specc.ir.callbacks`) during ``specc train``: after each
epoch, from the epoch's history entry — the numbers both backends report through the same
numpy code — decide whether the epoch is the best so far and whether to stop.  The
trainers only obey (``hooks.stop``), so both backends stop at the same epoch on the same
data.  Also the learning rate of a step, from the IR's formulas."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from specc.ir.callbacks import improves
from specc.ir.graph import TrainConfig

from .errors import fail

__all__ = ["Tracker", "Callbacks", "learning_rate", "check_learning_rates"]


def learning_rate(cfg: TrainConfig, t: int) -> float:
    """The learning rate of optimizer step ``t`` (0 for the first): the schedule's formula
    (:mod:`specc.ir.schedules`), and Adagrad's ``lr_decay`` (lr / (1 + t·lr_decay))."""
    opt = cfg.optimizer
    lr = cfg.schedule.lr_at(opt.lr, t) if cfg.schedule is not None else opt.lr
    decay = getattr(opt, "lr_decay", 0.0) or 0.0
    return lr / (1.0 + t * decay)


_LR_MAX = 3.4028234663852886e38  # float32's largest: what both frameworks keep a learning rate in


def check_learning_rates(cfg: TrainConfig, first: int, steps: int) -> None:
    """Refuse, before an epoch starts, a step whose learning rate (the schedule's formula) is
    not a finite float32 number: torch cannot convert it and Keras would train to NaN, so
    both backends stop here, alike, with the step named."""
    for t in range(first, first + steps):
        lr = learning_rate(cfg, t)
        if not (abs(lr) <= _LR_MAX):
            raise fail(
                f"step {t + 1}: the learning rate ({lr:.3g}, from the schedule) overflowed the float range",
                hint="use a smaller lr or a schedule that does not grow without bound (gamma / decay_rate ≤ 1)",
            )


@dataclass
class Tracker:
    """The best value of one monitor so far, and the epochs since it improved."""

    monitor: str
    mode: str
    min_delta: float = 0.0
    best: float | None = None
    best_epoch: int | None = None
    wait: int = 0

    def value(self, entry: dict) -> float:
        part = "val" if self.monitor.startswith("val_") else "train"
        return float((entry.get(part) or {})[self.monitor.removeprefix("val_") if part == "val" else self.monitor])

    def update(self, entry: dict) -> bool:
        v = self.value(entry)
        if improves(v, self.best, self.mode, self.min_delta):
            self.best, self.best_epoch, self.wait = v, int(entry["epoch"]), 0
            return True
        self.wait += 1
        return False


class Callbacks:
    """Best-checkpoint tracking (always) and early stopping (when the spec asks)."""

    def __init__(self, cfg: TrainConfig, has_val: bool, state: dict | None = None, history: list[dict] = ()):
        monitor, mode = cfg.best_monitor(has_val)
        es = cfg.early_stopping
        for c in cfg.callbacks:
            if c.monitor.startswith("val_") and not has_val:
                raise fail(
                    f"{c.kind} monitors {c.monitor}, but this run has no validation data",
                    f"give validation data (x_val, y_val, or validation_split > 0), or monitor {c.monitor.removeprefix('val_')}",
                )
        self.best = Tracker(monitor, mode)
        self.stopper = Tracker(es.monitor, es.resolved_mode(), es.min_delta) if es else None
        self.patience = es.patience if es else None
        self.restore_best = bool(es and es.restore_best)
        self.stopped_epoch: int | None = None
        if state:
            self.best = Tracker(**state["best"])
            if self.stopper is not None and state.get("stopper") and state["stopper"]["monitor"] == es.monitor:
                self.stopper = Tracker(**{**state["stopper"], "min_delta": es.min_delta})
            self.stopped_epoch = state.get("stopped_epoch")
        else:  # a checkpoint written before callbacks existed: replay its history
            for entry in history:
                try:
                    self.best.update(entry)
                    if self.stopper is not None:
                        self.stopper.update(entry)
                except (KeyError, TypeError, ValueError):
                    break

    def after_epoch(self, entry: dict) -> tuple[bool, bool, bool]:
        """(this epoch is the best so far by the best checkpoint's monitor, it is the best
        by early stopping's monitor — the epoch ``restore_best`` ends with —, training
        stops after it)."""
        is_best = self.best.update(entry)
        improved = stop = False
        if self.stopper is not None:
            improved = self.stopper.update(entry)
            stop = self.stopper.wait >= self.patience
            if stop:
                self.stopped_epoch = int(entry["epoch"])
        return is_best, improved, stop

    @property
    def restore(self) -> Tracker | None:
        """The tracker whose best epoch ``restore_best=true`` ends with: early stopping's
        own monitor (as Keras' ``restore_best_weights``), which may differ from the best
        checkpoint's (``best_checkpoint(monitor=…)``)."""
        return self.stopper if self.restore_best else None

    def kept_epochs(self) -> tuple[int, ...]:
        """Epochs whose checkpoints are never pruned: the best one, and the one
        ``restore_best`` would end with (read back after a resume)."""
        r = self.restore
        return tuple(e for e in (self.best.best_epoch, r.best_epoch if r else None) if e is not None)

    def stop_message(self) -> str:
        s = self.stopper
        return f"early stopping after epoch {self.stopped_epoch}: {s.monitor} has not improved for {s.wait} epochs (best {s.best:.4f} at epoch {s.best_epoch})"

    def state(self) -> dict:
        return {"best": asdict(self.best), "stopper": asdict(self.stopper) if self.stopper else None, "stopped_epoch": self.stopped_epoch}
