"""The model summary ``specc check`` prints: one row per layer (name, op, output shape,
parameters, and inputs where the graph is not a plain chain), then the totals — the
same numbers Keras' ``model.summary()`` reports."""

from __future__ import annotations

import shutil

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from specc._nogc import paused_gc
from specc.ir.graph import Model
from specc.ir.types import fmt_shape

__all__ = ["summary_table", "print_summary", "human_bytes"]


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} GB"  # pragma: no cover


MAX_CELL = 120


def _clip(text: str, limit: int = MAX_CELL) -> str:
    """A cell's text, its middle elided when very long (rich lays out a long unbreakable
    word in time quadratic in its length: a 200,000-character name took minutes)."""
    if len(text) <= limit:
        return text
    half = (limit - 1) // 2
    return f"{text[:half]}…{text[-half:]}"


def _is_chain(model: Model) -> bool:
    prev = [i.name for i in model.inputs]
    for n in model.nodes:
        if list(n.inputs) != prev[:1] or len(prev) != 1:
            return False
        prev = [n.name]
    return True


def summary_table(model: Model) -> Table:
    show_inputs = not _is_chain(model)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, title=None)
    table.add_column("Layer", no_wrap=True)
    table.add_column("Op", overflow="fold", ratio=1)
    table.add_column("Output shape", no_wrap=True)
    table.add_column("Params", justify="right", no_wrap=True)
    if show_inputs:
        table.add_column("Inputs", overflow="fold")
    for i in model.inputs:
        row = [_clip(i.name), "input", _clip(f"{i.type.dtype}{fmt_shape(i.type.shape, batch=True)}"), "0"]
        table.add_row(*map(Text, row), *([Text("")] if show_inputs else []))
    for n in model.nodes:
        count = sum(w.size for w in model.node_weights(n))
        shapes = "\n".join(_clip(fmt_shape(t.shape, batch=True)) for t in n.types)
        name = _clip(n.name) + ("" if n.trainable or count == 0 else " (frozen)")
        row = [name, _clip(n.op.describe(), 4 * MAX_CELL), shapes, f"{count:,}"]
        if show_inputs:
            row.append(", ".join(_clip(i) for i in n.inputs))
        table.add_row(*map(Text, row))  # Text: shapes like [batch, 8] are not markup
    return table


def print_summary(model: Model, console: Console | None = None) -> None:
    with paused_gc():  # rich builds many small objects; collecting them costs 2× on big models
        _print_summary(model, console)


def _print_summary(model: Model, console: Console | None) -> None:
    width = shutil.get_terminal_size((120, 24)).columns
    console = console or Console(highlight=False, markup=False, width=max(width, 100))
    src = f"  ({_clip(model.source)})" if model.source else ""
    console.print(f"Model: {_clip(model.name)}{src}", soft_wrap=True)
    console.print(summary_table(model))
    trainable, frozen = model.count_params()
    total = trainable + frozen
    console.print(f"Total params: {total:,} ({human_bytes(4 * total)} as float32)", soft_wrap=True)
    console.print(f"Trainable params: {trainable:,}", soft_wrap=True)
    console.print(f"Non-trainable params: {frozen:,}", soft_wrap=True)
    outs = ", ".join(f"{_clip(o)} {_clip(fmt_shape(model.type_of(o).shape, batch=True))}" for o in model.outputs)
    console.print(f"Outputs: {outs}", soft_wrap=True)
    if model.train is not None:
        t = model.train
        parts = [f"loss {t.loss.describe()}", f"optimizer {t.optimizer.describe()}"]
        if t.schedule is not None:
            parts.append(f"schedule {t.schedule.describe()}")
        if t.metrics:
            parts.append("metrics [" + ", ".join(m.describe() for m in t.metrics) + "]")
        parts.append(f"batch {t.batch}, epochs {t.epochs}, seed {t.seed}")
        console.print("Training: " + "; ".join(parts), soft_wrap=True)
