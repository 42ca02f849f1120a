"""``specc train specs/digits_cnn.spec`` in both backends: accuracy, time, and the two
learning curves side by side (same initial weights, same batches; dropout masks differ).

    PYTHONPATH=. python benchmarks/digits_backends.py [--out runs/digits-compare] [--no-dropout]

Each backend runs as the real command (a fresh process); the script prints the wall time
of each command, specc's own training time, the final validation accuracy, the
per-epoch validation loss/accuracy of both, and writes ``curves.png`` with both curves.
``--no-dropout`` trains a copy of the spec without its dropout layer as well: then the two
backends compute the same training and their curves agree to float rounding.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "specs" / "digits_cnn.spec"


def train(spec: Path, backend: str, out: Path) -> tuple[float, dict]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "specc", "train", str(spec), "--backend", backend, "--out", str(out), "--overwrite", "-q"]
    t = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if r.returncode:
        raise SystemExit(f"{backend} failed:\n{r.stderr[-3000:]}")
    return wall, json.loads((out / "history.json").read_text())


def compare(spec: Path, out: Path, label: str) -> dict:
    runs = {b: train(spec, b, out / b) for b in ("torch", "keras")}
    print(f"\n{label}")
    for b, (wall, h) in runs.items():
        hist = h["history"]
        print(f"  {b:5}  command {wall:5.1f} s, training {sum(e['seconds'] for e in hist):5.1f} s, final val accuracy {hist[-1]['val']['accuracy']:.4f}, val loss {hist[-1]['val']['loss']:.4f}")
    print("  epoch | torch val loss  acc    | keras val loss  acc    | torch train loss | keras train loss")
    ht, hk = runs["torch"][1]["history"], runs["keras"][1]["history"]
    for a, b in zip(ht, hk, strict=True):
        print(f"  {a['epoch']:5} | {a['val']['loss']:14.4f} {a['val']['accuracy']:.4f} | {b['val']['loss']:14.4f} {b['val']['accuracy']:.4f} | {a['train']['loss']:16.4f} | {b['train']['loss']:16.4f}")
    _plot(ht, hk, out / "curves.png", label)
    return {b: r[1] for b, r in runs.items()}


def _plot(ht, hk, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        for hist, name, style in ((ht, "torch", "-o"), (hk, "keras", "--s")):
            ep = [h["epoch"] for h in hist]
            ax.plot(ep, [h["train"][metric] for h in hist], style, label=f"{name} train", markersize=3)
            ax.plot(ep, [h["val"][metric] for h in hist], style, label=f"{name} validation", markersize=3, alpha=0.7)
        ax.set_title(metric)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"  curves: {path}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="runs/digits-compare")
    ap.add_argument("--no-dropout", action="store_true", help="also compare a copy of the spec without dropout")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    compare(SPEC, out / "dropout", "digits_cnn (as written: dropout masks differ between backends)")
    if a.no_dropout:
        text = SPEC.read_text().replace("  dropout(0.25)\n", "")
        spec = out / "digits_cnn_nodrop.spec"
        spec.write_text(text)
        compare(spec, out / "nodrop", "digits_cnn without dropout (the same computation in both backends)")


if __name__ == "__main__":
    main()
