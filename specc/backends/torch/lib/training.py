"""Losses, optimizers, schedules and penalties with the IR's exact semantics (self-contained:
copied into generated code).  See ``specc/ir/losses.py`` and ``specc/ir/optimizers.py``."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LOSS_EPSILON = 1e-7  # probability clipping, as Keras' backend.epsilon()


class SpeccLoss(nn.Module):
    """The IR's losses, averaged over the batch ("sum over batch size").

    ``from_logits`` means ``pred`` holds logits: either the spec said so, or the model's
    output is a softmax/sigmoid and the caller passes the values before it."""

    def __init__(self, kind: str, from_logits: bool = False, label_smoothing: float = 0.0, delta: float = 1.0):
        super().__init__()
        self.kind = kind
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.delta = delta

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        k = self.kind
        if k == "mse":
            return F.mse_loss(pred, target.to(pred.dtype))
        if k == "mae":
            return F.l1_loss(pred, target.to(pred.dtype))
        if k == "huber":
            return F.huber_loss(pred, target.to(pred.dtype), delta=self.delta)
        if k == "binary_crossentropy":
            y = target.to(pred.dtype)
            if self.label_smoothing:
                y = y * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing
            if self.from_logits:
                return F.binary_cross_entropy_with_logits(pred, y)
            p = pred.clamp(LOSS_EPSILON, 1.0 - LOSS_EPSILON)
            return -(y * torch.log(p) + (1.0 - y) * torch.log(1.0 - p)).mean()
        if k == "categorical_crossentropy":
            y = target.to(pred.dtype)
            if self.from_logits:  # torch's cross_entropy with class probabilities (classes on axis 1)
                if pred.dim() > 2:
                    pred, y = pred.movedim(-1, 1), y.movedim(-1, 1)
                return F.cross_entropy(pred, y, label_smoothing=self.label_smoothing)
            if self.label_smoothing:
                y = y * (1.0 - self.label_smoothing) + self.label_smoothing / pred.shape[-1]
            p = pred / pred.sum(-1, keepdim=True)
            p = p.clamp(LOSS_EPSILON, 1.0 - LOSS_EPSILON)
            return -(y * torch.log(p)).sum(-1).mean()
        if k == "sparse_categorical_crossentropy":
            t = target.long()
            if self.from_logits:
                logits = pred
            else:  # log of clipped probabilities, renormalised by the log-softmax below
                logits = torch.log(pred.clamp(LOSS_EPSILON, 1.0 - LOSS_EPSILON))
            if pred.dim() == 2:
                return F.cross_entropy(logits, t, label_smoothing=self.label_smoothing)
            return F.cross_entropy(logits.movedim(-1, 1), t, label_smoothing=self.label_smoothing)
        if k == "kl_divergence":
            y = target.to(pred.dtype).clamp(LOSS_EPSILON, 1.0)
            p = pred.clamp(LOSS_EPSILON, 1.0)
            return (y * torch.log(y / p)).sum(-1).mean()
        raise ValueError(f"unknown loss {k}")


def regularization_penalty(terms) -> torch.Tensor:
    """Σ l1·Σ|w| + l2·Σw² over ``terms`` = [(weight, l1, l2), ...]."""
    total = None
    for w, l1, l2 in terms:
        t = 0.0
        if l1:
            t = t + l1 * w.abs().sum()
        if l2:
            t = t + l2 * w.square().sum()
        total = t if total is None else total + t
    return total


def schedule_factor(schedule: dict | None, t: int) -> float:
    """Multiplier of the base learning rate before optimizer step ``t`` (0 for the first)."""
    if not schedule or schedule["kind"] == "constant":
        return 1.0
    kind = schedule["kind"]
    if kind == "step":
        return schedule["gamma"] ** (t // schedule["step_size"])
    if kind == "exponential":
        p = t / schedule["decay_steps"]
        if schedule.get("staircase"):
            p = math.floor(p)
        return schedule["decay_rate"] ** p
    if kind == "cosine":
        warm = schedule.get("warmup_steps", 0)
        if t < warm:
            return (t + 1) / warm
        ds = schedule["decay_steps"]
        tt = min(t - warm, ds)
        alpha = schedule.get("alpha", 0.0)
        return (1.0 - alpha) * 0.5 * (1.0 + math.cos(math.pi * tt / ds)) + alpha
    raise ValueError(f"unknown schedule {kind}")


class SpeccOptimizer:
    """A torch optimizer with the IR's step: clip each gradient element to ±clip_value,
    scale all gradients by min(1, clip_norm / (global norm + 1e-6)) (``clip_grad_norm_``), decay weights
    (w ← w − lr·weight_decay·w), then the optimizer's own update — with the learning rate
    of the schedule at this step.  It exposes ``param_groups``, ``state_dict`` and
    ``load_state_dict`` like any optimizer."""

    def __init__(self, params, kind: str, lr: float, schedule: dict | None = None, clip_norm: float | None = None, clip_value: float | None = None, weight_decay: float = 0.0, hparams: dict | None = None):
        params = [p for p in params if p.requires_grad]
        hparams = dict(hparams or {})
        known = {"momentum", "dampening", "nesterov", "beta1", "beta2", "epsilon", "amsgrad", "rho", "centered", "initial_accumulator", "lr_decay"}
        if set(hparams) - known:
            raise TypeError(f"unknown optimizer parameters: {sorted(set(hparams) - known)}")
        self.kind = kind
        self.base_lr = lr
        self.schedule = schedule
        self.clip_norm = clip_norm
        self.clip_value = clip_value
        self.weight_decay = weight_decay
        self.steps = 0
        builtin_decay = kind in ("adam", "adamw") and weight_decay > 0
        if kind == "sgd":
            inner = torch.optim.SGD(params, lr=lr, momentum=hparams.get("momentum", 0.0), dampening=hparams.get("dampening", 0.0), nesterov=hparams.get("nesterov", False))
        elif kind in ("adam", "adamw"):
            betas = (hparams.get("beta1", 0.9), hparams.get("beta2", 0.999))
            cls = torch.optim.AdamW if builtin_decay else torch.optim.Adam
            extra = {"weight_decay": weight_decay} if builtin_decay else {}
            inner = cls(params, lr=lr, betas=betas, eps=hparams.get("epsilon", 1e-8), amsgrad=hparams.get("amsgrad", False), **extra)
        elif kind == "rmsprop":
            inner = torch.optim.RMSprop(params, lr=lr, alpha=hparams.get("rho", 0.99), eps=hparams.get("epsilon", 1e-8), momentum=hparams.get("momentum", 0.0), centered=hparams.get("centered", False))
        elif kind == "adagrad":
            inner = torch.optim.Adagrad(params, lr=lr, lr_decay=hparams.get("lr_decay", 0.0), initial_accumulator_value=hparams.get("initial_accumulator", 0.0), eps=hparams.get("epsilon", 1e-10))
        elif kind == "adadelta":
            inner = torch.optim.Adadelta(params, lr=lr, rho=hparams.get("rho", 0.9), eps=hparams.get("epsilon", 1e-6))
        else:
            raise ValueError(f"unknown optimizer {kind}")
        self.inner = inner
        self.manual_decay = weight_decay > 0 and not builtin_decay

    @property
    def param_groups(self):
        return self.inner.param_groups

    @property
    def lr(self) -> float:
        return self.base_lr * schedule_factor(self.schedule, self.steps)

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.inner.zero_grad(set_to_none=set_to_none)

    @torch.no_grad()
    def step(self, closure=None):
        lr = self.lr
        for g in self.inner.param_groups:
            g["lr"] = lr
        if self.clip_value is not None or self.clip_norm is not None or self.manual_decay:
            self._clip_and_decay(lr)
        out = self.inner.step(closure)
        self.steps += 1
        return out

    def _clip_and_decay(self, lr: float) -> None:
        params = [p for g in self.inner.param_groups for p in g["params"] if p.grad is not None]
        if self.clip_value is not None and params:
            torch.nn.utils.clip_grad_value_(params, self.clip_value)
        if self.clip_norm is not None and params:
            torch.nn.utils.clip_grad_norm_(params, self.clip_norm)
        if self.manual_decay:
            keep = 1.0 - lr * self.weight_decay
            for p in params:
                p.mul_(keep)

    def state_dict(self) -> dict:
        return {"inner": self.inner.state_dict(), "steps": self.steps}

    def load_state_dict(self, state: dict) -> None:
        self.inner.load_state_dict(state["inner"])
        self.steps = int(state["steps"])
