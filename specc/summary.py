"""The model summary ``specc check`` prints: one row per layer (name, op, output shape,
parameters, multiply-accumulates of one example, and inputs where the graph is not a plain
chain), then the totals — parameters as Keras' ``model.summary()`` counts them, MACs/FLOPs
and activation memory as torchinfo reports them (:mod:`specc.ir.cost`).  Plain text, laid
out in linear time (rich's table layout cost ~0.5 ms a row; this is a few µs), never
wrapped: each row is one line wherever it is read."""

from __future__ import annotations

import sys
from typing import IO, Any

from specc._nogc import paused_gc
from specc.ir.cost import ModelCost, model_cost
from specc.ir.graph import Model
from specc.ir.types import fmt_shape

__all__ = ["summary_rows", "summary_text", "print_summary", "human_bytes", "human_count"]


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} GB"  # pragma: no cover


def human_count(n: int, unit: str) -> str:
    """(1234567, 'FLOPs') → '1.23 MFLOPs' (K, M, G, T)."""
    for prefix, scale in (("T", 10**12), ("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= scale:
            return f"{n / scale:.2f} {prefix}{unit}"
    return f"{n} {unit}"


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


def summary_rows(model: Model, cost: ModelCost | None = None) -> tuple[list[str], list[list[str]]]:
    """The table's header and rows (one per input and per layer; a cell may hold several
    lines: one output shape per output)."""
    cost = cost or model_cost(model)
    show_inputs = not _is_chain(model)
    header = ["Layer", "Op", "Output shape", "Params", "MACs", *(["Inputs"] if show_inputs else [])]
    rows: list[list[str]] = []
    for i in model.inputs:
        rows.append([_clip(i.name), "input", _clip(f"{i.type.dtype}{fmt_shape(i.type.shape, batch=True)}"), "0", "0", *([""] if show_inputs else [])])
    # the layers of a repeat or of a block called again share their op (and often their
    # shapes): each is rendered once
    # (keyed by id: the ops and types are the model's, alive while it is, so ids are their own)
    described: dict[int, str] = {}  # id(op) → its text
    shaped: dict[tuple, str] = {}  # ids of a node's output types → its shape cell
    for n, c in zip(model.nodes, cost.layers, strict=True):
        count = c.params
        shapes = shaped.get(key := tuple(map(id, n.types)))
        if shapes is None:
            shapes = shaped[key] = "\n".join(_clip(fmt_shape(t.shape, batch=True)) for t in n.types)
        name = (n.name if len(n.name) <= MAX_CELL else _clip(n.name)) + ("" if n.trainable or count == 0 else " (frozen)")
        text = described.get(id(n.op))
        if text is None:
            text = described[id(n.op)] = _clip(n.op.describe(), 4 * MAX_CELL)
        op = text if n.shares is None else _clip(f"{n.op.describe()} (shares {n.shares})", 4 * MAX_CELL)
        row = [name, op, shapes, f"{count:,}", "?" if c.macs is None else f"{c.macs:,}"]
        if show_inputs:
            row.append(", ".join(i if len(i) <= MAX_CELL else _clip(i) for i in n.inputs))
        rows.append(row)
    return header, rows


_RIGHT = {"Params", "MACs"}
GAP = "   "


def summary_text(model: Model, cost: ModelCost | None = None) -> str:
    """The summary as text: column widths from the longest cell, three spaces between
    columns, Params and MACs right-aligned.  Plain string work, linear in the size of the model."""
    header, rows = summary_rows(model, cost)
    columns = list(zip(*rows)) if rows else [() for _ in header]
    multi = [k for k, col in enumerate(columns) if "\n" in "".join(col)]  # cells of several lines (outputs)
    widths = [
        max(len(h), max((len(line) for cell in col for line in cell.split("\n")) if k in multi else map(len, col), default=0))
        for k, (h, col) in enumerate(zip(header, columns, strict=True))
    ]
    # one format per line (as str.ljust / str.rjust pad); the cells are its arguments, never its
    # text.  A left-aligned last column is not padded: the padding would be stripped again, and
    # padding every row to one very long cell (a concat of 10,000 inputs) is quadratic
    fields = [f"{{:{'>' if h in _RIGHT else '<'}{w}}}" for h, w in zip(header, widths, strict=True)]
    if header[-1] not in _RIGHT:
        fields[-1] = "{}"
    line = GAP.join(fields).format
    out = [line(*header).rstrip(), "─" * (sum(widths) + len(GAP) * (len(widths) - 1))]
    for row in rows:
        if multi and any("\n" in row[k] for k in multi):
            cells = [cell.split("\n") for cell in row]
            for j in range(max(len(lines) for lines in cells)):
                out.append(line(*(lines[j] if j < len(lines) else "" for lines in cells)).rstrip())
        else:
            out.append(line(*row).rstrip())
    return "\n".join(out)


def print_summary(model: Model, out: IO[str] | Any | None = None) -> None:
    """Print the summary to ``out`` (a text stream, or anything with a ``file`` attribute
    such as a rich Console; default: standard output)."""
    with paused_gc():
        text = _summary(model)
    stream = getattr(out, "file", out) if out is not None else sys.stdout
    stream.write(text + "\n")


def _summary(model: Model) -> str:
    src = f"  ({_clip(model.source)})" if model.source else ""
    cost = model_cost(model)
    lines = [f"Model: {_clip(model.name)}{src}", summary_text(model, cost)]
    trainable, frozen = model.count_params()
    total = trainable + frozen
    lines.append(f"Total params: {total:,} ({human_bytes(4 * total)} as float32)")
    lines.append(f"Trainable params: {trainable:,}")
    lines.append(f"Non-trainable params: {frozen:,}")
    for label, value, unknown in (
        ("MACs per example", f"{cost.macs:,} ({human_count(cost.flops, 'FLOPs')})", cost.unknown_macs),
        (
            "Activations per example",
            f"{cost.activation_values:,} values, {human_bytes(cost.activation_bytes)}"
            f" (forward/backward pass size as torchinfo counts it: {human_bytes(cost.torchinfo_pass_bytes)})",
            cost.unknown_activations,
        ),
    ):
        more = f" + ? ({unknown} layer{'s' * (unknown != 1)} depend{'s' * (unknown == 1)} on dimensions that are not known)" if unknown else ""
        lines.append(f"{label}: {value}{more}")
    outs = ", ".join(f"{_clip(o)} {_clip(fmt_shape(model.type_of(o).shape, batch=True))}" for o in model.outputs)
    lines.append(f"Outputs: {outs}")
    if model.train is not None:
        t = model.train
        parts = [f"loss {t.loss.describe()}", f"optimizer {t.optimizer.describe()}"]
        if t.schedule is not None:
            parts.append(f"schedule {t.schedule.describe()}")
        if t.metrics:
            parts.append("metrics [" + ", ".join(m.describe() for m in t.metrics) + "]")
        if t.callbacks:
            parts.append("callbacks [" + ", ".join(c.describe() for c in t.callbacks) + "]")
        parts.append(f"batch {t.batch}, epochs {t.epochs}, seed {t.seed}")
        lines.append("Training: " + "; ".join(parts))
    return "\n".join(lines)
