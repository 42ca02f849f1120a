"""``specc verify FILE.spec --against SRC`` / ``specc.verify(model, against=obj)``: check a
user's own model (a hand-written port) against a spec.

1. The user's model is imported (:mod:`specc.importers`), which also gives where each of its
   layers computes its output and how its parameters map to canonical weights.
2. Spec and port are matched layer by layer: the *anchors* of each — every layer except
   activations, dropout and pure layout changes, an anchor's value taken after the
   activations that follow it (``conv2d(activation=relu)`` ↔ ``Conv2d`` then ``relu``) —
   must pair up in order, with the same kind and weight shapes; otherwise the first
   mismatch is reported.
3. The port gets the spec's canonical weights through the same mapping; its per-anchor
   outputs (inference mode), the loss (the spec's loss on the port's outputs), the gradient
   of every weight and the weights after ``steps`` optimizer steps — the spec's optimizer as
   the port's framework implements it — are compared with the spec compiled by specc, with
   the same tolerances as ``specc verify``; the first diverging layer is named.
"""

from __future__ import annotations

import copy
import math
import os
import time

import numpy as np

from specc.compiler import as_model
from specc.ir.transforms import without_dropout

from .data import random_inputs, random_targets, verification_weights
from .harness import VerifyError, _compare, _depths, _one_framework_at_a_time
from .probes import make_probe
from .report import Report
from .tolerance import distance, forward_tolerance, gradient_tolerance, perturb, step_tolerance

__all__ = ["verify_against", "match_layers"]

_PASSIVE = {"activation", "dropout", "permute", "reshape"}


def _anchors(model) -> list[tuple[object, str]]:
    """(anchor node, tensor holding its value after trailing activations), in order."""
    out = []
    for n in model.nodes:
        if n.op.kind in _PASSIVE:
            continue
        tid = n.name
        while True:
            users = model.consumers(tid)
            if len(users) == 1 and users[0].op.kind in ("activation", "dropout") and tid not in model.outputs:
                tid = users[0].name
                continue
            break
        out.append((n, tid))
    return out


def _signature(model, node) -> tuple:
    return (node.op.kind, tuple(tuple(w.shape) for w in model.node_weights(node)))


def match_layers(spec_model, user_model) -> tuple[list[tuple[str, str, str, str]], str | None]:
    """Pairs (spec node, spec tensor, port node, port tensor) of anchors, and the first
    structural mismatch (None when the structures agree)."""
    sa, ua = _anchors(spec_model), _anchors(user_model)
    pairs = []
    for i in range(max(len(sa), len(ua))):
        if i >= len(sa) or i >= len(ua):
            extra = ua[i][0] if i < len(ua) else sa[i][0]
            side = "port" if i < len(ua) else "spec"
            return pairs, f"the {side} has a further layer '{extra.name}' ({extra.op.kind}) the other lacks"
        (s, st), (u, ut) = sa[i], ua[i]
        ss, us = _signature(spec_model, s), _signature(user_model, u)
        if ss != us:
            return pairs, (
                f"layer {i + 1}: the spec has '{s.name}' = {s.op.kind} with weights {list(ss[1])}, "
                f"the port has '{u.name}' = {u.op.kind} with weights {list(us[1])}"
            )
        pairs.append((s.name, st, u.name, ut))
    return pairs, None


def _load_user(against, dtype: str, inputs):
    """The user's model object (built in ``dtype`` where it is a recipe) and its import."""
    from specc.importers import import_model, load_source

    obj = against
    if isinstance(against, (str, os.PathLike)) or callable(against) and not _is_model(against):
        if dtype == "float64":
            os.environ.setdefault("KERAS_BACKEND", "tensorflow")
            import keras

            old, old_x = keras.config.dtype_policy(), keras.config.floatx()
            keras.config.set_dtype_policy("float64")
            keras.config.set_floatx("float64")
            try:
                obj = load_source(against) if isinstance(against, (str, os.PathLike)) else against()
            finally:
                keras.config.set_dtype_policy(old)
                keras.config.set_floatx(old_x)
        else:
            obj = load_source(against) if isinstance(against, (str, os.PathLike)) else against()
    fw = "torch" if any(c.__module__.startswith("torch.nn") for c in type(obj).__mro__) else "keras"
    if fw == "torch":
        obj = copy.deepcopy(obj)  # the comparison loads weights and trains: leave the user's object alone
    return obj, fw, import_model(obj, inputs if fw == "torch" else None)


def _is_model(obj) -> bool:
    return any(c.__module__.startswith(("torch.nn", "keras")) for c in type(obj).__mro__)


