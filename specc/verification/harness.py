"""``specc.verify``: prove two backends compute the same function for a spec.

1. canonical weights from the spec's initialisers (seeded), constants randomised so every
   weight matters; random inputs of the declared shapes and valid targets for the loss;
2. both backends built with those weights; every layer's output compared in inference mode;
3. the loss and the gradient of every trainable weight compared on one batch (training
   mode);
4. ``steps`` optimizer steps on identical batches (schedule and optimizer state included);
   all weights — batch-norm statistics too — compared after each.

Dropout and other random layers cannot draw the same masks in two frameworks, so they are
neutralised (rate 0) for the comparison, and the report says so.  In float64 the dtypes of
weights and activations are checked on both sides, so float32 round-off can never pass
for a float64 comparison.
"""

from __future__ import annotations

import contextlib
import os
import time

import numpy as np

from specc.compiler import as_model
from specc.ir.graph import Model
from specc.ir.transforms import without_dropout

from .data import random_inputs, random_targets, verification_weights
from .probes import make_probe
from .report import Report, Row
from .tolerance import forward_tolerance, gradient_tolerance, step_tolerance

__all__ = ["verify", "VerifyError"]


class VerifyError(Exception):
    """The comparison could not be run (e.g. float64 asked for but not computed)."""


def _depths(model: Model) -> dict[str, int]:
    """Number of weighted layers on the longest path up to each tensor."""
    depth = {i.name: 0 for i in model.inputs}
    for n in model.nodes:
        d = max((depth[t] for t in n.inputs), default=0) + (1 if model.node_weights(n) else 0)
        for o in n.outputs:
            depth[o] = d
    return depth


def _compare(phase: str, name: str, ref: np.ndarray, other: np.ndarray, tol, op: str = "") -> Row:
    ref = np.asarray(ref, dtype=np.float64)
    other = np.asarray(other, dtype=np.float64)
    if ref.shape != other.shape:
        return Row(phase, name, tuple(ref.shape), float("inf"), float("inf"), 0.0, tol.rtol, False, op + f" shape {other.shape}")
    if ref.size == 0:
        return Row(phase, name, tuple(ref.shape), 0.0, 0.0, tol.atol, tol.rtol, True, op)
    diff = np.abs(ref - other)
    nonfinite = ~(np.isfinite(ref) & np.isfinite(other))
    if nonfinite.any():
        same = (ref == other) | (np.isnan(ref) & np.isnan(other))
        if not same[nonfinite].all():
            return Row(phase, name, tuple(ref.shape), float("inf"), float("inf"), 0.0, tol.rtol, False, op)
        diff = np.where(nonfinite, 0.0, diff)
    scale = float(np.max(np.abs(np.where(np.isfinite(ref), ref, 0.0))))
    max_abs = float(diff.max())
    bound = tol.bound(scale)
    return Row(phase, name, tuple(ref.shape), max_abs, max_abs / scale if scale else max_abs, bound, tol.rtol, max_abs <= bound, op)


