"""Is a specc-built model as fast and as lean as the model an expert writes by hand?

    python benchmarks/backend_speed.py [--quick] [--json PATH] [--models cnn,bilstm,transformer]
                                       [--frameworks torch,keras] [--threads 1] [--rounds N]
                                       [--no-memory] [--no-keras-torch]

Three models — ``specs/mnist_cnn.spec`` (28×28×1 images), ``specs/text_bilstm.spec``
(100 token ids) and ``specs/transformer_classifier.spec`` (64 token ids) — each built by
``specc.build`` and written by hand, in PyTorch and in Keras:

* **hand-written PyTorch**: an ordinary ``nn.Module`` (NCHW input for the CNN,
  ``nn.LSTM(bidirectional=True, batch_first=True)``, ``nn.MultiheadAttention``), the
  ``torch.optim`` optimizer of the spec's kind with the spec's hyper-parameters,
  ``F.cross_entropy`` / ``F.binary_cross_entropy_with_logits``, and for the transformer
  ``clip_grad_norm_`` plus a warm-up + cosine ``LambdaLR``;
* **hand-written Keras**: a functional model of built-in layers, ``model.compile`` with
  Keras' built-in optimizer (same kind, clipping, decay and schedule), loss and metrics.

* **Keras 3 on torch** (column ``k3t/specc``, torch rows): the hand-written Keras model
  above, the same code, run with ``KERAS_BACKEND=torch`` in the torch timing worker —
  the route a user would take for "one model, two frameworks" — against specc's native
  PyTorch model (``benchmarks/keras_on_torch.py``).

Both sides see the same fixed batch, float32, and do the same work.  Before timing, the
hand-written model gets the specc model's weights and the two are checked to compute the
same function (inference outputs within 1e-4): the comparison is of equal models.  Where
they still differ, it is in what an expert would naturally write:

* BiLSTM, PyTorch: the hand-written model draws ONE input-dropout mask per sequence and
  runs the fused ``nn.LSTM(bidirectional=True)``; the spec (Keras' semantics) gives each
  direction its own mask, so specc runs two one-directional LSTMs, the backward one on a
  flipped copy of its input (two masks, two multiplies, a flip: ~1 % of the step);
* transformer, PyTorch: in inference ``nn.MultiheadAttention`` takes torch's fused
  fast path (packed QKV projection, ``_native_multi_head_attention``); specc's attention
  module runs four ``nn.Linear`` and ``F.scaled_dot_product_attention``;
* Keras: the built-in optimizers use Keras' formulas (Adam adds ε to √v before the bias
  correction, RMSprop adds it under the root), specc's optimizer PyTorch's — the same kind
  of work per variable; hyper-parameters are set alike where Keras has them.

**Tasks.**  ``train``: one training step on a batch of 64 (forward in training mode —
dropout active — loss, backward, optimizer step; ``bundle.train_step`` vs the loop an
expert writes; Keras: ``model.train_on_batch`` on both sides).  ``infer``: a batch of 256
in inference mode without gradients (torch: ``model.eval()`` and ``torch.no_grad()``;
Keras: ``model.predict_on_batch`` on both sides).

**Timing.**  One subprocess per (model, framework) builds both sides and warms them up
(torch's lazy initialisation, Keras' ``tf.function`` tracing).  Then ``--rounds`` rounds,
each running one step of one side and one of the other (the order alternating), every
step timed by wall clock and by the process' CPU time.  Reported: the median step time of
each side and the ratio of the medians (specc / hand-written; target ≤ 1.05); as a check
and spread, the median and 25th–75th percentiles of the per-round (paired) ratios, by wall
clock and by CPU time.  On a machine shared with other work the paired CPU-time ratio is
the steadiest measure: a descheduled process stops its CPU clock, not the wall clock, and
a slow spell hits both steps of a pair.  ``--threads`` (default 1) sets torch's and
TensorFlow's thread pools on both sides alike: on a loaded 2-core machine a multi-threaded
kernel stalls whenever one of its threads is descheduled.

**Memory.**  One subprocess per (model, framework, side, task): it imports everything
(frameworks, specc's backend modules) and parses the spec, then records its resident set
size (VmRSS) and resets the kernel's high-water mark (``/proc/self/clear_refs`` ← 5; where
that is not allowed, ``ru_maxrss`` is read instead and the baseline may hide part of the
peak).  It then builds the model (the optimizer too, for ``train``), resets the mark again,
and runs the warm-up and timed steps; the reported **peak** is VmHWM − baseline: the most
memory the model, its optimizer state, its activations, gradients and (Keras) traced
graphs held at once during the run.  The peak while building (``build_peak``, including
specc's float64 canonical weights before they are loaded) is in the JSON too.  The memory
ratio is specc / hand-written (target ≤ 1.05).  Memory workers run with
``MALLOC_MMAP_THRESHOLD_=65536``: glibc then returns every large freed block to the system
at once instead of keeping some (its adaptive threshold), so the resident size follows
what is really alive; without it repeated runs of one configuration differ by ±15 %.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

ROOT = Path(__file__).resolve().parent.parent
SPECS = {
    "cnn": ROOT / "specs" / "mnist_cnn.spec",
    "bilstm": ROOT / "specs" / "text_bilstm.spec",
    "transformer": ROOT / "specs" / "transformer_classifier.spec",
}
MODELS = tuple(SPECS)
FRAMEWORKS = ("torch", "keras")
TASKS = ("train", "infer")
TRAIN_BATCH = 64
INFER_BATCH = 256
TOLERANCE = 1e-4  # hand-written vs specc outputs, float32


# =========================================================================== data


def make_data(model: str, n: int, seed: int):
    """(inputs channels-last as the spec declares, targets) as numpy arrays."""
    import numpy as np

    rng = np.random.default_rng(seed)
    if model == "cnn":
        return rng.standard_normal((n, 28, 28, 1)).astype(np.float32), rng.integers(0, 10, n).astype(np.int64)
    if model == "bilstm":
        return rng.integers(0, 10000, (n, 100)).astype(np.int32), rng.integers(0, 2, (n, 1)).astype(np.float32)
    return rng.integers(0, 2000, (n, 64)).astype(np.int32), rng.integers(0, 4, n).astype(np.int64)


# =========================================================================== hand-written PyTorch


def torch_hand(model: str):
    """The hand-written PyTorch model: (module, make_optimizer(module) → step(loss), loss_fn,
    output_fn mapping its logits to the spec's outputs)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    if model == "cnn":

        class CNN(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = nn.Conv2d(1, 32, 3)
                self.conv2 = nn.Conv2d(32, 64, 3)
                self.conv3 = nn.Conv2d(64, 64, 3)
                self.fc1 = nn.Linear(576, 64)
                self.fc2 = nn.Linear(64, 10)

            def forward(self, x):  # x: (batch, 1, 28, 28)
                x = F.max_pool2d(F.relu(self.conv1(x)), 2)
                x = F.max_pool2d(F.relu(self.conv2(x)), 2)
                x = F.relu(self.conv3(x))
                return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))

        def optimizer(m):
            opt = torch.optim.Adam(m.parameters(), lr=1e-3)

            def step(loss):
                loss.backward()
                opt.step()

            return opt, step

        return CNN(), optimizer, F.cross_entropy, lambda y: y

    if model == "bilstm":

        class BiLSTM(nn.Module):
            def __init__(self):
                super().__init__()
                self.embedding = nn.Embedding(10000, 64)
                self.lstm = nn.LSTM(64, 64, batch_first=True, bidirectional=True)
                self.fc1 = nn.Linear(128, 64)
                self.dropout = nn.Dropout(0.5)
                self.fc2 = nn.Linear(64, 1)

            def forward(self, tokens):
                x = self.embedding(tokens)
                if self.training:  # Keras' LSTM input dropout: one mask per sequence (0.2)
                    x = x * torch.empty_like(x[:, :1]).bernoulli_(0.8).div_(0.8)
                _, (h, _) = self.lstm(x)
                x = torch.cat((h[0], h[1]), dim=1)
                return self.fc2(self.dropout(F.relu(self.fc1(x))))  # logits

        def optimizer(m):
            opt = torch.optim.RMSprop(m.parameters(), lr=1e-3)

            def step(loss):
                loss.backward()
                opt.step()

            return opt, step

        return BiLSTM(), optimizer, F.binary_cross_entropy_with_logits, torch.sigmoid

    class Encoder(nn.Module):
        def __init__(self, dim=64, heads=4, ff=256, drop=0.1):
            super().__init__()
            self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
            self.drop1 = nn.Dropout(drop)
            self.norm1 = nn.LayerNorm(dim, eps=1e-6)
            self.ff1 = nn.Linear(dim, ff)
            self.ff2 = nn.Linear(ff, dim)
            self.drop2 = nn.Dropout(drop)
            self.norm2 = nn.LayerNorm(dim, eps=1e-6)

        def forward(self, x):
            a, _ = self.attn(x, x, x, need_weights=False)
            h = self.norm1(x + self.drop1(a))
            return self.norm2(h + self.drop2(self.ff2(F.gelu(self.ff1(h)))))

    class Transformer(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(2000, 64)
            self.encoders = nn.Sequential(Encoder(), Encoder())
            self.dropout = nn.Dropout(0.1)
            self.fc = nn.Linear(64, 4)

        def forward(self, tokens):
            x = self.encoders(self.embedding(tokens)).mean(dim=1)
            return self.fc(self.dropout(x))  # logits

    def optimizer(m):
        opt = torch.optim.AdamW(m.parameters(), lr=3e-4, weight_decay=0.01)

        def factor(t):  # linear warm-up over 100 steps, then cosine decay over 1000
            if t < 100:
                return (t + 1) / 100
            return 0.5 * (1.0 + math.cos(math.pi * min(t - 100, 1000) / 1000))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        params = list(m.parameters())

        def step(loss):
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()

        return opt, step

    return Transformer(), optimizer, F.cross_entropy, lambda y: torch.softmax(y, dim=-1)


def torch_copy_weights(model: str, hand, specc_module) -> None:
    """Load the specc model's weights into the hand-written one (for the equality check)."""
    import torch

    sd = {k: v.detach() for k, v in specc_module.state_dict().items()}
    new = {}
    if model == "cnn":
        names = {"conv1": "conv2d", "conv2": "conv2d_1", "conv3": "conv2d_2", "fc1": "dense", "fc2": "dense_1"}
        for h, s in names.items():  # specc's dense after the flatten has the features in NCHW order
            new[f"{h}.weight"], new[f"{h}.bias"] = sd[f"{s}.weight"], sd[f"{s}.bias"]
    elif model == "bilstm":
        new["embedding.weight"] = sd["embedding.weight"]
        for d, suffix in (("fwd", ""), ("bwd", "_reverse")):
            for k in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
                new[f"lstm.{k}{suffix}"] = sd[f"bidirectional.{d}.{k}"]
        for h, s in (("fc1", "dense"), ("fc2", "dense_1")):
            new[f"{h}.weight"], new[f"{h}.bias"] = sd[f"{s}.weight"], sd[f"{s}.bias"]
    else:
        new["embedding.weight"] = sd["embedding.weight"]
        for i in range(2):
            p, h = f"encoder.{i}.", f"encoders.{i}."
            mha = p + "multi_head_attention."
            new[h + "attn.in_proj_weight"] = torch.cat([sd[mha + f"{k}.weight"] for k in ("query", "key", "value")])
            new[h + "attn.in_proj_bias"] = torch.cat([sd[mha + f"{k}.bias"] for k in ("query", "key", "value")])
            new[h + "attn.out_proj.weight"], new[h + "attn.out_proj.bias"] = sd[mha + "output.weight"], sd[mha + "output.bias"]
            for hn, sn in (("norm1", "layer_norm"), ("norm2", "layer_norm_1"), ("ff1", "dense"), ("ff2", "dense_1")):
                new[h + f"{hn}.weight"], new[h + f"{hn}.bias"] = sd[p + f"{sn}.weight"], sd[p + f"{sn}.bias"]
        new["fc.weight"], new["fc.bias"] = sd["dense.weight"], sd["dense.bias"]
    hand.load_state_dict(new, strict=True)


def torch_device() -> str:
    """``SPECC_BENCH_DEVICE`` (set by ``--device``): where the torch workers run; cuda runs without TF32."""
    dev = os.environ.get("SPECC_BENCH_DEVICE", "cpu")
    if dev != "cpu":
        import torch

        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    return dev


class TorchSides:
    """Both PyTorch sides of one model, ready to step."""

    def __init__(self, model: str, check: bool = True, sides=("specc", "hand")):
        import numpy as np
        import torch

        import specc

        self.model = model
        self.device = dev = torch_device()
        x, y = make_data(model, TRAIN_BATCH, 1)
        xi, _ = make_data(model, INFER_BATCH, 2)
        self.x, self.y = torch.from_numpy(x).to(dev), torch.from_numpy(y).to(dev)
        self.xi = torch.from_numpy(xi).to(dev)
        if model != "cnn":
            self.x, self.xi = self.x.long(), self.xi.long()
        # the hand-written CNN takes NCHW images (contiguous, as a data loader gives them)
        self.xh = self.x.movedim(-1, 1).contiguous() if model == "cnn" else self.x
        self.xih = self.xi.movedim(-1, 1).contiguous() if model == "cnn" else self.xi
        self.sides = {}
        if "specc" in sides:
            self.bundle = specc.build(specc.load(SPECS[model]), backend="torch", dtype="float32", device=dev)
        if "hand" in sides:
            self.hand, make_opt, self.loss_fn, self.out_fn = torch_hand(model)
            self.hand.to(dev)
            self._make_opt = make_opt
            if check:
                torch_copy_weights(model, self.hand, self.bundle.model)
                self.bundle.model.eval()
                self.hand.eval()
                with torch.no_grad():
                    a = self.bundle.model(self.xi).cpu().numpy()
                    b = self.out_fn(self.hand(self.xih)).cpu().numpy()
                err = float(np.max(np.abs(a - b)))
                if not err < TOLERANCE:
                    raise AssertionError(f"{model}: hand-written torch model differs from specc's: max |Δ| = {err:.2e}")
                self.check_err = err
        if "k3t" in sides:
            from keras_on_torch import KerasOnTorch

            self.k3t = KerasOnTorch(model, getattr(self, "bundle", None), x, y, xi, check, TOLERANCE)

    def make_optimizers(self, sides=("specc", "hand")):
        if "specc" in sides:
            self.bundle.optimizer = self.bundle.make_optimizer()
        if "hand" in sides:
            self.hand_opt, self.hand_step = self._make_opt(self.hand)

    def steps(self):
        import torch

        b, h = getattr(self, "bundle", None), getattr(self, "hand", None)

        def specc_train():
            b.train_step(self.x, self.y)

        def hand_train():
            h.train()
            self.hand_opt.zero_grad()
            loss = self.loss_fn(h(self.xh), self.y)
            self.hand_step(loss)
            loss.item()

        def specc_infer():
            with torch.no_grad():
                return b.model(self.xi)

        def hand_infer():
            with torch.no_grad():
                return h(self.xih)

        def setup(task):
            for m in (b, h):
                if m is not None:
                    (m.model if m is b else m).train(task == "train")

        fns = {("specc", "train"): specc_train, ("hand", "train"): hand_train, ("specc", "infer"): specc_infer, ("hand", "infer"): hand_infer}
        if hasattr(self, "k3t"):
            fns[("k3t", "train")], fns[("k3t", "infer")] = self.k3t.train, self.k3t.infer
        if self.device != "cpu":  # a step is done when the device is done with it
            fns = {k: (lambda f=f: (f(), torch.cuda.synchronize())) for k, f in fns.items()}
        return fns, setup


# =========================================================================== hand-written Keras


def keras_hand(model: str):
    """The hand-written Keras model, compiled with Keras' built-in optimizer, loss, metrics."""
    import keras
    from keras import layers

    if model == "cnn":
        inp = keras.Input((28, 28, 1))
        x = layers.Conv2D(32, 3, activation="relu")(inp)
        x = layers.MaxPooling2D(2)(x)
        x = layers.Conv2D(64, 3, activation="relu")(x)
        x = layers.MaxPooling2D(2)(x)
        x = layers.Conv2D(64, 3, activation="relu")(x)
        x = layers.Flatten()(x)
        x = layers.Dense(64, activation="relu")(x)
        out = layers.Dense(10)(x)
        m = keras.Model(inp, out)
        m.compile(optimizer=keras.optimizers.Adam(1e-3, epsilon=1e-8), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
        return m
    if model == "bilstm":
        inp = keras.Input((100,), dtype="int32")
        x = layers.Embedding(10000, 64)(inp)
        x = layers.Bidirectional(layers.LSTM(64, dropout=0.2))(x)
        x = layers.Dense(64, activation="relu")(x)
        x = layers.Dropout(0.5)(x)
        out = layers.Dense(1, activation="sigmoid")(x)
        m = keras.Model(inp, out)
        m.compile(
            optimizer=keras.optimizers.RMSprop(1e-3, rho=0.99, epsilon=1e-8),
            loss=keras.losses.BinaryCrossentropy(),
            metrics=["accuracy", keras.metrics.F1Score(average="micro", threshold=0.5)],
        )
        return m
    inp = keras.Input((64,), dtype="int32")
    x = layers.Embedding(2000, 64)(inp)
    for _ in range(2):
        a = layers.MultiHeadAttention(num_heads=4, key_dim=16)(x, x)
        a = layers.Dropout(0.1)(a)
        h = layers.LayerNormalization(epsilon=1e-6)(layers.Add()([x, a]))
        f = layers.Dense(256, activation="gelu")(h)
        f = layers.Dense(64)(f)
        f = layers.Dropout(0.1)(f)
        x = layers.LayerNormalization(epsilon=1e-6)(layers.Add()([h, f]))
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dropout(0.1)(x)
    out = layers.Dense(4, activation="softmax")(x)
    m = keras.Model(inp, out)
    schedule = keras.optimizers.schedules.CosineDecay(0.0, decay_steps=1000, warmup_target=3e-4, warmup_steps=100)
    opt = keras.optimizers.AdamW(schedule, weight_decay=0.01, epsilon=1e-8, global_clipnorm=1.0)
    m.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
    return m


class KerasSides:
    def __init__(self, model: str, check: bool = True, sides=("specc", "hand")):
        import numpy as np
        import tensorflow as tf

        import specc

        self.model = model
        x, y = make_data(model, TRAIN_BATCH, 1)
        xi, _ = make_data(model, INFER_BATCH, 2)
        self.x, self.y, self.xi = tf.constant(x), tf.constant(y), tf.constant(xi)
        if "specc" in sides:
            self.km = specc.build(specc.load(SPECS[model]), backend="keras", dtype="float32")
        if "hand" in sides:
            self.hand = keras_hand(model)
            if check:
                sw = self.km.get_weights()
                hw = self.hand.get_weights()
                if [w.shape for w in sw] != [w.shape for w in hw]:
                    raise AssertionError(f"{model}: keras weights do not line up: {[w.shape for w in sw]} vs {[w.shape for w in hw]}")
                self.hand.set_weights(sw)
                a = np.asarray(self.km.predict_on_batch(self.xi))
                b = np.asarray(self.hand.predict_on_batch(self.xi))
                err = float(np.max(np.abs(a - b)))
                if not err < TOLERANCE:
                    raise AssertionError(f"{model}: hand-written keras model differs from specc's: max |Δ| = {err:.2e}")
                self.check_err = err

    def make_optimizers(self, sides=("specc", "hand")):
        """Keras builds its optimizer state at the first step."""

    def steps(self):
        km, h = getattr(self, "km", None), getattr(self, "hand", None)
        out = {}
        for side, m in (("specc", km), ("hand", h)):
            if m is None:
                continue
            out[(side, "train")] = lambda m=m: m.train_on_batch(self.x, self.y)
            out[(side, "infer")] = lambda m=m: m.predict_on_batch(self.xi)
        return out, lambda task: None


# =========================================================================== workers


def set_threads(framework: str, n: int) -> None:
    if framework == "torch":
        import torch

        torch.set_num_threads(n)
        torch.set_num_interop_threads(n)
    else:
        import specc.backends.keras  # noqa: F401 - selects Keras on TensorFlow, quietly
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(n)


def sides_cls(framework: str):
    return TorchSides if framework == "torch" else KerasSides


def timing_worker(model: str, framework: str, rounds: int, warmup: int, keras_torch: bool = False) -> dict:
    import gc

    names = ("specc", "hand", "k3t") if keras_torch else ("specc", "hand")
    s = sides_cls(framework)(model, sides=names) if keras_torch else sides_cls(framework)(model)
    s.make_optimizers()
    fns, setup = s.steps()
    result: dict = {"check_max_abs_diff": s.check_err}
    if keras_torch:
        result["k3t_check_max_abs_diff"] = s.k3t.check_err
    for task in TASKS:
        setup(task)
        for _ in range(warmup):
            for side in names:
                fns[(side, task)]()
        samples: dict = {side: {"wall": [], "cpu": []} for side in names}
        gc.collect()
        for r in range(rounds):
            k = r % len(names)  # each side leads in turn
            for side in names[k:] + names[:k]:
                fn = fns[(side, task)]
                c0, t0 = time.process_time(), time.perf_counter()
                fn()
                t1, c1 = time.perf_counter(), time.process_time()
                samples[side]["wall"].append(t1 - t0)
                samples[side]["cpu"].append(c1 - c0)
        result[task] = {"samples": samples}
    return result


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_kb(resettable: bool) -> int:
    if resettable:
        v = _status_kb("VmHWM")
        if v is not None:
            return v
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def memory_worker(model: str, framework: str, side: str, task: str, steps: int) -> dict:
    import gc

    import numpy  # noqa: F401

    import specc

    # everything the build imports lazily, imported before the baseline on both sides
    if framework == "torch":
        import torch  # noqa: F401

        import specc.backends.torch.bundle  # noqa: F401
        import specc.backends.torch.ops  # noqa: F401
    else:
        import keras  # noqa: F401

        import specc.backends.keras.bundle  # noqa: F401
        import specc.backends.keras.ops  # noqa: F401
    import specc.weights  # noqa: F401

    specc.load(SPECS[model])  # the parser, built once
    gc.collect()
    base = _status_kb("VmRSS") or 0
    resettable = _reset_peak()
    s = sides_cls(framework)(model, check=False, sides=(side,))
    if task == "train":
        s.make_optimizers(sides=(side,))
    fns, setup = s.steps()
    setup(task)
    build_peak = _peak_kb(resettable) - base
    resettable = resettable and _reset_peak()
    fn = fns[(side, task)]
    for _ in range(steps):
        fn()
    peak = _peak_kb(resettable) - base
    return {"baseline_kb": base, "peak_kb": peak, "build_peak_kb": build_peak, "end_kb": (_status_kb("VmRSS") or 0) - base, "hwm_reset": resettable}


def run_worker(args) -> None:
    set_threads(args.framework, args.threads)
    if args.worker == "timing":
        out = timing_worker(args.model, args.framework, args.rounds, args.warmup, keras_torch=args.k3t_side)
    else:
        out = memory_worker(args.model, args.framework, args.side, args.task, args.mem_steps)
    sys.stdout.write("\n@@RESULT@@" + json.dumps(out) + "\n")
    sys.stdout.flush()


# =========================================================================== driver


def spawn(argv: list[str], timeout: float = 900, env_extra: dict | None = None) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), *argv]
    env = {**os.environ, **(env_extra or {})}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])])
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=str(ROOT))
    marker = p.stdout.rfind("@@RESULT@@")
    if p.returncode != 0 or marker < 0:
        raise RuntimeError(f"worker {' '.join(argv)} failed (exit {p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-6000:]}")
    return json.loads(p.stdout[marker + len("@@RESULT@@") :].strip().splitlines()[0])


