"""What ``specc.build(spec, backend="torch")`` returns: the ``nn.Module`` plus the spec's
loss, optimizer and a training step, all with the IR's semantics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from specc.backends.common import loss_uses_logits, optimizer_args
from specc.ir.graph import Model

from .lib.training import SpeccLoss, SpeccOptimizer, regularization_penalty
from .module import SpeccModule
from .plan import Plan, make_plan
from .weights import from_state_dict, to_state_dict, weight_keys

__all__ = ["TorchBundle", "build_torch", "TORCH_DTYPES"]

TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass
class TorchBundle:
    """A spec compiled for PyTorch.

    * ``model`` — the ``nn.Module`` (channels-last inputs/outputs, as the spec declares);
    * ``loss_fn(outputs, targets)`` — the spec's loss on model outputs;
    * ``compute_loss(inputs, targets)`` — forward + loss (from logits where the IR says so)
      + regularisation penalties: what training differentiates;
    * ``make_optimizer()`` — the spec's optimizer (schedule, clipping, weight decay);
    * ``train_step(inputs, targets)`` — one optimizer step; returns the loss;
    * ``get_weights()`` / ``set_weights()`` — canonical weights (framework-independent).
    """

    spec: Model
    plan: Plan
    model: SpeccModule
    device: torch.device
    dtype: torch.dtype
    optimizer: SpeccOptimizer | None = None
    _losses: list[SpeccLoss] = field(default_factory=list)
    _logit_vars: list[str | None] = field(default_factory=list)
    _reg: list[tuple[str, float, float]] = field(default_factory=list)

    def __post_init__(self):
        train = self.spec.train
        if train is not None:
            loss = train.loss
            for out in self.spec.outputs:
                logits = loss_uses_logits(self.spec, out)
                var = self.plan.logits_var(out) if logits else None
                self._logit_vars.append(var)
                self._losses.append(
                    SpeccLoss(
                        loss.kind,
                        from_logits=bool(getattr(loss, "from_logits", False)) or var is not None,
                        label_smoothing=float(getattr(loss, "label_smoothing", 0.0)),
                        delta=float(getattr(loss, "delta", 1.0)),
                    )
                )
        for node, w in self.spec.weights():
            reg = w.regularizer
            if reg is not None and (reg.l1_coef or reg.l2_coef) and w.trainable and node.trainable:
                for key in _torch_keys(self.plan, node, w.name):
                    self._reg.append((key, reg.l1_coef, reg.l2_coef))

    # ---- data
    def _tensor(self, x, *, is_float: bool) -> torch.Tensor:
        t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
        if is_float and t.dtype != self.dtype:  # (a no-op .to costs a dispatch per step)
            t = t.to(self.dtype)
        return t if t.device == self.device else t.to(self.device)

    def to_inputs(self, inputs) -> list[torch.Tensor]:
        """Accept one array, a sequence in declared order, or a mapping by input name."""
        decl = self.spec.inputs
        if isinstance(inputs, Mapping):
            inputs = [inputs[i.name] for i in decl]
        elif not isinstance(inputs, Sequence) or isinstance(inputs, (np.ndarray, torch.Tensor)):
            inputs = [inputs]
        return [self._tensor(x, is_float=i.type.is_float) for x, i in zip(inputs, decl, strict=True)]

    def to_targets(self, targets) -> list[torch.Tensor]:
        n = len(self.spec.outputs)
        if isinstance(targets, Mapping):
            targets = [targets[o] for o in self.spec.outputs]
        elif not (isinstance(targets, (list, tuple)) and len(targets) == n and all(isinstance(t, (np.ndarray, torch.Tensor)) for t in targets)):
            targets = [targets]  # one output's targets
        loss = self.spec.train.loss if self.spec.train else None
        out = []
        for t in targets:
            integer = loss is not None and loss.target == "class_index"
            out.append(self._tensor(t, is_float=not integer).long() if integer else self._tensor(t, is_float=True))
        return out

    # ---- inference and loss
    def predict(self, inputs) -> np.ndarray | tuple[np.ndarray, ...]:
        was = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                out = self.model(*self.to_inputs(inputs))
        finally:
            self.model.train(was)
        if isinstance(out, tuple):
            return tuple(o.cpu().numpy() for o in out)
        return out.cpu().numpy()

    def loss_fn(self, outputs, targets) -> torch.Tensor:
        """The spec's loss on model outputs (probabilities where the model outputs them)."""
        if isinstance(outputs, torch.Tensor):
            outputs = [outputs]
        targets = self.to_targets(targets) if not (isinstance(targets, list) and all(isinstance(t, torch.Tensor) for t in targets)) else targets
        total = None
        for fn, out, y in zip(self._probability_losses(), outputs, targets, strict=True):
            v = fn(out, y)
            total = v if total is None else total + v
        return total

    def _probability_losses(self) -> list[SpeccLoss]:
        loss = self.spec.train.loss
        return [SpeccLoss(f.kind, bool(getattr(loss, "from_logits", False)), f.label_smoothing, f.delta) for f in self._losses]

    def penalty(self) -> torch.Tensor | None:
        if not self._reg:
            return None
        params = dict(self.model.named_parameters())
        return regularization_penalty([(params[k], l1, l2) for k, l1, l2 in self._reg])

    def compute_loss(self, inputs, targets, *, with_outputs: bool = False):
        """Forward pass in the module's current mode, the spec's loss, plus penalties."""
        if self.spec.train is None:
            raise ValueError(f"{self.spec.name} has no train section: no loss to compute")
        xs = self.to_inputs(inputs)
        ys = self.to_targets(targets)
        env, preds = self.model.run_for_loss(xs)
        total = None
        for fn, pred, y in zip(self._losses, preds, ys, strict=True):
            v = fn(pred, y)
            total = v if total is None else total + v
        pen = self.penalty()
        if pen is not None:
            total = total + pen
        if with_outputs:
            return total, [env[o] for o in self.plan.outputs]
        return total

    # ---- training
    def make_optimizer(self, params=None) -> SpeccOptimizer:
        if self.spec.train is None:
            raise ValueError(f"{self.spec.name} has no train section: no optimizer to make")
        return SpeccOptimizer(self.model.parameters() if params is None else params, **optimizer_args(self.spec.train))

    def train_step(self, inputs, targets) -> float:
        """One optimizer step on one batch (training mode); returns the loss before it."""
        if self.optimizer is None:
            self.optimizer = self.make_optimizer()
        self.model.train()
        self.optimizer.zero_grad()
        loss = self.compute_loss(inputs, targets)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())

    # ---- weights
    def get_weights(self) -> dict[str, np.ndarray]:
        return from_state_dict(self.plan, self.model.state_dict())

    def set_weights(self, weights: dict[str, np.ndarray]) -> None:
        sd = self.model.state_dict()
        for k, v in to_state_dict(self.plan, weights).items():
            sd[k] = torch.from_numpy(np.asarray(v)).to(dtype=sd[k].dtype)
        self.model.load_state_dict(sd)


