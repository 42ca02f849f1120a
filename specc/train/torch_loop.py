"""The PyTorch training loop on a :class:`~specc.backends.torch.bundle.TorchBundle`:
train mode, the bundle's ``compute_loss`` (the spec's loss + penalties), backward,
``SpeccOptimizer.step`` — optionally under autocast (``amp``: bfloat16 on CPU, float16 with
a GradScaler on CUDA), ``torch.compile`` and DistributedDataParallel.

EMA (spec ``ema``): after every optimizer step ``ema ← decay·ema + (1 − decay)·w`` for each
trainable parameter; non-trainable state (batch-norm moving statistics) is not averaged —
EMA weights carry the live model's statistics.
"""

from __future__ import annotations

import contextlib
import os
import warnings

import numpy as np
import torch
from torch import nn

import specc
from specc.ir.graph import Model

from .batches import epoch_batches, shard
from .data import Split
from .distributed import DistInfo
from .errors import fail
from .metrics import metric_function
from .state_io import pack, unpack

__all__ = ["TorchTrainer"]

PREDICT_BATCH = 1024


class _LossModule(nn.Module):
    """forward(inputs, targets) = the bundle's training loss, so DDP and torch.compile see
    the whole computation."""

    def __init__(self, bundle):
        super().__init__()
        self.model = bundle.model
        object.__setattr__(self, "bundle", bundle)

    def forward(self, xs: list[torch.Tensor], ys: list[torch.Tensor], with_outputs: bool = False):
        ys = ys[0] if len(ys) == 1 else ys
        if with_outputs:  # (loss, the first output) — for the progress bar's metrics
            loss, outs = self.bundle.compute_loss(xs, ys, with_outputs=True)
            return loss, outs[0].detach()
        return self.bundle.compute_loss(xs, ys)


