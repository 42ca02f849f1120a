"""``--init-from CKPT``: start from saved canonical weights, layer by layer.

A layer of the model takes the checkpoint's weights when the checkpoint has every one of
its weights under the same names with the same shapes (*matched*); a layer whose weights
are there with other shapes keeps its initial weights (*skipped*); a layer the checkpoint
lacks keeps them too (*missing*); checkpoint layers the model lacks are *unused*."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from specc.ir.graph import Model

__all__ = ["InitReport", "merge_init"]


@dataclass
class InitReport:
    matched: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "layer: why"
    missing: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)

    def lines(self, source: str) -> list[str]:
        out = [f"init from {source}: {len(self.matched)} layer(s) loaded, {len(self.skipped)} skipped (shape mismatch), {len(self.missing)} missing, {len(self.unused)} unused"]
        if self.matched:
            out.append("  loaded:  " + ", ".join(self.matched))
        for s in self.skipped:
            out.append("  skipped: " + s)
        if self.missing:
            out.append("  missing (initialised from the spec): " + ", ".join(self.missing))
        if self.unused:
            out.append("  unused (not in this model): " + ", ".join(self.unused))
        return out


def _layer(key: str) -> str:
    return key.rsplit(".", 1)[0]


def merge_init(model: Model, init: dict[str, np.ndarray], ckpt: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], InitReport]:
    weights = dict(init)
    report = InitReport()
    layers: dict[str, list] = {}
    for node, w in model.weights():
        layers.setdefault(node.name, []).append((f"{node.name}.{w.name}", tuple(w.shape)))
    for layer, items in layers.items():
        present = [(k, s) for k, s in items if k in ckpt]
        if not present:
            report.missing.append(layer)
            continue
        bad = [f"{k.rsplit('.', 1)[1]} {tuple(ckpt[k].shape)} in the checkpoint vs {s} here" for k, s in present if tuple(ckpt[k].shape) != s]
        lacking = [k.rsplit(".", 1)[1] for k, _ in items if k not in ckpt]
        if bad or lacking:
            why = "; ".join(bad + ([f"checkpoint lacks {', '.join(lacking)}"] if lacking else []))
            report.skipped.append(f"{layer} ({why})")
            continue
        for k, _ in items:
            weights[k] = np.asarray(ckpt[k], dtype=np.float64)
        report.matched.append(layer)
    report.unused = sorted({_layer(k) for k in ckpt} - set(layers))
    return weights, report