def _torch_keys(plan: Plan, node, wname: str) -> list[str]:
    """The state-dict keys holding the values of canonical weight ``wname`` of ``node``
    (found by following stand-ins through the lowering's converter: no weight is made).
    A penalty (Σ|w|, Σw²) of the canonical weight is then the penalty of those tensors."""
    keys = weight_keys(plan, node)[wname]
    if not keys:  # pragma: no cover - a lowering that mixes values
        raise KeyError(f"no torch parameter holds {node.name}.{wname}")
    return keys


def build_torch(model: Model, weights: dict[str, np.ndarray] | None, *, device=None, dtype: str = "float32") -> TorchBundle:
    plan = make_plan(model)
    module = SpeccModule(plan)
    tdtype = TORCH_DTYPES[dtype]
    dev = torch.device(device or "cpu")
    module.to(device=dev, dtype=tdtype)
    bundle = TorchBundle(model, plan, module, dev, tdtype)
    if weights is not None:
        bundle.set_weights(weights)
    for node in model.nodes:
        if not node.trainable:
            info = plan.nodes[node.name]
            sub: Any = module
            for seg in info.attr:
                sub = getattr(sub, seg) if not seg.isdigit() else sub._modules[seg]
            for p in sub.parameters():
                p.requires_grad_(False)
            if hasattr(sub, "frozen"):
                sub.frozen = True
    return bundle
