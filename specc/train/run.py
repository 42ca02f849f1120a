"""``specc train``: data → checks → build → (init-from | resume) → epochs of training with a
checkpoint, metrics, the callbacks' decisions (best epoch, early stopping) and a progress
line after each → final table, history (JSON, CSV, TensorBoard) and curves."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console

from specc.backends import BACKENDS
from specc.compiler import as_model
from specc.extras import EnvError, default_backend, require_backend
from specc.fsutil import describe_os_error
from specc.ir.graph import Model
from specc.weights import CheckpointError, init_weights
from specc.weights import load as load_weights

from .callbacks import Callbacks, check_learning_rates, learning_rate
from .checkpoint import clean_partial, existing_epochs, latest_checkpoint, model_signature, read_checkpoint, write_checkpoint
from .lock import RunLock
from .data import Dataset, load_data
from .distributed import DistInfo, dist_from_env, init_torch_distributed
from .errors import fail
from .initfrom import merge_init
from .metrics import evaluate_outputs
from .logs import TensorBoardLog, write_csv
from .report import Progressbar, fmt_metrics, metrics_table, plot_curves

__all__ = ["TrainOptions", "TrainResult", "train", "make_trainer", "EVAL_MAX"]

EVAL_MAX = 10_000  # train-set metrics are computed on at most this many (fixed) rows


@dataclass
class TrainOptions:
    spec: Model | str | os.PathLike
    backend: str | None = None  # None: torch if installed, else keras
    data: str = "digits"
    epochs: int | None = None
    batch: int | None = None
    seed: int | None = None
    device: str | None = None
    out: str | os.PathLike | None = None
    resume: bool = False
    overwrite: bool = False
    init_from: str | os.PathLike | None = None
    allow_nonfinite: bool = False  # --init-from weights may hold NaN/inf
    amp: bool = False
    compile: bool = False
    replicas: int = 1
    quiet: bool = False
    plot: bool = True
    tensorboard: bool = False
    console: Console | None = None


@dataclass
class TrainResult:
    out: Path
    history: list[dict]
    weights: dict[str, np.ndarray] | None
    ema: dict[str, np.ndarray] | None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    best_epoch: int | None = None  # the best checkpoint's epoch (see specc.ir.callbacks)
    stopped_epoch: int | None = None  # the epoch after which early stopping ended the run
    restored_best: bool = False  # weights are the best epoch's (early_stopping restore_best)

    @property
    def final(self) -> dict:
        return self.history[-1] if self.history else {}


def make_trainer(backend: str, model: Model, weights, *, seed, device=None, amp=False, compile=False, dist=None, replicas=1):
    ema = model.train.ema
    if backend == "torch":
        from .torch_loop import TorchTrainer

        return TorchTrainer(model, weights, seed=seed, device=device, amp=amp, compile=compile, dist=dist, ema=ema)
    from .keras_loop import KerasTrainer

    return KerasTrainer(model, weights, seed=seed, device=device, amp=amp, compile=compile, replicas=replicas, ema=ema)


def _positive(name: str, v: int | None, default: int) -> int:
    if v is None:
        return default
    if v <= 0:
        raise EnvError(f"--{name} must be positive, got {v}")
    return int(v)


class _EpochHooks:
    """Called by the trainers: progress per batch, metrics + checkpoint per epoch."""

    def __init__(self, run: _Run):
        self.run = run
        self.bar = Progressbar(run.console, enabled=run.show and run.console.is_terminal)
        self.batch_mode = "async" if self.bar.enabled else None
        self.t0 = 0.0
        self.step0 = 0
        self.stop = False  # set by the callbacks after an epoch: the trainers end the run

    def epoch_begin(self, epoch: int, batches: int) -> None:
        check_learning_rates(self.run.model.train, self.run.trainer.step, batches)
        self.t0 = time.perf_counter()
        self.step0 = self.run.trainer.step if self.bar.enabled else 0
        self.bar.begin(epoch, self.run.epochs, batches, self.run.batch, len(self.run.data.train))

    def batch_end(self, index: int, loss: float, metrics: dict[str, float] | None = None) -> None:
        self.bar.advance(loss, metrics, learning_rate(self.run.model.train, self.step0 + index))

    def epoch_end(self, epoch: int) -> None:
        seconds = time.perf_counter() - self.t0
        self.bar.end()
        self.run.end_epoch(epoch, seconds)


class _Run:
    def __init__(self, opts: TrainOptions):
        self.opts = opts
        self.model = model = as_model(opts.spec)
        if opts.backend is None:
            opts.backend = default_backend("specc train")
        if opts.backend not in BACKENDS:
            raise fail(f"unknown backend {opts.backend!r}", f"choose one of: {', '.join(BACKENDS)}")
        require_backend(opts.backend, f"specc train --backend {opts.backend}")
        if model.train is None:
            raise fail(f"{model.name} has no train section: nothing to train", "add train { loss …; optimizer … } to the spec")
        cfg = model.train
        self.seed = cfg.seed if opts.seed is None else int(opts.seed)
        if not 0 <= self.seed < 2**32:
            raise EnvError(f"seed must be in [0, 2**32), got {self.seed}" + (" (the spec's train seed)" if opts.seed is None else ""), "seeds are 32-bit: use a smaller one")
        self.batch = _positive("batch", opts.batch, cfg.batch)
        self.epochs = _positive("epochs", opts.epochs, cfg.epochs)
        if not 1 <= opts.replicas <= 64:
            raise EnvError(f"--replicas must be between 1 and 64, got {opts.replicas}")
        self.dist: DistInfo = dist_from_env()
        if self.dist.active and opts.backend != "torch":
            raise fail("torchrun runs the torch backend", "use --backend torch, or run keras in one process (it spreads over local devices itself)")
        if opts.device not in (None, "cpu") and not str(opts.device).startswith("cuda"):
            raise fail(f"unknown device {opts.device!r}", "use cpu or cuda")
        if opts.resume and opts.init_from:
            raise fail("--resume and --init-from exclude each other", "--resume continues a run; --init-from starts a new one from saved weights")
        self.console = opts.console or Console(highlight=False, soft_wrap=True)
        self.show = not opts.quiet and self.dist.main
        self.out = Path(opts.out) if opts.out is not None else Path("runs") / f"{model.name}-{opts.backend}"
        if self.out.exists() and not self.out.is_dir():
            raise EnvError(f"--out {self.out} is a file", "give a folder for checkpoints and curves")
        self.sig = model_signature(model)
        self.history: list[dict] = []
        self.notes: list[str] = []
        self.callback_state: dict | None = None
        self.restore_to: tuple[dict, dict | None] | None = None  # (weights, ema) of restore_best's epoch, once seen
        self.tb: TensorBoardLog | None = None
        self.lock: RunLock | None = None

    def say(self, *lines: str) -> None:
        if self.show:
            for line in lines:
                self.console.print(line)

    # ---- set-up
    def prepare(self) -> tuple[dict, int, object | None]:
        opts, model = self.opts, self.model
        ckpt = None
        if self.dist.main:
            try:
                self.out.mkdir(parents=True, exist_ok=True)
            except FileExistsError:
                raise EnvError(f"--out {self.out} is a file", "give a folder for checkpoints and curves") from None
            except OSError as e:
                raise EnvError(f"cannot create --out {self.out}: {e.strerror}", "choose a folder you can write to") from None
            self.lock = RunLock(self.out).acquire()  # released when execute() ends
            try:
                clean_partial(self.out)
            except OSError as e:
                raise EnvError(f"cannot clean up --out {self.out}: {describe_os_error(e)}", "choose a folder you can write to") from None
        if opts.resume:
            ckpt, notes = latest_checkpoint(self.out)
            if ckpt is None:
                if notes:
                    raise fail(f"{self.out}: no usable checkpoint to resume: " + "; ".join(notes), "start a new run with --overwrite (or --init-from the weights of an older run)")
                raise fail(f"{self.out}: no checkpoint to resume", "train without --resume to start a run there (or point --out at the run)")
            for n in notes:
                self.say(f"[yellow]note:[/] passed over a damaged checkpoint: {n}")
            meta = ckpt.meta
            if meta.get("signature") != self.sig:
                raise fail(f"{ckpt.path}: the checkpoint was written for another model ({meta.get('model')}, different weights)", "resume with the spec that wrote it, or start a new run with --init-from")
            if meta.get("backend") != opts.backend:
                raise fail(f"{ckpt.path}: written by the {meta.get('backend')} backend; optimizer state does not carry over", f"resume with --backend {meta.get('backend')}, or start a new run with --init-from {ckpt.path / 'weights.safetensors'}")
            for key, mine in (("batch", self.batch), ("seed", self.seed), ("n_train", len(self.data.train)), ("world", self.dist.world)):
                if mine is not None and meta.get(key) != mine:
                    self.notes.append(f"resuming with {key} {mine}, the checkpoint's run used {meta.get(key)}: the result differs from an uninterrupted run")
            from specc.weights.io import check_against

            expected = {f"{n.name}.{w.name}": tuple(w.shape) for n, w in model.weights()}
            problems = check_against(ckpt.weights, expected) + (check_against(ckpt.ema, expected) if ckpt.ema is not None else [])
            if problems:
                raise fail(f"{ckpt.path}: the checkpoint's weights do not fit {model.name}: " + "; ".join(problems[:3]), "resume with the spec that wrote it, or start a new run with --init-from")
            self.history = list(meta.get("history", []))
            self.callback_state = meta.get("callbacks")
            self.say(f"resuming {model.name} from {ckpt.path} (epoch {ckpt.epoch}, step {meta.get('step')})")
            return ckpt.weights, ckpt.epoch, ckpt
        if existing_epochs(self.out):  # checked by every process, so all of them stop
            if not opts.overwrite:
                raise fail(f"{self.out} already holds a training run", "pass --resume to continue it, --overwrite to replace it, or choose another --out")
            if self.dist.main:
                import shutil

                for _, p in existing_epochs(self.out):
                    shutil.rmtree(p, ignore_errors=True)
        weights = init_weights(model, self.seed)
        if opts.init_from:
            from .evaluate import resolve_weights

            src = resolve_weights(opts.init_from)
            try:
                saved = load_weights(src)
            except CheckpointError as e:
                raise fail(str(e), "give a canonical checkpoint (.safetensors or .npz) written by specc") from None
            from specc.weights.io import check_values

            problems = check_values(saved, allow_nonfinite=opts.allow_nonfinite)
            if problems:
                nonfinite = any("NaN" in q for q in problems)
                raise fail(f"{src}: " + "; ".join(problems[:3]), "pass --allow-nonfinite to start from them anyway" if nonfinite else "store float32 or float64 weights")
            weights, report = merge_init(model, weights, saved)
            self.say(*report.lines(str(src)))
        return weights, 0, None

    # ---- per epoch
    def end_epoch(self, epoch: int, seconds: float) -> None:
        skeleton, arrays = self.trainer.state()  # collective under DDP: every rank calls it
        if not self.dist.main:
            return
        t = time.perf_counter()
        model, data = self.model, self.data
        w = self.trainer.get_weights()
        ema = self.trainer.ema_weights()
        tr = data.train if len(data.train) <= EVAL_MAX else data.train.take(np.arange(EVAL_MAX))
        train_m = evaluate_outputs(model, self.trainer.predict(tr.xs), tr.ys, w)
        val_m = None
        if data.val is not None:
            val_m = evaluate_outputs(model, self.trainer.predict(data.val.xs, use_ema=True), data.val.ys, ema if ema is not None else w)
        step = self.trainer.step
        lr = learning_rate(model.train, max(step - 1, 0))  # the epoch's last step
        entry = {"epoch": epoch + 1, "step": step, "seconds": round(seconds, 4), "lr": lr, "train": train_m, "val": val_m}
        self.history.append(entry)
        is_best, improved, stop = self.callbacks.after_epoch(entry)
        if improved and self.callbacks.restore is not None:
            self.restore_to = (w, ema)
        meta = {
            "model": model.name,
            "signature": self.sig,
            "backend": self.opts.backend,
            "seed": self.seed,
            "batch": self.batch,
            "epochs": self.epochs,
            "data": data.name,
            "n_train": len(data.train),
            "world": self.dist.world,
            "step": self.trainer.step,
            "ema": model.train.ema,
            "history": self.history,
            "callbacks": self.callbacks.state(),
            "state": skeleton,
        }
        rate = self.examples_per_epoch / seconds if seconds > 0 else None
        try:
            write_checkpoint(self.out, epoch + 1, meta, w, ema, arrays, keep=self.callbacks.kept_epochs())
            if is_best:  # the weights the monitor scored: the EMA ones when the spec averages
                from specc.weights import save

                save(ema if ema is not None else w, self.out / "best.safetensors", metadata={"model": model.name, "epoch": str(epoch + 1), "monitor": self.callbacks.best.monitor})
            write_csv(self.out / "history.csv", self.history)
        except OSError as e:
            kept = f"the checkpoint of epoch {epoch} is intact" if epoch else "no epoch was saved"
            raise EnvError(f"could not write the checkpoint of epoch {epoch + 1}: {describe_os_error(e)}", f"{kept}; free some space (or fix the folder), then continue with: specc train … --out {self.out} --resume") from None
        if self.tb is not None:
            self.tb.epoch(entry, rate)
        self.eval_seconds += time.perf_counter() - t
        val = f" │ val {fmt_metrics(val_m)}" if val_m else ""
        speed = f", {rate:,.0f} examples/s" if rate else ""
        mark = f"  [green]best {self.callbacks.best.monitor}[/]" if is_best else ""
        self.say(f"epoch {epoch + 1}/{self.epochs}  {fmt_metrics(train_m)}{val}  lr {lr:.3g}{mark}  [dim]({seconds:.1f} s{speed})[/]")
        if stop:
            self.hooks.stop = True
            self.say(self.callbacks.stop_message())

    # ---- the run
    def execute(self) -> TrainResult:
        try:
            return self._execute()
        finally:
            if self.lock is not None:
                self.lock.release()

    def _execute(self) -> TrainResult:
        opts = self.opts
        self.data: Dataset = load_data(self.model, opts.data)
        weights, start, ckpt = self.prepare()
        device = opts.device
        if self.dist.active:
            device = init_torch_distributed(self.dist, device)
        self.callbacks = Callbacks(self.model.train, self.data.val is not None, self.callback_state, self.history)
        self.examples_per_epoch = len(self.data.train)
        self.say(f"{self.model.name}: {self.data.note}; backend {opts.backend}, batch {self.batch}, epochs {self.epochs}, seed {self.seed}" + (f", {self.dist.world} processes" if self.dist.active else ""))
        for n in self.notes:
            self.say(f"[yellow]note:[/] {n}")
        done = TrainResult(self.out, self.history, weights, ckpt.ema if ckpt else None, best_epoch=self.callbacks.best.best_epoch, stopped_epoch=self.callbacks.stopped_epoch)
        if self.callbacks.stopped_epoch is not None:
            self.say(f"nothing to do: the run in {self.out} stopped early after epoch {self.callbacks.stopped_epoch} (early_stopping)")
            return done
        if start >= self.epochs:
            self.say(f"nothing to do: the run in {self.out} has finished {start} of {self.epochs} epochs (raise --epochs to train longer)")
            return done
        if opts.tensorboard and self.dist.main:
            self.tb = TensorBoardLog(self.out / "tensorboard")
        self.trainer = make_trainer(opts.backend, self.model, weights, seed=self.seed, device=device, amp=opts.amp, compile=opts.compile, dist=self.dist, replicas=opts.replicas)
        if self.trainer.describe():
            self.say(f"training with {self.trainer.describe()}")
        if ckpt is not None:
            if ckpt.ema is not None and self.model.train.ema:
                self.trainer.set_ema(ckpt.ema)
            try:
                notes = self.trainer.load_state(ckpt.meta["state"], ckpt.state)
            except (KeyError, IndexError, TypeError, ValueError, RuntimeError) as e:
                raise fail(f"{ckpt.path}: the optimizer state does not fit this run ({type(e).__name__}: {e})", f"start a new run with --init-from {ckpt.path / 'weights.safetensors'}") from None
            for n in notes:
                self.say(f"[yellow]note:[/] {n}")
        self.eval_seconds = 0.0
        t0 = time.perf_counter()
        self.hooks = _EpochHooks(self)
        try:
            self.trainer.fit(self.data.train, start, self.epochs, self.batch, self.hooks)
        finally:
            if self.tb is not None:
                self.tb.close()
            if self.dist.active:
                import torch.distributed as dist

                if dist.is_initialized():
                    dist.barrier()  # every rank done communicating before any tears down its connections
                    dist.destroy_process_group()
        seconds = time.perf_counter() - t0
        result = TrainResult(self.out, self.history, None, None, seconds, self.notes, best_epoch=self.callbacks.best.best_epoch, stopped_epoch=self.callbacks.stopped_epoch)
        if self.dist.main:
            result.restored_best = self.restore_best()
            result.weights = self.trainer.get_weights()
            result.ema = self.trainer.ema_weights()
            self.finish(seconds, result)
        return result

    def restore_best(self) -> bool:
        """early_stopping(restore_best=true): end with the best epoch's weights (its
        checkpoint stays the resumable state of the last epoch)."""
        best = self.callbacks.restore  # early stopping's monitor, not best_checkpoint's
        if best is None or best.best_epoch is None or best.best_epoch == self.history[-1]["epoch"]:
            return False
        if self.restore_to is not None:
            w, ema = self.restore_to
        else:  # resumed after the best epoch: read it from its kept checkpoint
            folder = self.out / "checkpoints" / f"epoch-{best.best_epoch:04d}"
            if not folder.is_dir():
                self.say(f"[yellow]note:[/] the best epoch ({best.best_epoch}) has no checkpoint left in {self.out}: keeping the last weights")
                return False
            ck = read_checkpoint(folder)
            w, ema = ck.weights, ck.ema
        self.trainer.set_weights(w)
        if ema is not None and self.model.train.ema:
            self.trainer.set_ema(ema)
        from specc.weights import save

        tag = {"model": self.model.name, "epoch": str(best.best_epoch), "restored_best": "true", "monitor": best.monitor}
        save(w, self.out / "weights.safetensors", metadata=tag)
        if ema is not None:
            save(ema, self.out / "ema.safetensors", metadata={**tag, "ema": str(self.model.train.ema)})
        self.say(f"restored the weights of epoch {best.best_epoch} (best {best.monitor} {best.best:.4f})")
        return True

    def finish(self, seconds: float, result: TrainResult) -> None:
        import json

        from specc.fsutil import atomic_write_text

        shown = self.history[-1]
        if result.restored_best:
            shown = next(h for h in self.history if h["epoch"] == self.callbacks.restore.best_epoch)
        val_label = "validation (EMA weights)" if self.model.train.ema else "validation"
        restored = shown["epoch"] if result.restored_best else None  # early stopping's best (restore_best), maybe not best_epoch
        doc = {"model": self.model.name, "backend": self.opts.backend, "data": self.data.name, "best_epoch": result.best_epoch, "stopped_epoch": result.stopped_epoch, "restored_epoch": restored, "history": self.history}
        png = None
        try:
            atomic_write_text(self.out / "history.json", json.dumps(doc, indent=1) + "\n")
            if self.opts.plot:
                png = plot_curves(self.history, self.out / "learning_curve.png", f"{self.model.name} ({self.opts.backend})")
        except OSError as e:
            raise EnvError(f"trained {self.history[-1]['epoch']} epochs, but {describe_os_error(e)}", f"the checkpoints and weights in {self.out} are intact (continue with --resume after freeing some space)") from None
        if self.opts.plot and png is None:
            self.say("[yellow]note:[/] no learning curve drawn: matplotlib is not installed (pip install 'specc[train]'); the numbers are in history.json and history.csv")
        if self.show:
            title = f"{self.model.name} after epoch {shown['epoch']}" + (" (best, restored)" if result.restored_best else "") + f" ({self.opts.backend})"
            self.console.print(metrics_table(title, [("train", shown["train"]), (val_label, shown["val"])]))
            train_s = sum(h["seconds"] for h in self.history)
            best = f", best (epoch {result.best_epoch}): {self.out / 'best.safetensors'}" if result.best_epoch else ""
            self.say(f"trained in {train_s:.1f} s (+ {self.eval_seconds:.1f} s metrics and checkpoints); weights: {self.out / 'weights.safetensors'}{best}" + (f", curves: {png}" if png else ""))


def train(opts: TrainOptions) -> TrainResult:
    """Run ``specc train`` in-process (see :class:`TrainOptions`)."""
    return _Run(opts).execute()
