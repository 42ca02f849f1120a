"""Optimizers: update rules and defaults follow PyTorch's ``torch.optim`` (which follow the
papers), for every backend.  The Keras backend runs specc's own Keras optimizers that
implement exactly these formulas (Keras' built-ins differ: Adam's ε placement, RMSprop's
ε inside the root and lr inside the momentum buffer, Adagrad's initial accumulator…).

Common options, applied in this order each step, identically in every backend:

1. ``clip_value``: every gradient element is clipped to [−v, v];
2. ``clip_norm``: all gradients are scaled by ``min(1, clip_norm / (‖g‖ + 1e-6))``, ‖g‖ the
   global L2 norm over every trainable parameter — PyTorch's ``clip_grad_norm_`` (Keras'
   ``global_clipnorm`` has no 1e-6; its ``clipnorm`` clips each tensor on its own);
3. ``weight_decay`` (decoupled, as AdamW / Keras): ``w ← w − lr · weight_decay · w``;
4. the optimizer's update with the (scheduled) learning rate ``lr``.

An L2 penalty in the loss (classic coupled "weight decay") is a layer regulariser:
``reg=l2(…)``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from specc.ir.spec import Family, Spec

OPTIMIZERS = Family("optimizer")
#: the largest hyperparameter: they reach the frameworks as float32 scalars, multiplied
#: together in an update (lr · weight_decay, lr / (1 − β₁ᵗ)); torch stops mid-training with a
#: RuntimeError when one overflows float32 (lr = 3.4e38 did)
MAX_HYPER = 1e6


class OptimizerBase(Spec):
    lr: float = Field(1e-3, gt=0, le=MAX_HYPER, description="learning rate (the peak, when a schedule is set)")
    weight_decay: float = Field(0.0, ge=0, le=MAX_HYPER, description="decoupled weight decay: w -= lr * weight_decay * w")
    clip_norm: float | None = Field(None, gt=0, le=MAX_HYPER, description="clip gradients to this global L2 norm")
    clip_value: float | None = Field(None, gt=0, le=MAX_HYPER, description="clip each gradient element to [-v, v]")
    positional = ("lr",)


@OPTIMIZERS.register
class SGD(OptimizerBase):
    """b ← μ·b + (1 − dampening)·g (b = g on the first step); w ← w − lr·(g + μ·b if nesterov else b)."""

    kind: Literal["sgd"] = "sgd"
    lr: float = Field(0.01, gt=0, le=MAX_HYPER, description="learning rate")
    momentum: float = Field(0.0, ge=0, lt=1, description="μ")
    dampening: float = Field(0.0, ge=0, le=1, description="damps the gradient in the momentum buffer")
    nesterov: bool = Field(False, description="Nesterov momentum (needs momentum > 0, dampening 0)")


@OPTIMIZERS.register
class Adam(OptimizerBase):
    """m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²;
    w ← w − lr/(1−β₁ᵗ) · m / (√v / √(1−β₂ᵗ) + ε)   (amsgrad: v replaced by its running max)."""

    kind: Literal["adam"] = "adam"
    beta1: float = Field(0.9, ge=0, lt=1, description="decay of the first moment")
    beta2: float = Field(0.999, ge=0, lt=1, description="decay of the second moment")
    epsilon: float = Field(1e-8, gt=0, le=MAX_HYPER, description="added to the denominator")
    amsgrad: bool = Field(False, description="use the running maximum of the second moment")


@OPTIMIZERS.register
class AdamW(Adam):
    """Adam with decoupled weight decay (default 0.01)."""

    kind: Literal["adamw"] = "adamw"
    weight_decay: float = Field(0.01, ge=0, le=MAX_HYPER, description="decoupled weight decay: w -= lr * weight_decay * w")


@OPTIMIZERS.register
class RMSprop(OptimizerBase):
    """v ← ρv + (1−ρ)g²; d = √v + ε (centered: √(v − ḡ²) + ε, ḡ ← ρḡ + (1−ρ)g);
    momentum: b ← μb + g/d, w ← w − lr·b; otherwise w ← w − lr·g/d."""

    kind: Literal["rmsprop"] = "rmsprop"
    lr: float = Field(0.01, gt=0, le=MAX_HYPER, description="learning rate")
    rho: float = Field(0.99, ge=0, lt=1, description="decay of the squared-gradient average")
    momentum: float = Field(0.0, ge=0, lt=1, description="μ")
    epsilon: float = Field(1e-8, gt=0, le=MAX_HYPER, description="added to the denominator, outside the root")
    centered: bool = Field(False, description="normalise by the variance instead of the second moment")


@OPTIMIZERS.register
class Adagrad(OptimizerBase):
    """s ← s + g²; w ← w − lr/(1 + (t−1)·lr_decay) · g / (√s + ε)."""

    kind: Literal["adagrad"] = "adagrad"
    lr: float = Field(0.01, gt=0, le=MAX_HYPER, description="learning rate")
    initial_accumulator: float = Field(0.0, ge=0, le=MAX_HYPER, description="starting value of s")
    epsilon: float = Field(1e-10, gt=0, le=MAX_HYPER, description="added to the denominator, outside the root")
    lr_decay: float = Field(0.0, ge=0, le=MAX_HYPER, description="per-step decay of the learning rate")


@OPTIMIZERS.register
class Adadelta(OptimizerBase):
    """v ← ρv + (1−ρ)g²; Δ = √(u + ε)/√(v + ε) · g; u ← ρu + (1−ρ)Δ²; w ← w − lr·Δ."""

    kind: Literal["adadelta"] = "adadelta"
    lr: float = Field(1.0, gt=0, le=MAX_HYPER, description="scale of the update")
    rho: float = Field(0.9, ge=0, lt=1, description="decay of the running averages")
    epsilon: float = Field(1e-6, gt=0, le=MAX_HYPER, description="added inside both roots")


Optimizer = OPTIMIZERS.field_type()