def _copied(weights: dict) -> dict:
    return {k: np.array(v, copy=True) for k, v in weights.items()}


def _unbiased_running_var(spec_model, weight_pairs, batch: int) -> dict[str, tuple[float, int]]:
    """Spec batch-norm nodes paired with a torch port's BatchNorm: (momentum, n) where n is
    the number of values each channel's batch statistics are taken over (torch's running_var
    uses their unbiased variance).  Nodes with unknown dimensions are left out (compared
    as they are, and then named)."""
    out = {}
    for s in weight_pairs:
        node = spec_model.node(s)
        if node.op.kind != "batch_norm":
            continue
        t = spec_model.input_types(node)[0]
        if not all(isinstance(d, int) for d in t.shape):
            continue
        per = int(np.prod([batch, *t.shape])) // max(1, int(np.prod(node.op.param_shape(t))))
        if per > 1:
            out[s] = (float(node.op.momentum), per)
    return out


def _torch_inputs(spec_model) -> list[str]:
    """--input for tracing a torch port from the spec's inputs: images channels-first."""
    out = []
    for i in spec_model.inputs:
        dims = [d if isinstance(d, int) else 8 for d in i.type.shape]
        if i.type.is_float and len(dims) >= 2 and i.type.rank >= 3:
            dims = [dims[-1], *dims[:-1]]
        out.append(f"{i.name}:{i.type.dtype}[{','.join(map(str, dims))}]")
    return out


def verify_against(
    spec,
    against,
    *,
    dtype: str = "float64",
    steps: int | None = None,
    seed: int = 0,
    batch: int | None = None,
    weights=None,
    inputs: list[str] | None = None,
    backend: str | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    port_weights: str = "spec",
) -> Report:
    """``port_weights="spec"``: the port gets the spec's canonical weights (it checks the
    port's structure and conventions); ``"own"``: the port keeps the weights it has (e.g.
    converted by the user's own code) and the spec runs with ``weights`` (it checks the
    conversion too)."""
    if port_weights not in ("spec", "own"):
        raise ValueError("port_weights is 'spec' or 'own'")
    if port_weights == "own" and weights is None:
        raise VerifyError("port_weights='own' compares the port's own weights with the spec's: give the spec's weights (--weights W)")
    with _one_framework_at_a_time():
        return _verify_against(spec, against, dtype, steps, seed, batch, weights, inputs, backend, rtol, atol, port_weights)


class _SpecSpread:
    """The spec's model run a second time, float64, on weights, inputs and batches perturbed
    by PERTURB64 (and its steps' gradients, see ``Probe.perturb_gradients``):
    ``of(phase, name, reference)`` is how far that run's value of a result moved (its
    sensitivity to round-off), computed once, lazily, for all results."""

    def __init__(self, backend, model, weights, x, y, batches, dtype):
        self.args = (backend, model, weights, x, y, batches, dtype)
        self.values: dict[tuple[str, str], np.ndarray] | None = None

    def _run(self) -> dict:
        backend, model, weights, x, y, batches, dtype = self.args
        rng = np.random.default_rng(4099)
        wp = {k: perturb(v, rng) for k, v in weights.items()}
        xp = [perturb(v, rng) for v in x]
        probe = make_probe(backend, model, wp, dtype, None)
        out = {("trace", k): v for k, v in probe.trace(xp).items()}
        if y is not None:
            loss, grads = probe.loss_and_grads(xp, y)
            out[("loss", "loss")] = np.array(loss)
            out.update({("grads", k): v for k, v in grads.items()})
            probe.set_weights(wp)
            probe.perturb_gradients(np.random.default_rng(8191))  # round-off in the gradients too (see Probe)
            for s, (xs, ys) in enumerate(batches, start=1):
                probe.step([perturb(v, rng) for v in xs], ys)
                out.update({(f"step {s}", k): np.array(v, copy=True) for k, v in probe.weights().items()})
        return out

    def of(self, phase: str, name: str, reference) -> float | None:
        if self.values is None:
            self.values = self._run()
        v = self.values.get((phase, name))
        return None if v is None else distance(reference, v)


