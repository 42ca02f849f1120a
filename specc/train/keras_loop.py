"""Keras training: ``model.fit`` on the compiled model ``specc.build`` returns, under a
``tf.distribute`` strategy, fed specc's batches through a ``tf.data`` pipeline over the same
per-epoch permutations the torch loop uses — so both backends see identical batches.

EMA (spec ``ema``): after every optimizer step ``ema ← decay·ema + (1 − decay)·w`` for each
trainable variable, starting from the initial weights — the torch loop's formula, computed
inside the optimizer step (Keras' ``use_ema`` slots, see :func:`_install_ema`); batch-norm
moving statistics are not averaged — EMA weights carry the live model's statistics.
"""

from __future__ import annotations

import contextlib

import numpy as np

import specc.backends.keras  # noqa: F401 - first: TensorFlow without its start-up chatter

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import specc
from specc.ir.graph import Model

from .batches import epoch_permutation, num_batches
from .data import Split
from .distributed import keras_strategy
from .errors import fail

__all__ = ["KerasTrainer", "make_dataset"]

PREDICT_BATCH = 1024
#: ``--amp``: Keras' mixed precision with bfloat16 computation (float32 weights, optimizer
#: and loss) on every device — bfloat16 has float32's range, so no loss scaling is needed
AMP_POLICY = "mixed_bfloat16"


def _xy(data: Split):
    xs = tuple(data.xs) if len(data.xs) > 1 else data.xs[0]
    ys = tuple(data.ys) if len(data.ys) > 1 else data.ys[0]
    return xs, ys


def make_dataset(data: Split, seed: int, start: int, end: int, batch: int) -> tf.data.Dataset:
    """Epochs ``start``…``end − 1`` of specc's batches, one dataset element per batch."""
    n = len(data)
    perms = np.stack([epoch_permutation(seed, e, n) for e in range(start, end)]).astype(np.int64)
    xs, ys = _xy(data)
    xs_t = tf.nest.map_structure(tf.constant, xs)
    ys_t = tf.nest.map_structure(tf.constant, ys)

    def gather(idx):
        return tf.nest.map_structure(lambda a: tf.gather(a, idx), xs_t), tf.nest.map_structure(lambda a: tf.gather(a, idx), ys_t)

    ds = tf.data.Dataset.from_tensor_slices(perms).flat_map(lambda p: tf.data.Dataset.from_tensor_slices(p).batch(batch))
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    options.deterministic = True
    return ds.map(gather).prefetch(2).with_options(options)


class _EpochHooks(keras.callbacks.Callback):
    def __init__(self, hooks, batches: int):
        super().__init__()
        self.hooks, self.batches = hooks, batches

    def on_epoch_begin(self, epoch, logs=None):
        self.hooks.epoch_begin(epoch, self.batches)

    def on_epoch_end(self, epoch, logs=None):
        self.hooks.epoch_end(epoch)
        if getattr(self.hooks, "stop", False):  # the callbacks' decision (specc.train.callbacks)
            self.model.stop_training = True


class _BatchHooks(keras.callbacks.Callback):
    """Per-batch reports (the progress bar): dispatched asynchronously by Keras unless
    the hooks ask for ``batch_mode = "sync"``, so they do not stall the training steps."""

    def __init__(self, hooks):
        super().__init__()
        self.hooks = hooks
        self.async_safe = getattr(hooks, "batch_mode", None) != "sync"

    def on_train_batch_end(self, batch, logs=None):
        logs = dict(logs or {})
        loss = float(logs.pop("loss", float("nan")))
        self.hooks.batch_end(batch, loss, {k: float(v) for k, v in logs.items()})


def _install_ema(opt, decay: float) -> None:
    """EMA of the trainable variables inside the optimizer's step (graph, no callback):
    Keras' own ``use_ema`` machinery with the IR's formula — no special first step, the
    average starting from the initial weights."""
    opt.use_ema = True
    opt.ema_momentum = decay
    opt.ema_overwrite_frequency = None

    def update(trainable_variables):
        pairs = [(a.value, v.value if isinstance(v, keras.Variable) else v) for a, v in zip(opt._model_variables_moving_average, trainable_variables, strict=True)]

        def merged(distribution, pairs):
            for avg, var in pairs:
                distribution.extended.update(avg, lambda a, w: a.assign(decay * a + (1.0 - decay) * w), args=(var,), group=False)

        tf.__internal__.distribute.interim.maybe_merge_call(merged, opt._distribution_strategy, pairs)

    opt._update_model_variables_moving_average = update
    # fit() ends by copying the averages over the weights; specc keeps the live weights
    # (the EMA is evaluated and saved beside them)
    opt.finalize_variable_values = lambda var_list: None


