"""Training throughput of specc-built models against hand-written ones.

For an MNIST-style CNN (``specs/mnist_cnn.spec``, synthetic 28×28 images) and the digits
CNN (``specs/digits_cnn.spec``, scikit-learn digits) it times, on the same batches
(specc's per-epoch permutations):

* specc torch  — ``specc.train``'s torch loop (TorchBundle, SpeccOptimizer);
* hand torch   — an ``nn.Sequential`` + ``torch.optim.Adam`` + ``F.cross_entropy`` loop;
* specc keras  — ``specc.train``'s ``model.fit`` on the model ``specc.build`` compiles;
* hand keras   — a ``keras.Sequential`` with Keras' Adam, ``fit`` on the same tf.data batches.

Each measurement runs in a fresh process (peak memory = its max RSS): one warm-up epoch,
then ``--epochs`` individually timed ones; specc and hand-written runs alternate
``--repeats`` times so that load changes on a shared machine hit both.  Prints examples/s
of the fastest epoch (the median epoch in brackets), peak RSS, and the ratios specc time /
hand time (target ≤ 1.05) of wall time and of process CPU time per epoch — on a shared,
loaded machine wall time mostly measures the neighbours; with ``--threads 1`` the CPU
time is the work itself.  ``--threads N`` fixes both frameworks' intra-op threads (less
noise on a busy machine).

    PYTHONPATH=. python benchmarks/train_throughput.py [--epochs 4] [--repeats 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODELS = {"mnist_cnn": 4096, "digits_cnn": None}  # synthetic examples (None: the digits set)


def data_for(name: str):
    import specc
    from specc.train.data import Split, load_data, synthetic_arrays

    model = specc.load(ROOT / "specs" / f"{name}.spec")
    if MODELS[name] is None:
        return model, load_data(model, "digits").train
    xs, ys = synthetic_arrays(model, MODELS[name])
    return model, Split(xs, ys)


# ----------------------------------------------------------------------------- torch


def hand_torch(name: str):
    import torch
    from torch import nn

    class ToCF(nn.Module):
        def forward(self, x):
            return x.permute(0, 3, 1, 2)

    if name == "mnist_cnn":
        net = nn.Sequential(
            ToCF(), nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3), nn.ReLU(), nn.Flatten(), nn.Linear(576, 64), nn.ReLU(), nn.Linear(64, 10),
        )  # fmt: skip
        lr = 1e-3
    else:
        net = nn.Sequential(
            ToCF(), nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Dropout(0.25), nn.Flatten(), nn.Linear(512, 64), nn.ReLU(), nn.Linear(64, 10),
        )  # fmt: skip
        lr = 2e-3
    return net, torch.optim.Adam(net.parameters(), lr=lr)


def run_torch(name: str, impl: str, epochs: int) -> dict:
    import torch
    import torch.nn.functional as F

    from specc.train.batches import epoch_batches
    from specc.train.torch_loop import TorchTrainer
    from specc.weights import init_weights

    model, data = data_for(name)
    batch = model.train.batch
    if impl == "specc":
        trainer = TorchTrainer(model, init_weights(model, 0), seed=0)
        trainer.bundle.model.train()

        def step(rows):
            trainer.train_batch(data, rows)

    else:
        torch.manual_seed(0)
        net, opt = hand_torch(name)
        net.train()
        x, y = data.xs[0], data.ys[0]

        def step(rows):
            xb, yb = torch.from_numpy(x[rows]), torch.from_numpy(y[rows])
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(net(xb), yb)
            loss.backward()
            opt.step()

    def epoch(e):
        for rows in epoch_batches(0, e, len(data), batch):
            step(rows)

    epoch(0)  # warm-up
    times, cpu = [], []
    for e in range(1, epochs + 1):
        t, c = time.perf_counter(), time.process_time()
        epoch(e)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return {"epoch_seconds": times, "epoch_cpu_seconds": cpu, "examples": len(data)}


# ----------------------------------------------------------------------------- keras


def hand_keras(name: str):
    import keras
    from keras import layers

    if name == "mnist_cnn":
        net = keras.Sequential([
            keras.Input((28, 28, 1)), layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2), layers.Conv2D(64, 3, activation="relu"),
            layers.Flatten(), layers.Dense(64, activation="relu"), layers.Dense(10),
        ])  # fmt: skip
        loss, lr = keras.losses.SparseCategoricalCrossentropy(from_logits=True), 1e-3
    else:
        net = keras.Sequential([
            keras.Input((8, 8, 1)), layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.Conv2D(32, 3, padding="same", activation="relu"), layers.MaxPooling2D(2), layers.Dropout(0.25),
            layers.Flatten(), layers.Dense(64, activation="relu"), layers.Dense(10, activation="softmax"),
        ])  # fmt: skip
        loss, lr = keras.losses.SparseCategoricalCrossentropy(), 2e-3
    net.compile(optimizer=keras.optimizers.Adam(lr), loss=loss, metrics=["accuracy"])
    return net


class _Timer:
    """Epoch times (both Keras runs get the same epoch-level callback, nothing per batch)."""

    def __init__(self):
        self.times: list[float] = []
        self.cpu: list[float] = []
        self.t = self.c = 0.0

    def epoch_begin(self, *a):
        self.t, self.c = time.perf_counter(), time.process_time()

    def epoch_end(self, *a):
        self.times.append(time.perf_counter() - self.t)
        self.cpu.append(time.process_time() - self.c)

    def callback(self):
        import keras

        timer = self

        class CB(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                timer.epoch_begin()

            def on_epoch_end(self, epoch, logs=None):
                timer.epoch_end()

        return CB()


def run_keras(name: str, impl: str, epochs: int) -> dict:
    from specc.train.batches import num_batches
    from specc.train.keras_loop import KerasTrainer, make_dataset
    from specc.weights import init_weights

    model, data = data_for(name)
    batch = model.train.batch
    timer = _Timer()
    if impl == "specc":
        trainer = KerasTrainer(model, init_weights(model, 0), seed=0)
        trainer.fit(data, 0, 1, batch, _Timer())  # warm-up: traces the train step
        trainer.fit(data, 1, 1 + epochs, batch, timer)
    else:
        net = hand_keras(name)
        nb = num_batches(len(data), batch)
        net.fit(make_dataset(data, 0, 0, 1, batch), epochs=1, steps_per_epoch=nb, shuffle=False, verbose=0)
        net.fit(make_dataset(data, 0, 1, 1 + epochs, batch), epochs=1 + epochs, initial_epoch=1, steps_per_epoch=nb, shuffle=False, verbose=0, callbacks=[timer.callback()])
    return {"epoch_seconds": timer.times, "epoch_cpu_seconds": timer.cpu, "examples": len(data)}


# ----------------------------------------------------------------------------- driver


def worker(backend: str, name: str, impl: str, epochs: int, threads: int) -> None:
    if threads:
        os.environ["OMP_NUM_THREADS"] = str(threads)
        import torch

        torch.set_num_threads(threads)
        if backend == "keras":
            import tensorflow as tf

            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
    if backend == "keras":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import torch  # noqa: F401 - import order as in the test-suite

        out = run_keras(name, impl, epochs)
    else:
        out = run_torch(name, impl, epochs)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(out))


def measure(backend: str, name: str, impl: str, epochs: int, threads: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, __file__, "--worker", backend, name, impl, "--epochs", str(epochs), "--threads", str(threads)]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1200)
    line = next((ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if r.returncode or line is None:
        raise RuntimeError(f"{backend}/{name}/{impl} failed:\n{r.stderr[-2000:]}")
    return json.loads(line[7:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    ap.add_argument("--backends", nargs="+", default=["torch", "keras"])
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads of both frameworks (0: their defaults)")
    ap.add_argument("--worker", nargs=3, metavar=("BACKEND", "MODEL", "IMPL"))
    a = ap.parse_args()
    if a.worker:
        worker(*a.worker, a.epochs, a.threads)
        return
    threads = a.threads or "default"
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, threads {threads}; {a.repeats} runs × {a.epochs} timed epochs per cell")
    print("examples/s from the fastest epoch (median epoch in brackets); ratios = specc time / hand time (target ≤ 1.05),")
    print("of wall time (fastest, median epoch) and of process CPU time (fastest, median): on a loaded machine only the CPU ratios mean much")
    print(f"{'model':12} {'backend':8} {'specc ex/s':>18} {'hand ex/s':>18} {'wall':>6} {'(med)':>6} {'cpu':>6} {'(med)':>6} {'specc MB':>9} {'hand MB':>8}")
    for name in a.models:
        for backend in a.backends:
            epochs: dict[str, list[float]] = {"specc": [], "hand": []}
            cpu: dict[str, list[float]] = {"specc": [], "hand": []}
            rss: dict[str, float] = {}
            n = 0
            for _ in range(a.repeats):
                for impl in ("specc", "hand"):  # interleaved, so load changes hit both
                    r = measure(backend, name, impl, a.epochs, a.threads)
                    epochs[impl] += r["epoch_seconds"]
                    cpu[impl] += r["epoch_cpu_seconds"]
                    rss[impl] = max(rss.get(impl, 0.0), r["peak_rss_mb"])
                    n = r["examples"]
            best = {k: min(v) for k, v in epochs.items()}
            med = {k: float(np.median(v)) for k, v in epochs.items()}
            cbest = {k: min(v) for k, v in cpu.items()}
            cmed = {k: float(np.median(v)) for k, v in cpu.items()}
            cells = {k: f"{n / best[k]:8.0f} ({n / med[k]:6.0f})" for k in epochs}
            ratios = f"{best['specc'] / best['hand']:6.3f} {med['specc'] / med['hand']:6.3f} {cbest['specc'] / cbest['hand']:6.3f} {cmed['specc'] / cmed['hand']:6.3f}"
            print(f"{name:12} {backend:8} {cells['specc']:>18} {cells['hand']:>18} {ratios} {rss['specc']:9.0f} {rss['hand']:8.0f}", flush=True)

if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
