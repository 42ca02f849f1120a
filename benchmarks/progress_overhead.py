"""What the progress bar of ``specc train`` costs: the same trainer's epochs with the bar
(as a terminal shows it: rich bar, running loss and metrics per batch) and without it (what a
pipe or a log file gets), alternating epoch by epoch in one process.

    PYTHONPATH=. python benchmarks/progress_overhead.py [--model digits_cnn] [--backends torch keras] [--rounds 6] [--threads 1]

Reported per backend: process CPU seconds per epoch (fastest, median) with and without the
bar, and their ratio (bar / none; 1.0 = free).  CPU time, so a busy machine changes little
(wall time is printed too).  The bar renders into a string, so nothing reaches the terminal.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def run(backend: str, name: str, rounds: int) -> dict:
    from rich.console import Console

    from train_throughput import data_for

    from specc.train.callbacks import learning_rate
    from specc.train.report import Progressbar
    from specc.train.run import make_trainer
    from specc.weights import init_weights

    model, data = data_for(name)
    batch = model.train.batch
    trainer = make_trainer(backend, model, init_weights(model, 0), seed=0)

    class Hooks:  # as specc.train.run's hooks: the bar fed per batch, nothing else per epoch
        def __init__(self, bar: bool):
            self.bar = Progressbar(Console(file=io.StringIO(), force_terminal=True, width=120), enabled=bar)
            self.batch_mode = "async" if bar else None
            self.stop = False
            self.cpu: list[float] = []
            self.wall: list[float] = []

        def epoch_begin(self, epoch, batches):
            self.c, self.t = time.process_time(), time.perf_counter()
            self.bar.begin(epoch, 10**6, batches, batch, len(data))

        def batch_end(self, index, loss, metrics=None):
            self.bar.advance(loss, metrics, learning_rate(model.train, index))

        def epoch_end(self, epoch):
            self.bar.end()
            self.cpu.append(time.process_time() - self.c)
            self.wall.append(time.perf_counter() - self.t)

    hooks = {"bar": Hooks(True), "none": Hooks(False)}
    trainer.fit(data, 0, 1, batch, Hooks(False))  # warm-up (Keras: traces the step)
    epoch = 1
    for _ in range(rounds):
        for h in hooks.values():
            trainer.fit(data, epoch, epoch + 1, batch, h)
            epoch += 1
    return {k: (h.cpu, h.wall) for k, h in hooks.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="digits_cnn", choices=("digits_cnn", "mnist_cnn"))
    ap.add_argument("--backends", nargs="+", default=["torch", "keras"])
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--threads", type=int, default=1, help="intra-op threads of both frameworks (0: their defaults)")
    a = ap.parse_args()
    if a.threads:
        os.environ["OMP_NUM_THREADS"] = str(a.threads)
        import torch

        torch.set_num_threads(a.threads)
        if "keras" in a.backends:
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
            import tensorflow as tf

            tf.config.threading.set_intra_op_parallelism_threads(a.threads)
            tf.config.threading.set_inter_op_parallelism_threads(a.threads)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {a.model}, threads {a.threads or 'default'}, {a.rounds} epochs each, alternating")
    print(f"{'backend':8} {'bar cpu s':>16} {'none cpu s':>16} {'ratio':>6} {'(med)':>6} {'wall ratio (med)':>17}")
    for backend in a.backends:
        r = run(backend, a.model, a.rounds)
        (bc, bw), (nc, nw) = r["bar"], r["none"]
        cells = [f"{min(v):.3f} ({np.median(v):.3f})" for v in (bc, nc)]
        print(f"{backend:8} {cells[0]:>16} {cells[1]:>16} {min(bc) / min(nc):6.3f} {np.median(bc) / np.median(nc):6.3f} {np.median(bw) / np.median(nw):17.3f}", flush=True)


if __name__ == "__main__":
    main()