class KerasTrainer:
    backend = "keras"

    def __init__(self, model: Model, weights: dict[str, np.ndarray], *, seed: int, device: str | None = None, amp: bool = False, compile: bool = False, replicas: int = 1, ema: float | None = None, dist=None):
        if compile:
            raise fail("--compile is a torch option (Keras compiles its own graph)", "drop --compile for --backend keras")
        self.spec = model
        self.seed = seed
        self.strategy = keras_strategy(device, replicas)
        keras.utils.set_random_seed(seed)
        with self.strategy.scope():
            self.km = specc.build(model, "keras", device=device, weights=weights, mixed_precision=AMP_POLICY if amp else None)
            if ema:
                _install_ema(self.km.optimizer, float(ema))
            self.km.optimizer.build(self.km.trainable_variables)
        sig = [tf.TensorSpec(t.shape, t.dtype) for t in self.km.inputs]
        self._predict = tf.function(lambda *xs: self.km(xs[0] if len(xs) == 1 else list(xs), training=False), input_signature=sig)
        self.amp = amp
        self.ema_decay = ema
        self.ema = list(self.km.optimizer._model_variables_moving_average) if ema else None
        if self.ema:
            for e, v in zip(self.ema, self.km.trainable_variables, strict=True):
                e.assign(v.numpy())

    def describe(self) -> str:
        n = self.strategy.num_replicas_in_sync
        parts = [f"{type(self.strategy).__name__} over {n} replicas"] if n > 1 else []
        parts += [f"Keras dtype policy {AMP_POLICY}"] if self.amp else []
        return ", ".join(parts)

    @property
    def step(self) -> int:
        return int(self.km.optimizer.iterations.numpy())

    # ---- training
    def fit(self, data: Split, start: int, end: int, batch: int, hooks) -> None:
        nb = num_batches(len(data), batch)
        ds = make_dataset(data, self.seed, start, end, batch)
        callbacks = [_EpochHooks(hooks, nb)]
        if getattr(hooks, "batch_mode", None):
            callbacks.append(_BatchHooks(hooks))
        self.km.fit(ds, epochs=end, initial_epoch=start, steps_per_epoch=nb, shuffle=False, verbose=0, callbacks=callbacks)

    # ---- inference and weights
    @contextlib.contextmanager
    def _ema_swapped(self, use: bool):
        if not use or self.ema is None:
            yield
            return
        live = [v.numpy() for v in self.km.trainable_variables]
        for v, e in zip(self.km.trainable_variables, self.ema, strict=True):
            v.assign(e.numpy())
        try:
            yield
        finally:
            for v, a in zip(self.km.trainable_variables, live, strict=True):
                v.assign(a)

    def predict(self, xs: list[np.ndarray], use_ema: bool = False) -> list[np.ndarray]:
        outs: list[list[np.ndarray]] = []
        with self._ema_swapped(use_ema):
            for i in range(0, len(xs[0]), PREDICT_BATCH):
                y = self._predict(*(tf.constant(x[i : i + PREDICT_BATCH]) for x in xs))
                outs.append([np.asarray(a) for a in y] if isinstance(y, (list, tuple)) else [np.asarray(y)])
        return [np.concatenate([o[k] for o in outs]) for k in range(len(outs[0]))]

    def get_weights(self) -> dict[str, np.ndarray]:
        return self.km.specc.get_weights(self.km)

    def set_weights(self, weights: dict[str, np.ndarray]) -> None:
        self.km.specc.set_weights(self.km, weights)

    def ema_weights(self) -> dict[str, np.ndarray] | None:
        if self.ema is None:
            return None
        with self._ema_swapped(True):
            return self.get_weights()

    def set_ema(self, weights: dict[str, np.ndarray]) -> None:
        live = [v.numpy() for v in self.km.trainable_variables]
        self.km.specc.set_weights(self.km, weights)
        for e, v in zip(self.ema, self.km.trainable_variables, strict=True):
            e.assign(v.numpy())
        for v, a in zip(self.km.trainable_variables, live, strict=True):
            v.assign(a)

    # ---- resumable state: optimizer variables and dropout seed states, by path
    def _state_vars(self) -> list[tuple[str, object]]:
        opt = [(f"optimizer/{i}/{v.name}", v) for i, v in enumerate(self.km.optimizer.variables)]
        # dropout seed states, in model order (their paths carry process-wide counters)
        seeds = [(f"seed/{i}", v) for i, v in enumerate(v for v in self.km.variables if v.path.endswith("seed_generator_state"))]
        return opt + seeds

    def state(self) -> tuple[dict, dict[str, np.ndarray]]:
        arrays = {k: np.asarray(v.numpy()) for k, v in self._state_vars()}
        return {"variables": list(arrays)}, arrays

    def load_state(self, skeleton: dict, arrays: dict[str, np.ndarray]) -> list[str]:
        mine = dict(self._state_vars())
        if set(mine) != set(skeleton.get("variables", ())):
            missing = sorted(set(mine) - set(arrays))[:3]
            raise fail(f"the checkpoint's optimizer state does not fit this model (e.g. {', '.join(missing) or 'extra entries'})", "resume with the spec and backend that wrote it, or start again with --init-from")
        for k, v in mine.items():
            a = arrays[k]
            if tuple(a.shape) != tuple(v.shape):
                raise fail(f"optimizer state {k}: shape {a.shape}, expected {tuple(v.shape)}")
            v.assign(a.astype(v.dtype))
        return []
