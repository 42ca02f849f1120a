"""``specc.verify``: prove two backends compute the same function for a spec.

1. canonical weights from the spec's initialisers (seeded), constants randomised so every
   weight matters; random inputs of the declared shapes and valid targets for the loss;
2. both backends built with those weights; every layer's output compared in inference mode;
3. the loss and the gradient of every trainable weight compared on one batch (training
   mode);
4. ``steps`` optimizer steps on identical batches (schedule and optimizer state included);
   all weights — batch-norm statistics too — compared after each.

Each backend runs the whole protocol once per precision (:class:`Run`), results keyed
(phase, name); what must be compared is derived from the IR (:func:`expected_keys`), so a
result a probe fails to produce is a failure, never a silent skip.  The float64 runs are
always compared; a float32 verification also compares the float32 runs, judged against
each backend's own float64 round-off, and the first backend is run once more on
perturbed data to measure how sensitive each result is to round-off
(``tolerance.py`` explains the bounds; every row says what its bound was made of).
Unless framework code is already loaded here, each backend's runs go to a worker process of
its own (:mod:`.remote`), all submitted before any is awaited, so they overlap.

The models compared are the models training builds, dropout included: in each run every
dropout mask comes from one seeded source (:mod:`.masks`, keyed by pass, layer and draw),
so both backends — in their own processes — apply the same masks; masks, their scaling and
the training-path modules are compared, and a layer drawing other masks in one backend (or
none where its rate says it must) is reported.  In float64 the dtypes of
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

from .masks import MaskSource, draw_rows, mask_notes
from .data import random_inputs, random_targets, verification_weights
from .probes import make_probe
from .remote import WorkerDied, run_all, use_processes
from .report import Report, Row
from .tolerance import distance, forward_tolerance, gradient_tolerance, judge, perturb, step_tolerance

__all__ = ["verify", "VerifyError", "device_problem"]


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


def _compare(phase: str, name: str, ref, other, tol, op: str = "", spread: float | None = None) -> Row:
    """One row of ``verify --against`` (a user's port in one framework): judged by the prior,
    plus, in float64, the spread of the spec's own result under a round-off-sized
    perturbation (``spread``, measured by a second run of the spec's model) — the same
    float64 policy as two backends, so an ill-conditioned correct port is not a failure."""
    j = judge(ref, other, tol, "float64", spread=spread)
    if spread is None and (np.isfinite(j.max_abs) or j.bound):
        why = f"prior {tol.atol:.3g} + {tol.rtol:.3g}·{j.scale:.3g} = {j.bound:.3g}"
    else:
        why = j.why
    return Row(phase, name, tuple(np.shape(ref)), j.max_abs, j.max_rel, j.bound, tol.rtol, j.ok, op, "", why)


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
    tamper=None,
    processes: bool | None = None,
) -> Report:
    """Compare ``spec`` across two backends; see the module docstring.  Returns a Report
    (``.ok``, ``.verdict()``, ``.rows``, ``.first_failure``, ``.to_json()``).

    ``tamper(backend, dtype, results)``, if given, may change a run's results before they
    are compared: the harness's own check (``specc selftest``) plants differences with it
    and expects each to be reported.

    ``processes``: run each backend in a worker process of its own (:mod:`.remote`: the two
    frameworks' imports and runs overlap; this process imports neither).  Default: yes,
    unless framework or backend code is already loaded here — then in-process, so that
    what this process has (a test's patch) is what gets compared."""
    if use_processes(tuple(backends), processes):
        try:
            return _verify(spec, backends, dtype, steps, seed, batch, device, rtol, atol, tamper, remote=True)
        except WorkerDied as e:
            raise VerifyError(str(e)) from None
    with _one_framework_at_a_time():
        return _verify(spec, backends, dtype, steps, seed, batch, device, rtol, atol, tamper)


def device_problem(backends, device: str | None) -> str | None:
    """Why ``device`` cannot run ``backends`` here (None: it can)."""
    if device is None or device == "cpu":
        return None
    if not device.startswith("cuda"):
        return f"unknown device {device!r}; use cpu or cuda"
    if "torch" in backends:
        import torch

        if not torch.cuda.is_available():
            return f"--device {device}, but torch sees no GPU (use --device cpu)"
    if "keras" in backends:
        from specc.backends.keras.device import has_gpu

        if not has_gpu():
            return f"--device {device}, but TensorFlow sees no GPU (use --device cpu)"
    return None


def _verify(spec, backends, dtype, steps, seed, batch, device, rtol, atol, tamper=None, remote: bool = False) -> Report:
    started = time.perf_counter()
    model = as_model(spec)
    if len(backends) != 2:
        raise ValueError("verify compares exactly two backends")
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be float32 or float64, not {dtype!r}")
    problem = device_problem(backends, device)
    if problem is not None:
        raise VerifyError(problem)
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
    vmodel = model  # the model training builds: dropout included, nothing switched off
    weights, randomised = verification_weights(vmodel, seed)
    if randomised:
        notes.append(f"{len(randomised)} constant-initialised weights (biases, norm parameters, statistics) randomised so every weight is tested")
    rng = np.random.default_rng([seed, 31337])
    x = random_inputs(vmodel, batch, rng, dtype)
    if device and device.startswith("cuda"):
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    y, batches = None, []
    if vmodel.train is not None:
        y = random_targets(vmodel, batch, rng, dtype)
        batches = [(random_inputs(vmodel, batch, rng, dtype), random_targets(vmodel, batch, rng, dtype)) for _ in range(steps)]
    else:
        notes.append("the spec has no train section: loss, gradients and optimizer steps not compared")
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
    if dtype == "float32":
        # every run sees the same float32-representable numbers: the float64 runs measure
        # the round-off of the computation, not the rounding of its data
        weights = {k: np.asarray(v, np.float32).astype(np.float64) for k, v in weights.items()}
    expected = expected_keys(vmodel, steps)
    run = Run(vmodel, weights, x, y, batches, device, tamper, remote=remote, seed=seed)
    # every run at once (in worker processes they overlap): both backends in float64, the
    # first again on perturbed data (the spread), and both in float32 for a float32 check
    jobs = [(a_name, "float64"), (b_name, "float64"), (a_name, "perturbed")]
    if dtype == "float32":
        jobs += [(a_name, "float32"), (b_name, "float32")]
    done = dict(zip(jobs, run.results_all(jobs), strict=True))
    r64 = {name: done[(name, "float64")] for name in (a_name, b_name)}
    spread = {k: distance(v, r64[a_name].get(k, np.nan)) for k, v in done[(a_name, "perturbed")].items()}
    if vmodel.stochastic:
        report.notes[:0] = mask_notes(vmodel, run.draws[(a_name, "float64")])
    compare_runs(report, vmodel, expected, "float64", r64[a_name], r64[b_name], (a_name, b_name), rtol if dtype == "float64" else cfg.rtol64, atol if dtype == "float64" else cfg.atol64, spread=spread)
    _insert_at_phase(report.rows, draw_rows(vmodel, run.draws[(a_name, "float64")], run.draws[(b_name, "float64")], (a_name, b_name), "float64"))
    dtypes = {name: run.dtypes[(name, "float64")] for name in (a_name, b_name)}
    if dtype == "float32":
        r32 = {name: done[(name, "float32")] for name in (a_name, b_name)}
        roundoff = {name: {k: distance(v, r64[name].get(k, np.nan)) for k, v in r32[name].items()} for name in (a_name, b_name)}
        compare_runs(report, vmodel, expected, "float32", r32[a_name], r32[b_name], (a_name, b_name), rtol, atol, roundoff=roundoff)
        _insert_at_phase(report.rows, draw_rows(vmodel, run.draws[(a_name, "float32")], run.draws[(b_name, "float32")], (a_name, b_name), "float32"))
        dtypes = {name: run.dtypes[(name, "float32")] for name in (a_name, b_name)}
        notes.append("float32 results judged against each backend's own float64 run (its round-off); the float64 runs are compared too")
    report.dtypes = {name: sorted(found) for name, found in dtypes.items()}
    for (name, dt), found in run.dtypes.items():
        other = [d for d in sorted(found) if d != dt]
        if dt == "float64" and other:
            raise VerifyError(f"float64 comparison, but {name} holds or computes {', '.join(other)}: the result would not be a float64 comparison")
        lower = [d for d in other if d in ("float16", "bfloat16")]
        if dt == "float32" and lower:
            raise VerifyError(f"float32 comparison, but {name} computes in {', '.join(lower)}: its round-off is not float32's")
    report.seconds = time.perf_counter() - started
    return report


def _insert_at_phase(rows: list[Row], extra: list[Row]) -> None:
    """Put each dropout-draw row first among the rows of its phase and precision: the
    first failure named is then the earliest one, and a differing mask comes before the
    loss or step it explains."""
    for row in reversed(extra):  # each goes first: reversed keeps their order
        at = next((i for i, r in enumerate(rows) if r.phase == row.phase and r.dtype == row.dtype), len(rows))
        rows.insert(at, row)


def expected_keys(model: Model, steps: int) -> list[tuple[str, str]]:
    """Every comparison a complete verification makes, derived from the IR alone (not from
    what a probe returned): each layer output, the loss, each trainable weight's gradient,
    each weight after each step.  A result missing on either side is a failure."""
    keys = [("forward", tid) for n in model.nodes for tid in n.outputs]
    if model.train is not None:
        keys.append(("loss", "loss"))
        keys += [("gradient", name) for name in sorted(_trainable(model))]
        names = [f"{n.name}.{w.name}" for n, w in model.weights()]
        keys += [(f"step {s}", name) for s in range(1, steps + 1) for name in names]
    return keys


class Run:
    """Runs each backend through the whole protocol (forward trace, loss and gradients,
    optimizer steps) on the prepared data and keeps every result, keyed (phase, name)."""

    def __init__(self, model: Model, weights, x, y, batches, device, tamper=None, remote: bool = False, seed: int = 0):
        self.model, self.weights, self.x, self.y, self.batches, self.device = model, weights, x, y, batches, device
        self.tamper = tamper
        self.remote = remote
        self.seed = seed
        self.dtypes: dict[tuple[str, str], set[str]] = {}
        #: each run's dropout draws, (backend, precision) → [(pass, layer, index, shape, rate)]
        self.draws: dict[tuple[str, str], list] = {}

    def results(self, backend: str, dtype: str) -> dict[tuple[str, str], np.ndarray]:
        return self.results_all([(backend, dtype)])[0]

    def results_all(self, jobs: list[tuple[str, str]]) -> list[dict[tuple[str, str], np.ndarray]]:
        """The results of each ``(backend, kind)`` job, ``kind`` a precision or
        ``"perturbed"``: float64 on inputs and weights perturbed by PERTURB64 (relative,
        random sign), whose distance from the float64 run is the sensitivity of each result
        to round-off.  In worker processes, all jobs are submitted before any is awaited."""
        calls = []
        for backend, kind in jobs:
            weights, x, batches, dtype = self.weights, self.x, self.batches, kind
            if kind == "perturbed":
                weights, x, batches, dtype = *self._perturbed(), "float64"
            calls.append((backend, run_protocol, (backend, self.model, weights, x, self.y, batches, dtype, self.device, self.seed, kind == "perturbed")))
        outs = []
        for (backend, kind), (out, dtypes, draws) in zip(jobs, run_all(calls, self.remote), strict=True):
            dtype = "float64" if kind == "perturbed" else kind
            self.dtypes[(backend, dtype)] = self.dtypes.get((backend, dtype), set()) | dtypes
            if kind != "perturbed":
                self.draws[(backend, kind)] = draws
            if self.tamper is not None and kind != "perturbed":
                self.tamper(backend, dtype, out)
            outs.append(out)
        return outs

    def _perturbed(self):
        rng = np.random.default_rng(4099)

        def jiggle(v):
            return perturb(v, rng)

        weights = {k: jiggle(v) for k, v in self.weights.items()}
        x = [jiggle(v) for v in self.x]
        batches = [([jiggle(v) for v in xs], ys) for xs, ys in self.batches]
        return weights, x, batches


def run_protocol(backend: str, model: Model, weights, x, y, batches, dtype: str, device, seed: int = 0, gradient_roundoff: bool = False) -> tuple[dict, set[str], list]:
    """One backend through the whole protocol in ``dtype``: (results keyed (phase, name),
    the floating dtypes it held and computed, its dropout draws).  Module-level, so a worker
    process can run it.  Dropout runs as in training, its masks from ``MaskSource(seed)``:
    the same masks in every process, pass 0 the gradients' batch, pass s step s.
    ``gradient_roundoff`` (the spread run): each step's gradients get round-off-sized noise
    too (see ``Probe.perturb_gradients``)."""
    cast = _caster(dtype)
    probe = make_probe(backend, model, weights, dtype, device)
    source = MaskSource(seed)
    hooks = probe.masks(source) if model.stochastic else contextlib.nullcontext()
    out: dict[tuple[str, str], np.ndarray] = {}
    with hooks:
        trace = probe.trace(cast(x))  # inference mode: no draws
        for node in model.nodes:
            for tid in node.outputs:
                if tid in trace:
                    out[("forward", tid)] = np.array(trace[tid], dtype=np.float64)
        if model.train is not None:
            with source.run(0):
                loss, grads = probe.loss_and_grads(cast(x), cast(y))
            out[("loss", "loss")] = np.array(loss)
            for name, g in grads.items():
                out[("gradient", name)] = np.array(g, dtype=np.float64)
            probe.set_weights(weights)  # the training-mode pass moved batch-norm statistics
            if gradient_roundoff:
                probe.perturb_gradients(np.random.default_rng(seed + 8191))
            for s, (xs, ys) in enumerate(batches, 1):
                with source.run(s):
                    probe.step(cast(xs), cast(ys))
                for name, w in probe.weights().items():
                    out[(f"step {s}", name)] = np.array(w, dtype=np.float64)  # a copy: live weights change
    return out, set(probe.dtypes()), source.log


def _caster(dtype):
    def cast(values):
        if values is None:
            return None
        return [np.asarray(v).astype(dtype) if np.issubdtype(np.asarray(v).dtype, np.floating) else np.asarray(v) for v in values]

    return cast


def compare_runs(report: Report, model: Model, expected, dtype, ra, rb, names, rtol, atol, *, spread=None, roundoff=None) -> None:
    """One row per expected comparison, judged by the tolerance policy."""
    depth = _depths(model)
    ops = {tid: n.op for n in model.nodes for tid in n.outputs}
    out_depth = max((depth[o] for o in model.outputs), default=0)
    for key in expected:
        phase, name = key
        op = ops[name].kind if phase == "forward" else ""
        if phase == "forward":
            prior = forward_tolerance(ops[name].family, depth[name], dtype, rtol, atol)
        elif phase == "loss":
            prior = forward_tolerance("dense", out_depth, dtype, rtol, atol)
        elif phase == "gradient":
            prior = gradient_tolerance(out_depth, dtype)
        else:
            prior = step_tolerance(int(phase.split()[1]), dtype)
        missing = [n for n, r in zip(names, (ra, rb), strict=True) if key not in r]
        if missing:
            report.rows.append(Row(phase, name, (), float("inf"), float("inf"), 0.0, prior.rtol, False, op, dtype, f"not computed by {' and '.join(missing)}"))
            continue
        a, b = ra[key], rb[key]
        extra = {}
        if spread is not None:
            extra["spread"] = spread.get(key, float("inf"))
        if roundoff is not None:
            extra["roundoff"] = (roundoff[names[0]].get(key, float("inf")), roundoff[names[1]].get(key, float("inf")))
        j = judge(a, b, prior, dtype, names=names, amplified=phase.startswith("step"), **extra)
        report.rows.append(Row(phase, name, tuple(np.shape(a)), j.max_abs, j.max_rel, j.bound, prior.rtol, j.ok, op, dtype, j.why))


def _trainable(model: Model) -> set[str]:
    return {f"{n.name}.{w.name}" for n, w in model.weights() if w.trainable and n.trainable}