class TorchTrainer:
    backend = "torch"

    def __init__(self, model: Model, weights: dict[str, np.ndarray], *, seed: int, device: str | None = None, amp: bool = False, compile: bool = False, dist: DistInfo | None = None, ema: float | None = None):
        self.spec = model
        self.dist = dist or DistInfo()
        self.seed = seed
        if str(device or "cpu").startswith("cuda") and not torch.cuda.is_available():
            raise fail("--device cuda, but torch sees no GPU", "use --device cpu")
        torch.manual_seed(seed + 7919 * self.dist.rank)
        self.bundle = specc.build(model, "torch", device=device, weights=weights)
        self.device = self.bundle.device
        self.optimizer = self.bundle.make_optimizer()
        self.params = [p for p in self.bundle.model.parameters() if p.requires_grad]
        runner: nn.Module = _LossModule(self.bundle)
        if self.dist.active:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            runner = DDP(runner, device_ids=ids)
        if compile:  # SPECC_COMPILE_BACKEND picks a torch.compile backend (default inductor)
            runner = torch.compile(runner, backend=os.environ.get("SPECC_COMPILE_BACKEND", "inductor"))
        self.runner = runner
        self.compiled = compile
        self.amp = amp
        self.cuda = self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda") if amp and self.cuda else None
        self.ema_decay = ema
        self.ema = [p.detach().clone() for p in self.params] if ema else None
        self.step = 0

    def describe(self) -> str:
        parts = [f"DistributedDataParallel over {self.dist.world} processes"] if self.dist.active else []
        parts += ["autocast " + ("float16" if self.cuda else "bfloat16")] if self.amp else []
        parts += ["torch.compile"] if self.compiled else []
        return ", ".join(parts)

    # ---- training
    def _autocast(self):
        if not self.amp:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.float16 if self.cuda else torch.bfloat16)

    def _batch(self, data: Split, rows: np.ndarray) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        xs = [torch.from_numpy(x[rows]) for x in data.xs]
        ys = [torch.from_numpy(y[rows]) for y in data.ys]
        if self.device.type != "cpu":
            xs = [x.to(self.device, non_blocking=True) for x in xs]
            ys = [y.to(self.device, non_blocking=True) for y in ys]
        return xs, ys

    def train_batch(self, data: Split, rows: np.ndarray, with_outputs: bool = False):
        """One optimizer step on the batch ``rows`` (this process's shard of it); returns
        the loss, or (loss, first output, rows used) ``with_outputs``."""
        part = shard(rows, self.dist.rank, self.dist.world)
        weight = len(part) * self.dist.world / len(rows)
        if len(part) == 0:  # more processes than rows: take part in the all-reduce with weight 0
            part, weight = rows[:1], 0.0
        xs, ys = self._batch(data, part)
        self.optimizer.zero_grad(set_to_none=True)
        try:
            with self._autocast():
                res = self.runner(xs, ys, with_outputs) if with_outputs else self.runner(xs, ys)
            loss, out = res if with_outputs else (res, None)
            scaled = loss * weight if weight != 1.0 else loss
            if self.scaler is not None:
                self.scaler.scale(scaled).backward()
                self.scaler.step(self.optimizer)
                self.scaler.update()
            else:
                scaled.backward()
                self.optimizer.step()
        except RuntimeError as e:  # a scalar (a scheduled lr, a layer argument) beyond float32
            if "without overflow" not in str(e):
                raise
            raise fail(
                f"step {self.step + 1}: a number overflowed the float range in torch ({e})",
                hint="use smaller hyperparameters: the learning rate (with its schedule) or a layer's argument",
            ) from None
        if self.ema is not None:
            with torch.no_grad():
                torch._foreach_mul_(self.ema, self.ema_decay)
                torch._foreach_add_(self.ema, self.params, alpha=1.0 - self.ema_decay)
        self.step += 1
        return (loss.detach(), out, part) if with_outputs else loss.detach()

    def fit(self, data: Split, start: int, end: int, batch: int, hooks) -> None:
        for epoch in range(start, end):
            batches = epoch_batches(self.seed, epoch, len(data), batch)
            hooks.epoch_begin(epoch, len(batches))
            self.bundle.model.train()
            report = getattr(hooks, "batch_mode", None)
            metrics = metric_function(self.spec) if report else None
            sums: dict[str, float] = {}
            seen = 0
            for i, rows in enumerate(batches):
                if not report:
                    self.train_batch(data, rows)
                    continue
                # shown: running loss and metrics of the batches so far (weighted by size)
                loss, out, part = self.train_batch(data, rows, with_outputs=True)
                n = len(part)
                values = {"loss": float(loss), **metrics(out.float().cpu().numpy(), data.ys[0][part])}
                seen += n
                for k, v in values.items():
                    sums[k] = sums.get(k, 0.0) + v * n
                running = {k: v / seen for k, v in sums.items()}
                hooks.batch_end(i, running.pop("loss"), running)
            hooks.epoch_end(epoch)
            if self._stop(hooks):
                break

    def _stop(self, hooks) -> bool:
        """The callbacks' decision (taken on the main process) after an epoch."""
        stop = bool(getattr(hooks, "stop", False))
        if self.dist.active and self.spec.train.early_stopping is not None:
            import torch.distributed as dist

            flag = torch.tensor([int(stop)], device=self.device if self.cuda else "cpu")
            dist.broadcast(flag, 0)
            stop = bool(flag.item())
        return stop

    # ---- inference and weights
    @contextlib.contextmanager
    def _ema_swapped(self, use: bool):
        if not use or self.ema is None:
            yield
            return
        saved = [p.detach().clone() for p in self.params]
        with torch.no_grad():
            torch._foreach_copy_(self.params, self.ema)
        try:
            yield
        finally:
            with torch.no_grad():
                torch._foreach_copy_(self.params, saved)

    def predict(self, xs: list[np.ndarray], use_ema: bool = False) -> list[np.ndarray]:
        n = len(xs[0])
        outs: list[list[np.ndarray]] = []
        with self._ema_swapped(use_ema):
            for i in range(0, n, PREDICT_BATCH):
                y = self.bundle.predict([x[i : i + PREDICT_BATCH] for x in xs])
                outs.append(list(y) if isinstance(y, tuple) else [y])
        return [np.concatenate([o[k] for o in outs]) for k in range(len(outs[0]))]

    def get_weights(self) -> dict[str, np.ndarray]:
        return self.bundle.get_weights()

    def set_weights(self, weights: dict[str, np.ndarray]) -> None:
        self.bundle.set_weights(weights)

    def ema_weights(self) -> dict[str, np.ndarray] | None:
        if self.ema is None:
            return None
        with self._ema_swapped(True):
            return self.bundle.get_weights()

    def set_ema(self, weights: dict[str, np.ndarray]) -> None:
        live = self.bundle.get_weights()
        self.bundle.set_weights(weights)
        self.ema = [p.detach().clone() for p in self.params]
        self.bundle.set_weights(live)

    def trainable_names(self) -> set[str]:
        return {f"{n.name}.{w.name}" for n, w in self.spec.weights() if n.trainable and w.trainable}

    # ---- resumable state (no pickle: tensors → safetensors, the rest → JSON)
    def state(self) -> tuple[dict, dict[str, np.ndarray]]:
        rng = torch.get_rng_state()
        if self.dist.active:
            import torch.distributed as dist

            gathered = [torch.empty_like(rng) for _ in range(self.dist.world)]
            dist.all_gather(gathered, rng) if dist.get_backend() == "gloo" else _gather_cuda(gathered, rng)
            rngs = gathered
        else:
            rngs = [rng]
        state = {"optimizer": self.optimizer.state_dict(), "step": self.step, "rng": rngs}
        if self.cuda:
            state["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        if self.scaler is not None:
            state["scaler"] = self.scaler.state_dict()
        return pack(state, _tensor_to_array, "torch")

    def load_state(self, skeleton: dict, arrays: dict[str, np.ndarray]) -> list[str]:
        notes = []
        state = unpack(skeleton, arrays, _array_to_tensor)
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = int(state["step"])
        rngs = state["rng"]
        if len(rngs) == self.dist.world:
            torch.set_rng_state(rngs[self.dist.rank])
        else:
            notes.append(f"the checkpoint has random states of {len(rngs)} process(es), this run has {self.dist.world}: dropout masks are drawn afresh")
        if self.cuda and "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
        if self.scaler is not None and "scaler" in state:
            self.scaler.load_state_dict(state["scaler"])
        return notes


def _gather_cuda(out, rng):  # pragma: no cover - needs several GPUs
    import torch.distributed as dist

    dev = torch.device("cuda", torch.cuda.current_device())
    buf = [torch.empty_like(rng, device=dev) for _ in out]
    dist.all_gather(buf, rng.to(dev))
    for o, b in zip(out, buf, strict=True):
        o.copy_(b.cpu())


def _tensor_to_array(o):
    if isinstance(o, torch.Tensor):
        t = o.detach().cpu()
        if t.dtype == torch.bfloat16:
            warnings.warn("bfloat16 optimizer state stored as float32", stacklevel=2)
            t = t.float()
        return t.numpy()
    return None


def _array_to_tensor(a: np.ndarray, kind: str | None):
    return torch.from_numpy(np.array(a))