def quantiles(xs: list[float]) -> tuple[float, float, float]:
    if len(xs) == 1:
        return xs[0], xs[0], xs[0]
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], q[1], q[2]


def summarise(timing: dict, task: str) -> dict:
    s, h = timing[task]["samples"]["specc"], timing[task]["samples"]["hand"]
    out = {
        "specc_ms": statistics.median(s["wall"]) * 1e3,
        "hand_ms": statistics.median(h["wall"]) * 1e3,
        "specc_cpu_ms": statistics.median(s["cpu"]) * 1e3,
        "hand_cpu_ms": statistics.median(h["cpu"]) * 1e3,
        "specc_min_ms": min(s["wall"]) * 1e3,
        "hand_min_ms": min(h["wall"]) * 1e3,
        "n": len(s["wall"]),
    }
    out["time_ratio"] = out["specc_ms"] / out["hand_ms"]
    out["cpu_time_ratio"] = out["specc_cpu_ms"] / out["hand_cpu_ms"]
    out["min_ratio"] = out["specc_min_ms"] / out["hand_min_ms"]
    if "k3t" in timing[task]["samples"]:  # Keras 3 on torch vs specc's native torch model, paired
        k = timing[task]["samples"]["k3t"]
        out["k3t_ms"] = statistics.median(k["wall"]) * 1e3
        out["k3t_paired_cpu_ratio"] = statistics.median([a / b for a, b in zip(k["cpu"], s["cpu"], strict=True) if b > 0])
        out["k3t_paired_wall_ratio"] = statistics.median([a / b for a, b in zip(k["wall"], s["wall"], strict=True) if b > 0])
    for kind in ("wall", "cpu"):
        pairs = [a / b for a, b in zip(s[kind], h[kind], strict=True) if b > 0]
        q1, q2, q3 = quantiles(pairs)
        out[f"paired_{kind}_ratio_q25"], out[f"paired_{kind}_ratio"], out[f"paired_{kind}_ratio_q75"] = q1, q2, q3
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a short smoke run (few rounds, few memory steps)")
    p.add_argument("--json", metavar="PATH", help="write the results as JSON")
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    p.add_argument("--threads", type=int, default=1, help="threads per framework, both sides (default 1)")
    p.add_argument("--rounds", type=int, help="timed steps per side and task (default 30; --quick 4)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    p.add_argument("--device", default="cpu", help="torch workers' device (cpu, cuda): float32, TF32 off")
    p.add_argument("--no-keras-torch", dest="keras_torch", action="store_false",
                   help="skip the k3t column (the hand-written Keras model on Keras' torch backend)")
    # worker mode (internal)
    p.add_argument("--worker", choices=("timing", "memory"), help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--framework", help=argparse.SUPPRESS)
    p.add_argument("--side", help=argparse.SUPPRESS)
    p.add_argument("--task", help=argparse.SUPPRESS)
    p.add_argument("--warmup", type=int, default=5, help=argparse.SUPPRESS)
    p.add_argument("--k3t-side", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--mem-steps", type=int, default=8, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        run_worker(args)
        return 0

    models = [m for m in args.models.split(",") if m]
    frameworks = [f for f in args.frameworks.split(",") if f]
    for m in models:
        if m not in SPECS:
            p.error(f"unknown model {m!r}; choose from {', '.join(MODELS)}")
    for f in frameworks:
        if f not in FRAMEWORKS:
            p.error(f"unknown framework {f!r}")
    rounds = args.rounds or (4 if args.quick else 30)
    common = ["--threads", str(args.threads)]
    timing_args = [*common, "--rounds", str(rounds), "--warmup", "2" if args.quick else "5"]
    mem_steps = "3" if args.quick else "8"

    t_start = time.perf_counter()
    if args.device != "cpu" and frameworks != ["torch"]:
        p.error("--device applies to the torch workers: add --frameworks torch")
    results = {"config": {"device": args.device, "threads": args.threads, "rounds": rounds, "train_batch": TRAIN_BATCH, "infer_batch": INFER_BATCH, "quick": args.quick, "python": sys.version.split()[0]}, "rows": []}
    for framework in frameworks:
        for model in models:
            print(f"timing {model} / {framework} …", file=sys.stderr, flush=True)
            k3t = framework == "torch" and args.keras_torch
            timing = spawn(["--worker", "timing", "--model", model, "--framework", framework, *timing_args, *(["--k3t-side"] if k3t else [])],
                           env_extra={"SPECC_BENCH_DEVICE": args.device, **({"KERAS_BACKEND": "torch"} if k3t else {})})
            for task in TASKS:
                row = {"model": model, "framework": framework, "task": task, "check_max_abs_diff": timing["check_max_abs_diff"], **summarise(timing, task)}
                row["raw"] = timing[task]
                results["rows"].append(row)
    if not args.no_memory:
        for framework in frameworks:
            for model in models:
                for task in TASKS:
                    row = next(r for r in results["rows"] if (r["model"], r["framework"], r["task"]) == (model, framework, task))
                    for side in ("specc", "hand"):
                        print(f"memory {model} / {framework} / {task} / {side} …", file=sys.stderr, flush=True)
                        mem = spawn(["--worker", "memory", "--model", model, "--framework", framework, "--side", side, "--task", task, "--mem-steps", mem_steps, *common], env_extra={"MALLOC_MMAP_THRESHOLD_": "65536"})
                        row[f"{side}_peak_mb"] = mem["peak_kb"] / 1024
                        row[f"{side}_build_peak_mb"] = mem["build_peak_kb"] / 1024
                        row[f"{side}_memory"] = mem
                    row["mem_ratio"] = row["specc_peak_mb"] / row["hand_peak_mb"] if row["hand_peak_mb"] > 0 else float("nan")
    results["elapsed_s"] = time.perf_counter() - t_start
    print_table(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


def print_table(results: dict) -> None:
    cfg = results["config"]
    print(
        f"\nspecc vs hand-written — train step on {cfg['train_batch']}, inference on {cfg['infer_batch']}, float32, "
        f"{cfg['threads']} thread(s), {cfg['rounds']} steps per side, {cfg.get('device', 'cpu')}"
    )
    head = f"{'model':12} {'fw':5} {'task':5} {'specc ms':>9} {'hand ms':>9} {'ratio':>6}  {'paired wall [q25–q75]':>22}  {'paired cpu [q25–q75]':>22} {'specc MB':>9} {'hand MB':>8} {'mem':>6}"
    head += f" {'k3t/specc':>9}"
    print(head)
    print("-" * len(head))
    for r in results["rows"]:
        mem = ""
        if "mem_ratio" in r:
            mem = f"{r['specc_peak_mb']:9.1f} {r['hand_peak_mb']:8.1f} {r['mem_ratio']:6.3f}"
        wall = f"{r['paired_wall_ratio']:.3f} [{r['paired_wall_ratio_q25']:.3f}–{r['paired_wall_ratio_q75']:.3f}]"
        cpu = f"{r['paired_cpu_ratio']:.3f} [{r['paired_cpu_ratio_q25']:.3f}–{r['paired_cpu_ratio_q75']:.3f}]"
        k3t = f"{r['k3t_paired_cpu_ratio']:9.2f}" if "k3t_paired_cpu_ratio" in r else f"{'':9}"
        print(f"{r['model']:12} {r['framework']:5} {r['task']:5} {r['specc_ms']:9.2f} {r['hand_ms']:9.2f} {r['time_ratio']:6.3f}  {wall:>22}  {cpu:>22} {mem or ' ' * 25} {k3t}")
    print("ratio = median specc step / median hand-written step (wall clock); paired = median (and quartiles) of the")
    print("per-round ratios of back-to-back steps, by wall clock and by process CPU time; mem = peak RSS growth,")
    print("specc / hand-written.  Target: ratios ≤ 1.05.  k3t/specc = the same hand-written Keras model run on Keras 3's")
    print("torch backend, paired CPU-time ratio against specc's native PyTorch model (how much slower the Keras-on-torch")
    print("route is).")
    print(f"elapsed {results['elapsed_s']:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
