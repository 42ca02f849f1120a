"""The loss and metrics specc reports, computed in numpy from model outputs — the same
code for both backends, so their numbers are comparable.

The loss follows ``specc/ir/losses.py`` on the model's outputs (probabilities are clipped
to [1e-7, 1 − 1e-7]; logits when the loss says ``from_logits``), summed over outputs,
plus the spec's weight penalties (computed from the canonical weights) — the quantity
training minimises.  Metrics follow ``specc/ir/metrics.py`` and
:func:`specc.backends.common.metric_setup`; they read the first output."""

from __future__ import annotations

import numpy as np

from specc.backends.common import metric_setup
from specc.ir.graph import Model

__all__ = ["loss_value", "metric_values", "metric_function", "penalty_value", "evaluate_outputs", "metric_names"]

EPS = 1e-7


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def loss_value(model: Model, outputs: list[np.ndarray], targets: list[np.ndarray]) -> float:
    loss = model.train.loss
    k = loss.kind
    logits = bool(getattr(loss, "from_logits", False))
    ls = float(getattr(loss, "label_smoothing", 0.0))
    total = 0.0
    for p, y in zip(outputs, targets, strict=True):
        p = np.asarray(p, np.float64)
        if k == "mse":
            v = np.mean((p - y) ** 2)
        elif k == "mae":
            v = np.mean(np.abs(p - y))
        elif k == "huber":
            e = np.abs(p - y)
            d = loss.delta
            v = np.mean(np.where(e <= d, 0.5 * e**2, d * (e - 0.5 * d)))
        elif k == "binary_crossentropy":
            y = y * (1 - ls) + 0.5 * ls if ls else y
            if logits:
                v = np.mean(np.maximum(p, 0) - p * y + np.log1p(np.exp(-np.abs(p))))
            else:
                q = np.clip(p, EPS, 1 - EPS)
                v = -np.mean(y * np.log(q) + (1 - y) * np.log(1 - q))
        elif k in ("categorical_crossentropy", "sparse_categorical_crossentropy"):
            c = p.shape[-1]
            if k == "sparse_categorical_crossentropy":
                y = np.eye(c)[y]
            if ls:
                y = y * (1 - ls) + ls / c
            if logits:
                logp = _log_softmax(p)
            elif k == "categorical_crossentropy":
                logp = np.log(np.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS))
            else:
                logp = _log_softmax(np.log(np.clip(p, EPS, 1 - EPS)))
            v = -np.mean((y * logp).sum(-1))
        elif k == "kl_divergence":
            yc, q = np.clip(y, EPS, 1), np.clip(p, EPS, 1)
            v = np.mean((yc * np.log(yc / q)).sum(-1))
        else:  # pragma: no cover - a new loss without a numpy twin
            raise ValueError(f"no numpy loss for {k}")
        total += float(v)
    return total


def penalty_value(model: Model, weights: dict[str, np.ndarray]) -> float:
    """Σ l1·Σ|w| + l2·Σw² over the regularised trainable weights."""
    total = 0.0
    for node, w in model.weights():
        reg = w.regularizer
        if reg is None or not (reg.l1_coef or reg.l2_coef) or not (w.trainable and node.trainable):
            continue
        v = weights[f"{node.name}.{w.name}"]
        total += reg.l1_coef * float(np.abs(v).sum()) + reg.l2_coef * float(np.square(v).sum())
    return total


def metric_names(model: Model) -> list[str]:
    names = []
    for m in model.train.metrics if model.train else ():
        name = m.report_name
        if name not in names:
            names.append(name)
    return names


def _scores(tp, fp, fn, which: str) -> np.ndarray:
    def div(a, b):
        return np.where(b > 0, a / np.maximum(b, 1e-12), 0.0)

    p, r = div(tp, tp + fp), div(tp, tp + fn)
    return {"precision": p, "recall": r, "f1": div(2 * p * r, p + r)}[which]


def metric_values(model: Model, output: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """The spec's metrics of the first output against its targets."""
    return metric_function(model)(output, target)


def metric_function(model: Model):
    """``metric_values`` for ``model`` with its metric list and setup worked out once:
    ``f(output, target) -> {name: value}`` (per training step, for the progress bar)."""
    setup = metric_setup(model)
    mode, thr, classes = setup["mode"], setup["threshold"], setup["classes"]
    metrics = list(zip(_unique(model), metric_names(model), strict=True))

    def values(output: np.ndarray, target: np.ndarray) -> dict[str, float]:
        p = np.asarray(output, np.float64)
        y = np.asarray(target)
        out: dict[str, float] = {}
        for m, name in metrics:
            out[name] = _metric(m, mode, thr, classes, p, y)
        return out

    return values


def _metric(m, mode: str, thr: float, classes: int, p: np.ndarray, y: np.ndarray) -> float:
    if m.kind == "accuracy":
        if mode == "sparse":
            v = np.mean(p.argmax(-1) == y)
        elif mode == "categorical":
            v = np.mean(p.argmax(-1) == y.argmax(-1))
        elif mode == "binary":
            v = np.mean((p > thr) == (y > 0.5))
        else:
            v = np.mean(p == y)
    elif m.kind == "mae":
        v = np.mean(np.abs(p - y))
    else:
        binary = mode in ("binary", "exact") or classes == 1
        if binary:
            t = 0.0 if thr == 0.0 else m.threshold
            pred, true = (p > t).reshape(-1), (y > 0.5).reshape(-1)
            tp, fp, fn = np.sum(pred & true), np.sum(pred & ~true), np.sum(~pred & true)
            v = _scores(np.float64(tp), np.float64(fp), np.float64(fn), m.kind)
        else:
            pred = p.argmax(-1).reshape(-1)
            true = (y if mode == "sparse" else y.argmax(-1)).reshape(-1)
            cls = np.arange(classes)[:, None]
            pc, tc = pred[None, :] == cls, true[None, :] == cls
            tp, fp, fn = (pc & tc).sum(1).astype(float), (pc & ~tc).sum(1).astype(float), (~pc & tc).sum(1).astype(float)
            if m.average == "micro":
                tp, fp, fn = tp.sum(), fp.sum(), fn.sum()
            v = np.mean(_scores(tp, fp, fn, m.kind))
    return float(v)


def _unique(model: Model):
    seen, out = set(), []
    for m in model.train.metrics if model.train else ():
        name = m.report_name
        if name not in seen:
            seen.add(name)
            out.append(m)
    return out


def evaluate_outputs(model: Model, outputs: list[np.ndarray], targets: list[np.ndarray], weights: dict[str, np.ndarray] | None = None) -> dict[str, float]:
    """``{"loss": …, <metric>: …}`` for predictions ``outputs`` (one array per output)."""
    loss = loss_value(model, outputs, targets)
    if weights is not None:
        loss += penalty_value(model, weights)
    return {"loss": loss, **metric_values(model, outputs[0], targets[0])}
