"""What a training run shows and leaves behind: a rich progress bar per epoch (running
loss), one line per epoch, a final table of train/validation metrics, ``history.json`` and
a learning-curve PNG (matplotlib, Agg backend, imported only here)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Column
from rich.table import Table

from specc.fsutil import atomic_write

__all__ = ["Progressbar", "metrics_table", "plot_curves", "fmt_metrics"]


def fmt_metrics(m: dict[str, float] | None) -> str:
    if not m:
        return "—"
    return "  ".join(f"{k} {v:.4f}" for k, v in m.items())


#: redraws of the bar per second (rich's default is 10): each redraw renders the whole bar
#: in a thread beside the training steps, ~10 % of a small model's CPU at rich's rate
REFRESH_PER_SECOND = 4


class Progressbar:
    """One bar per epoch: batches done, the time left, examples per second, the learning
    rate, and the running loss and metrics (training mode) — in this order, so that a
    narrow terminal cuts the metrics, never the time left (the epoch's line ends with its
    seconds and metrics)."""

    def __init__(self, console: Console, enabled: bool = True):
        self.console = console
        self.enabled = enabled
        self.progress: Progress | None = None
        self.task = None

    def begin(self, epoch: int, epochs: int, batches: int, batch: int = 0, examples: int = 0) -> None:
        if not self.enabled:
            return
        self.batch, self.examples = batch, examples
        # the time left and the speed never shrink; the loss and metrics (also on the epoch's
        # line) get what an 80-column terminal leaves, cut with an ellipsis
        self.progress = Progress(
            TextColumn("epoch {task.fields[epoch]}", table_column=Column(no_wrap=True)),
            BarColumn(bar_width=max(10, min(40, self.console.width - 100))),
            MofNCompleteColumn(table_column=Column(no_wrap=True)),
            TextColumn("ETA", table_column=Column(no_wrap=True)),
            TimeRemainingColumn(table_column=Column(no_wrap=True)),
            TextColumn("{task.fields[speed]}", table_column=Column(no_wrap=True)),
            TextColumn("loss {task.fields[loss]}", table_column=Column(no_wrap=True, overflow="ellipsis", max_width=max(8, self.console.width - 62))),
            console=self.console,
            transient=True,
            refresh_per_second=REFRESH_PER_SECOND,
        )
        self.progress.start()
        self.task = self.progress.add_task("train", total=batches, epoch=f"{epoch + 1}/{epochs}", loss="…", speed="")

    def advance(self, loss: float, metrics: dict[str, float] | None = None, lr: float | None = None) -> None:
        if self.progress is not None:
            shown = f"{loss:.4f}" + "".join(f"  {k} {v:.4f}" for k, v in (metrics or {}).items())
            task = self.progress.tasks[0]
            seen = min((task.completed + 1) * self.batch, self.examples)
            elapsed = task.elapsed or 0.0
            speed = f"{seen / elapsed:,.0f} ex/s" if elapsed > 0 and seen else ""
            if lr is not None:
                speed = f"{speed}  lr {lr:.3g}".strip()
            self.progress.update(self.task, advance=1, loss=shown, speed=speed)

    def end(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def metrics_table(title: str, rows: list[tuple[str, dict[str, float] | None]]) -> Table:
    names: list[str] = []
    for _, m in rows:
        for k in m or {}:
            if k not in names:
                names.append(k)
    table = Table(title=title)
    table.add_column("data")
    for n in names:
        table.add_column(n, justify="right")
    for label, m in rows:
        if m:
            table.add_row(label, *(f"{m[n]:.4f}" if n in m else "" for n in names))
    return table


def plot_curves(history: list[dict], path: Path, title: str) -> Path | None:
    """Loss and the first metric per epoch, train and validation; written atomically."""
    if not history:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
    except ImportError:  # the caller says so (train: a note)
        return None
    epochs = [h["epoch"] for h in history]
    metric = next((k for k in history[-1]["train"] if k != "loss"), None)
    panels = ["loss"] + ([metric] if metric else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
    for ax, name in zip(axes[0], panels, strict=True):
        for part, style in (("train", "-o"), ("val", "-s")):
            ys = [h[part][name] if h.get(part) else None for h in history]
            if any(y is not None for y in ys):
                ax.plot(epochs, ys, style, label=part if part == "train" else "validation", markersize=3)
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    try:  # atomically, with the same permissions as every other file of the run
        atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
    finally:
        plt.close(fig)
    return path