def _verify_against(spec, against, dtype, steps, seed, batch, weights, inputs, backend, rtol, atol, port_weights="spec") -> Report:
    started = time.perf_counter()
    model = as_model(spec)
    cfg = model.verify
    steps = cfg.steps if steps is None else steps
    batch = cfg.batch if batch is None else batch
    rtol = (cfg.rtol64 if dtype == "float64" else cfg.rtol) if rtol is None else rtol
    atol = (cfg.atol64 if dtype == "float64" else cfg.atol) if atol is None else atol
    if inputs is None and not _is_model(against) and not isinstance(against, (str, os.PathLike)) and not callable(against):
        raise VerifyError("against must be a model, a recipe (callable) or a path")
    # torch ports are traced with example inputs: the spec's, channels-first for images
    obj, fw, imported = _load_user(against, dtype, inputs if inputs is not None else _torch_inputs(model))
    notes: list[str] = []
    vmodel = without_dropout(model) if model.stochastic else model
    if model.stochastic:
        notes.append("dropout neutralised (rate 0) in the spec and in the port for the comparison — random masks cannot match")
    pairs, mismatch = match_layers(vmodel, imported.model)
    weight_pairs = {s: u for s, _, u, _ in pairs if vmodel.node_weights(vmodel.node(s))}
    if weights is None:
        w, randomised = verification_weights(vmodel, seed)
        if randomised:
            notes.append(f"{len(randomised)} constant-initialised weights randomised so every weight is tested")
    else:
        from specc.weights import load as load_weights

        w = load_weights(weights) if isinstance(weights, (str, os.PathLike)) else dict(weights)
    spec_backend = backend or fw
    report = Report(
        spec=model.source or "<string>",
        model=model.name,
        backends=(f"spec ({spec_backend})", f"port ({fw}: {type(obj).__name__})"),
        dtype=dtype,
        device="cpu",
        batch=batch,
        steps=steps if model.train is not None else 0,
        seed=seed,
        notes=notes,
    )
    from .report import Row

    if mismatch is not None:
        report.rows.append(Row("structure", mismatch.split("'")[1] if "'" in mismatch else "model", (), float("inf"), float("inf"), 0.0, 0.0, False, mismatch))
        report.notes.append("the port's layers do not correspond to the spec's: " + mismatch)
        report.seconds = time.perf_counter() - started
        return report
    from .user_probes import UserKerasProbe, UserTorchProbe, optimizer_notes

    a = make_probe(spec_backend, vmodel, w, dtype, None)
    b = (UserTorchProbe if fw == "torch" else UserKerasProbe)(imported, weight_pairs, vmodel, dtype)
    if port_weights == "own":
        own = b.weights()
        notes.append("the port keeps its own weights; the spec runs with the given weights (a difference may be in the port's weight conversion)")
    else:
        own = w
        b.set_weights(w)
    notes.append("correspondence (spec ↔ port): " + ", ".join(f"{s} ↔ {imported.mapping[u]}" for s, _, u, _ in pairs))
    if fw == "torch" and any(n.op.kind in ("lstm", "simple_rnn", "bidirectional") for n in imported.model.nodes):
        notes.append("torch recurrences' bias_hh is held at zero and frozen (the spec has one bias per gate; torch would train both)")
    unbiased = _unbiased_running_var(vmodel, weight_pairs, batch) if fw == "torch" else {}
    if unbiased:
        notes.append(
            "torch.nn.BatchNorm updates running_var with the unbiased batch variance (· n/(n−1)), the spec (Keras' rule) with "
            "the biased one: the port's running_var is compared with what torch's rule gives for the spec's batch statistics "
            "(" + ", ".join(f"{s}: n = {n}" for s, (_m, n) in unbiased.items()) + "); a model trained this way infers with a "
            "moving variance up to n/(n−1) larger than the spec's"
        )
    if model.train is not None:
        notes.extend(optimizer_notes(model.train.optimizer, fw, model.train.schedule))
    if fw == "keras" and dtype == "float64":
        inexact = sorted({c for _n, wt in vmodel.weights() if wt.regularizer is not None for c in (wt.regularizer.l1_coef, wt.regularizer.l2_coef) if c and float(np.float32(c)) != c})
        if inexact:
            notes.append(
                "keras.regularizers cast their coefficient to the weight's dtype through a float32 constant (ops.cast of a Python "
                f"float): {', '.join(map(repr, inexact))} become float32 numbers, so a float64 port's penalties (and their "
                "gradients) differ from the spec's by ~1e-8 relative — a framework limit, invisible in float32"
            )
        if model.train is not None:
            opt = model.train.optimizer
            hp = {f: getattr(opt, f) for f in ("momentum", "beta1", "beta2", "rho", "epsilon") if isinstance(getattr(opt, f, None), float)}
            off = {f: v for f, v in hp.items() if v and float(np.float32(v)) != v}
            if off:
                notes.append(
                    "keras.optimizers cast Python-float hyper-parameters with ops.cast, which in TensorFlow makes a float32 "
                    f"number first: {', '.join(f'{f} {v!r}' for f, v in off.items())} are rounded to float32, so a float64 "
                    "port's steps differ from the spec's by ~1e-9–1e-8 relative after the first — a framework limit, "
                    "invisible in float32"
                )
        rounded = sorted({n.op.key_dim for n in vmodel.nodes if n.op.kind == "multi_head_attention" and float(np.float32(1.0 / math.sqrt(n.op.key_dim))) != 1.0 / math.sqrt(n.op.key_dim)})
        if rounded:
            notes.append(
                "keras.layers.MultiHeadAttention (TensorFlow backend) scales the logits by tf.cast(1/√key_dim) of a Python float, "
                f"i.e. a float32 number: for key_dim {', '.join(map(str, rounded))} a float64 port's attention differs from the "
                "spec's by ~3e-8 relative (gradients and steps first) — a framework limit, invisible in float32; key_dim a power of 4 "
                "is exact"
            )
    depth = _depths(vmodel)
    rng = np.random.default_rng([seed, 31337])
    x = random_inputs(vmodel, batch, rng, dtype)
    trains = vmodel.train is not None
    y = random_targets(vmodel, batch, rng, dtype) if trains else None
    batches = [(random_inputs(vmodel, batch, rng, dtype), random_targets(vmodel, batch, rng, dtype)) for _ in range(steps)] if trains else []
    # float64: the spec's model once more on round-off-perturbed weights and inputs; how far
    # each result moves is its sensitivity to round-off (the harness' float64 policy)
    sp = _SpecSpread(spec_backend, vmodel, w, x, y, batches, dtype) if dtype == "float64" else None
    ta, tb = a.trace(x), b.trace(x)
    for s, st, u, ut in pairs:
        node = vmodel.node(s)
        tol = forward_tolerance(node.op.family, depth[st], dtype, rtol, atol)
        if ut not in tb:  # the port computes this value inside a fused call: nothing to read
            continue
        report.rows.append(_compare("forward", s, ta[st], tb[ut], tol, f"{node.op.kind} ↔ {imported.mapping[u]}", sp and sp.of("trace", st, ta[st])))
    if trains:
        la, ga = a.loss_and_grads(x, y)
        lb, gb = b.loss_and_grads(x, y)
        out_depth = max(depth[o] for o in vmodel.outputs)
        report.rows.append(_compare("loss", "loss", np.array(la), np.array(lb), forward_tolerance("dense", out_depth, dtype, rtol, atol), "", sp and sp.of("loss", "loss", la)))
        gtol = gradient_tolerance(out_depth, dtype)
        for name in ga:
            if name in gb:
                report.rows.append(_compare("gradient", name, ga[name], gb[name], gtol, "", sp and sp.of("grads", name, ga[name])))
        a.set_weights(w)
        b.set_weights(own)
        prev_a, prev_b = _copied(a.weights()), _copied(b.weights())  # a probe may hand out views of live tensors
        for s, (xs, ys) in enumerate(batches, start=1):
            a.step(xs, ys)
            b.step(xs, ys)
            wa, wb = a.weights(), b.weights()
            stol = step_tolerance(s, dtype)
            for name in wa:
                if name not in wb:
                    continue
                spread = sp and sp.of(f"step {s}", name, wa[name])
                node, _, wname = name.rpartition(".")
                if wname == "moving_variance" and node in unbiased:
                    # torch's rule applied to the spec's batch variance: v' = m·v + (1−m)·σ²·n/(n−1)
                    m, n = unbiased[node]
                    expected = m * prev_b[name] + (wa[name] - m * prev_a[name]) * (n / (n - 1))
                    report.rows.append(_compare(f"step {s}", name, expected, wb[name], stol, "batch_norm (torch's unbiased running_var)", spread))
                else:
                    report.rows.append(_compare(f"step {s}", name, wa[name], wb[name], stol, "", spread))
            prev_a, prev_b = _copied(wa), _copied(wb)
    else:
        notes.append("the spec has no train section: loss, gradients and optimizer steps not compared")
    report.dtypes = {report.backends[0]: sorted(a.dtypes()), report.backends[1]: sorted(b.dtypes())}
    if dtype == "float64":
        for name, found in report.dtypes.items():
            lower = [d for d in found if d != "float64"]
            if lower:
                raise VerifyError(
                    f"float64 comparison, but {name} holds or computes {', '.join(lower)}: pass a recipe (FILE.py:NAME or a "
                    "callable) so the port is built in float64, or compare in float32"
                )
    report.seconds = time.perf_counter() - started
    return report