@contextlib.contextmanager
def _one_framework_at_a_time():
    """Both frameworks in one process fight over the cores: torch's OpenMP workers spin
    while TensorFlow's pools wait (a 10× slow-down seen on 2 cores).  The comparison runs
    small batches, so torch works single-threaded for its duration; restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def verify(
    spec,
    *,
    backends: tuple[str, str] | list[str] = ("torch", "keras"),
    dtype: str = "float32",
    steps: int | None = None,
    seed: int = 0,
    batch: int | None = None,
    device: str | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    against=None,
    weights=None,
    inputs: list[str] | None = None,
) -> Report:
    """Compare ``spec`` across two backends; see the module docstring.  Returns a Report
    (``.ok``, ``.verdict()``, ``.rows``, ``.first_failure``, ``.to_json()``).

    With ``against`` (a user's ``nn.Module`` / ``keras.Model``, a callable building one, or
    ``FILE.py:NAME`` / a ``.keras`` path) the user's model is compared with the spec
    instead (:mod:`specc.verification.against`); ``weights`` are then the spec's canonical
    weights to use (default: drawn from the spec), ``inputs`` the example inputs for tracing
    a torch port (``NAME:DTYPE[DIMS]``, its own layout)."""
    if against is not None:
        from .against import verify_against

        return verify_against(
            spec, against, dtype=dtype, steps=steps, seed=seed, batch=batch, weights=weights, inputs=inputs,
            backend=None if tuple(backends) == ("torch", "keras") else tuple(backends)[0], rtol=rtol, atol=atol,
        )
    if weights is not None or inputs is not None:
        raise ValueError("weights= and inputs= go with against=")
    with _one_framework_at_a_time():
        return _verify(spec, backends, dtype, steps, seed, batch, device, rtol, atol)


def _verify(spec, backends, dtype, steps, seed, batch, device, rtol, atol) -> Report:
    started = time.perf_counter()
    model = as_model(spec)
    if len(backends) != 2:
        raise ValueError("verify compares exactly two backends")
    a_name, b_name = backends
    cfg = model.verify
    steps = cfg.steps if steps is None else steps
    batch = cfg.batch if batch is None else batch
    if dtype == "float64":
        rtol = cfg.rtol64 if rtol is None else rtol
        atol = cfg.atol64 if atol is None else atol
    else:
        rtol = cfg.rtol if rtol is None else rtol
        atol = cfg.atol if atol is None else atol
    notes: list[str] = []
    vmodel = model
    if model.stochastic:
        vmodel = without_dropout(model)
        names = [n.name for n in model.nodes if n.op.stochastic]
        notes.append(f"dropout neutralised (rate 0) for the comparison in: {', '.join(names)} — random masks cannot match across frameworks")
    weights, randomised = verification_weights(vmodel, seed)
    if randomised:
        notes.append(f"{len(randomised)} constant-initialised weights (biases, norm parameters, statistics) randomised so every weight is tested")
    rng = np.random.default_rng([seed, 31337])
    x = random_inputs(vmodel, batch, rng, dtype)
    if device and device.startswith("cuda"):
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    a = make_probe(a_name, vmodel, weights, dtype, device)
    b = make_probe(b_name, vmodel, weights, dtype, device)
    report = Report(
        spec=model.source or "<string>",
        model=model.name,
        backends=(a_name, b_name),
        dtype=dtype,
        device=device or "cpu",
        batch=batch,
        steps=steps if model.train is not None else 0,
        seed=seed,
        notes=notes,
    )
    depth = _depths(vmodel)

    # ---- forward, layer by layer
    ta, tb = a.trace(x), b.trace(x)
    for node in vmodel.nodes:
        for tid in node.outputs:
            tol = forward_tolerance(node.op.family, depth[tid], dtype, rtol, atol)
            report.rows.append(_compare("forward", tid, ta[tid], tb[tid], tol, node.op.kind))

    # ---- loss and gradients, then optimizer steps
    if vmodel.train is not None:
        y = random_targets(vmodel, batch, rng, dtype)
        la, ga = a.loss_and_grads(x, y)
        lb, gb = b.loss_and_grads(x, y)
        out_depth = max(depth[o] for o in vmodel.outputs)
        report.rows.append(_compare("loss", "loss", np.array(la), np.array(lb), forward_tolerance("dense", out_depth, dtype, rtol, atol)))
        gtol = gradient_tolerance(out_depth, dtype)
        for name in ga:
            report.rows.append(_compare("gradient", name, ga[name], gb[name], gtol))
        a.set_weights(weights)  # the training-mode pass moved batch-norm statistics
        b.set_weights(weights)
        for s in range(1, steps + 1):
            xs = random_inputs(vmodel, batch, rng, dtype)
            ys = random_targets(vmodel, batch, rng, dtype)
            a.step(xs, ys)
            b.step(xs, ys)
            wa, wb = a.weights(), b.weights()
            stol = step_tolerance(s, dtype)
            for name in wa:
                report.rows.append(_compare(f"step {s}", name, wa[name], wb[name], stol))
    else:
        notes.append("the spec has no train section: loss, gradients and optimizer steps not compared")

    report.dtypes = {a_name: sorted(a.dtypes()), b_name: sorted(b.dtypes())}
    if dtype == "float64":
        for name, found in report.dtypes.items():
            lower = [d for d in found if d not in ("float64",)]
            if lower:
                raise VerifyError(f"float64 comparison, but {name} holds or computes {', '.join(lower)}: the result would not be a float64 comparison")
    report.seconds = time.perf_counter() - started
    return report
