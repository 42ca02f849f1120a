"""Logs a training run leaves in ``--out`` beside ``history.json``:

* ``history.csv`` — one row per epoch: ``epoch, step, seconds, lr, loss, <metric>…,
  val_loss, val_<metric>…``; rewritten whole (atomically) after every epoch, so a reader
  never sees half a row;
* ``tensorboard/`` (``--tensorboard``) — TensorBoard event files written with tensorboardX
  (the optional extra ``specc[tensorboard]``; TensorBoard itself is not needed to write
  them): scalars ``loss/train``, ``loss/val``, ``<metric>/train``, ``<metric>/val``,
  ``lr`` and ``examples_per_second`` at each epoch's last optimizer step.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from specc.fsutil import atomic_write_text


__all__ = ["write_csv", "TensorBoardLog", "csv_columns"]


def csv_columns(history: list[dict]) -> list[str]:
    cols = ["epoch", "step", "seconds", "lr"]
    for part, prefix in (("train", ""), ("val", "val_")):
        for h in history:
            for k in h.get(part) or {}:
                if prefix + k not in cols:
                    cols.append(prefix + k)
    return cols


def write_csv(path: Path, history: list[dict]) -> None:
    cols = csv_columns(history)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for h in history:
        row = {"epoch": h["epoch"], "step": h["step"], "seconds": h["seconds"], "lr": h.get("lr")}
        row.update(h.get("train") or {})
        row.update({f"val_{k}": v for k, v in (h.get("val") or {}).items()})
        w.writerow(["" if row.get(c) is None else row[c] for c in cols])
    atomic_write_text(path, buf.getvalue())


class TensorBoardLog:
    """Scalars per epoch into ``folder`` (tensorboardX's event-file writer)."""

    def __init__(self, folder: Path):
        from specc.extras import EnvError, MissingDependency

        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            raise MissingDependency("tensorboardX", "--tensorboard", "install it with pip install 'specc[tensorboard]', or train without --tensorboard") from None
        try:
            self.writer = SummaryWriter(logdir=str(folder), flush_secs=30)
        except OSError as e:
            raise EnvError(f"cannot write TensorBoard logs in {folder}: {e.strerror or e}", "choose an --out folder you can write to (nothing was trained)") from None

    def epoch(self, entry: dict, examples_per_second: float | None) -> None:
        step = int(entry["step"])
        for part in ("train", "val"):
            for k, v in (entry.get(part) or {}).items():
                self.writer.add_scalar(f"{k}/{part}", float(v), step)
        if entry.get("lr") is not None:
            self.writer.add_scalar("lr", float(entry["lr"]), step)
        if examples_per_second:
            self.writer.add_scalar("examples_per_second", float(examples_per_second), step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
