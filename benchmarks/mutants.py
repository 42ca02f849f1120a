"""Planted bugs: does `specc selftest` catch them, and the test suite the rest?

Each mutant is a realistic mistake (a framework default taken for the spec's value, a
formula from the other framework, an off-by-one in a schedule, a harness that skips what
it should compare), written as a source patch: one exact string replaced in one file.
Each is applied in a temporary copy of the project, alone, and

1. ``specc selftest --quick -x`` runs there (exit ≠ 0: caught);
2. if selftest missed it, the test files named with the mutant run there (``pytest -x``).

Run with ``make mutants`` or ``python benchmarks/mutants.py [--only NAME…] [--jobs N]
[--full] [--out DIR]``; results go to DIR/mutants.json and a table on stdout.  Not part
of the test suite (minutes per mutant).  ``--check`` only confirms that every patch still
applies to the current code.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Mutant:
    name: str
    where: str  # torch | keras | ir | harness
    path: str
    old: str
    new: str
    why: str
    tests: tuple[str, ...] = ("tests/test_verify.py",)
    #: False where no cross-backend comparison can see it (shared code, harness honesty)
    cross_backend: bool = True


@dataclass
class Outcome:
    name: str
    where: str
    cross_backend: bool
    applies: bool
    selftest: str = ""  # caught | missed | timeout
    tests: str = ""  # caught | missed | not run
    seconds: float = 0.0
    detail: str = ""
    extra: dict = field(default_factory=dict)


T = "specc/backends/torch/"
K = "specc/backends/keras/"

MUTANTS = [
    # ------------------------------------------------------------------ torch backend
    Mutant("torch-leaky-default-slope", "torch", T + "activations.py", 'return "F.leaky_relu", {"negative_slope": float(spec.alpha)}', 'return "F.leaky_relu", {}', "PyTorch's default slope 0.01 instead of the spec's alpha"),
    Mutant("torch-gelu-exact-always", "torch", T + "activations.py", '"F.gelu", {"approximate": "tanh" if spec.approximate else "none"}', '"F.gelu", {"approximate": "none"}', "approximate=true ignored"),
    Mutant("torch-softmax-last-axis", "torch", T + "activations.py", 'return "torch.softmax", {"dim": torch_axis(spec.axis, rank, layout)}', 'return "torch.softmax", {"dim": -1}', "softmax always over the last axis"),
    Mutant("torch-elu-default-alpha", "torch", T + "activations.py", 'return "F.elu", {"alpha": float(spec.alpha)}', 'return "F.elu", {}', "elu alpha ignored"),
    Mutant("torch-hard-sigmoid-keras2", "torch", T + "lib/core.py", "return F.relu6(x + 3.0) / 6.0", "return F.hardtanh(0.2 * x + 0.5, 0.0, 1.0)", "Keras 2's hard sigmoid (0.2x + 0.5) instead of relu6(x + 3)/6"),
    Mutant("torch-bn-unbiased-variance", "torch", T + "lib/core.py", "var, mean = torch.var_mean(x, dim=dims, correction=0)", "var, mean = torch.var_mean(x, dim=dims, correction=1)", "PyTorch's unbiased running variance"),
    Mutant("torch-bn-momentum-flipped", "torch", T + "lib/core.py", "self.moving_mean.mul_(self.momentum).add_(mean, alpha=1.0 - self.momentum)", "self.moving_mean.mul_(1.0 - self.momentum).add_(mean, alpha=self.momentum)", "torch's momentum convention for the moving mean"),
    Mutant("torch-bn-default-eps", "torch", T + "ops/normalization.py", 'kw = {"momentum": op.momentum, "eps": op.epsilon}', 'kw = {"momentum": op.momentum, "eps": 1e-5}', "PyTorch's BN ε 1e-5"),
    Mutant("torch-bn-eps-1e-3-rel", "torch", T + "ops/normalization.py", 'kw = {"momentum": op.momentum, "eps": op.epsilon}', 'kw = {"momentum": op.momentum, "eps": op.epsilon * 1.001}', "BN ε off by 1e-3 relative"),
    Mutant("torch-avgpool-counts-padding", "torch", T + "ops/pooling.py", 'kw["count_include_pad"] = False', 'kw["count_include_pad"] = True', "padded cells counted in average pooling (torch default)"),
    Mutant("torch-bidirectional-ave-is-sum", "torch", T + "lib/recurrent.py", "return (a + b) / 2", "return a + b", "merge=ave computes a sum"),
    Mutant("torch-go-backwards-ignored", "torch", T + "lib/recurrent.py", "        if self.go_backwards:\n            x = x.flip(1)\n        out, hn = run(self, x)", "        out, hn = run(self, x)", "go_backwards does not reverse the fused RNN's input"),
    Mutant("torch-gru-gate-order", "torch", T + "ops/recurrent.py", "_GRU_TO_TORCH = (1, 0, 2)", "_GRU_TO_TORCH = (0, 1, 2)", "torch's GRU gate order (r, z, n) taken for canonical (z, r, h)", ("tests/test_verify.py", "tests/test_rnn.py")),
    Mutant("torch-same-pad-extra-first", "torch", T + "lib/core.py", "    return total // 2, total - total // 2\n", "    return total - total // 2, total // 2\n", "'same' padding's extra cell at the start (even kernels)", ("tests/test_verify.py", "tests/test_conv_variants.py")),
    Mutant("torch-depthwise-channel-order", "torch", T + "ops/depthwise.py", "return np.transpose(k, (2, 3, 0, 1)).reshape(c * dm, 1, kh, kw)", "return np.transpose(k, (3, 2, 0, 1)).reshape(c * dm, 1, kh, kw)", "depthwise kernel flattened multiplier-major (only visible with depth_multiplier > 1)", ("tests/test_conv_variants.py",)),
    Mutant("torch-flatten-no-permutation", "torch", T + "ops/dense.py", "            k = k[np.asarray(lay.perm)]", "            k = k", "dense after a channels-first flatten without permuting its kernel"),
    Mutant("torch-causal-ignored", "torch", T + "ops/attention.py", 'kw["causal"] = True', 'kw["causal"] = False', "causal mask dropped", ("tests/test_attention.py",)),
    Mutant("torch-sgd-dampening-ignored", "torch", T + "lib/training.py", 'dampening=hparams.get("dampening", 0.0)', "dampening=0.0", "SGD dampening ignored"),
    Mutant("torch-rmsprop-not-centered", "torch", T + "lib/training.py", 'centered=hparams.get("centered", False))', "centered=False)", "centered RMSprop ignored"),
    Mutant("torch-adagrad-lr-decay-ignored", "torch", T + "lib/training.py", 'lr_decay=hparams.get("lr_decay", 0.0)', "lr_decay=0.0", "Adagrad lr_decay ignored"),
    Mutant("torch-adagrad-initial-acc-ignored", "torch", T + "lib/training.py", 'initial_accumulator_value=hparams.get("initial_accumulator", 0.0)', "initial_accumulator_value=0.0", "Adagrad initial accumulator ignored"),
    Mutant("torch-amsgrad-ignored", "torch", T + "lib/training.py", 'amsgrad=hparams.get("amsgrad", False)', "amsgrad=False", "AMSGrad ignored"),
    Mutant("torch-adam-eps-1e-3-rel", "torch", T + "lib/training.py", 'eps=hparams.get("epsilon", 1e-8), amsgrad', 'eps=hparams.get("epsilon", 1e-8) * 1.001, amsgrad', "Adam ε off by 1e-3 relative"),
    Mutant("torch-cosine-alpha-ignored", "torch", T + "lib/training.py", "return (1.0 - alpha) * 0.5 * (1.0 + math.cos(math.pi * tt / ds)) + alpha", "return 0.5 * (1.0 + math.cos(math.pi * tt / ds))", "cosine schedule without its floor"),
    Mutant("torch-warmup-off-by-one", "torch", T + "lib/training.py", "            return (t + 1) / warm\n", "            return max(t, 1) / warm\n", "warm-up counts from 0"),
    Mutant("torch-clip-norm-always-scales", "torch", T + "lib/training.py", "scale = self.clip_norm * torch.minimum(1.0 / norm, torch.tensor(1.0 / self.clip_norm, dtype=norm.dtype, device=norm.device))", "scale = self.clip_norm / norm", "gradients rescaled to clip_norm even when their norm is below it"),
    Mutant("torch-clip-value-upper-only", "torch", T + "lib/training.py", "            torch._foreach_clamp_min_(grads, -self.clip_value)\n", "", "clip_value clips only from above"),
    Mutant("torch-weight-decay-without-lr", "torch", T + "lib/training.py", "torch._foreach_mul_(params, 1.0 - lr * self.weight_decay)", "torch._foreach_mul_(params, 1.0 - self.weight_decay)", "decoupled weight decay not scaled by the learning rate"),
    Mutant("torch-huber-default-delta", "torch", T + "lib/training.py", "F.huber_loss(pred, target.to(pred.dtype), delta=self.delta)", "F.huber_loss(pred, target.to(pred.dtype))", "Huber δ ignored"),
    Mutant("torch-bce-smoothing-one-sided", "torch", T + "lib/training.py", "y = y * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing", "y = y * (1.0 - self.label_smoothing)", "binary label smoothing without the ½·ls term"),
    Mutant("torch-cce-smoothing-k-minus-1", "torch", T + "lib/training.py", "y = y * (1.0 - self.label_smoothing) + self.label_smoothing / pred.shape[-1]", "y = y * (1.0 - self.label_smoothing) + self.label_smoothing / (pred.shape[-1] - 1)", "label smoothing spread over K − 1 classes"),
    Mutant("torch-kl-target-not-clipped", "torch", T + "lib/training.py", "y = target.to(pred.dtype).clamp(LOSS_EPSILON, 1.0)", "y = target.to(pred.dtype)", "KL targets not clipped (only visible for targets below 1e-7)", ("tests/test_verify.py", "tests/test_train.py"), False),
    Mutant("torch-l2-half", "torch", T + "lib/training.py", "            t = t + l2 * w.square().sum()", "            t = t + 0.5 * l2 * w.square().sum()", "L2 penalty with a ½ (weight-decay convention)"),
    # ------------------------------------------------------------------ keras backend
    Mutant("keras-leaky-default-slope", "keras", K + "lib/core.py", 'x * ops.convert_to_tensor(p["alpha"], dtype=x.dtype)', "x * ops.convert_to_tensor(0.3, dtype=x.dtype)", "Keras' default slope 0.3"),
    Mutant("keras-gelu-exact-always", "keras", K + "lib/core.py", '            if p["approximate"]:', "            if False:", "approximate=true ignored"),
    Mutant("keras-elu-default-alpha", "keras", K + "activations.py", 'return "elu" if spec.alpha == 1.0 else Construct(SpeccActivation, ("elu",), {"alpha": float(spec.alpha)})', 'return "elu"', "elu alpha ignored"),
    Mutant("keras-softmax-last-axis", "keras", K + "activations.py", '        return Construct(SpeccActivation, (k,), {"axis": spec.axis})', "        return k", "softmax over a non-last axis computed over the last"),
    Mutant("keras-adam-no-bias-correction-v", "keras", K + "lib/training.py", "denom = ops.sqrt(second) / bc2_sqrt + eps", "denom = ops.sqrt(second) + eps", "Adam's second moment not bias-corrected"),
    Mutant("keras-rmsprop-not-centered", "keras", K + "lib/training.py", "avg = ops.sqrt(sq - ga * ga) + eps", "avg = ops.sqrt(sq) + eps", "centered RMSprop computed uncentered"),
    Mutant("keras-adagrad-decay-off-by-one", "keras", K + "lib/training.py", "lambda: lr / (1.0 + (t - 1.0) * decay))", "lambda: lr / (1.0 + t * decay))", "Adagrad lr_decay counted from step 1"),
    Mutant("keras-adadelta-eps-outside-root", "keras", K + "lib/training.py", "std = ops.sqrt(sq + eps)", "std = ops.sqrt(sq) + eps", "Adadelta ε outside the root"),
    Mutant("keras-nesterov-ignored", "keras", K + "lib/training.py", 'g = g + c(mu) * new if h.get("nesterov") else new', "g = new", "Nesterov momentum ignored"),
    Mutant("keras-dampening-on-first-step", "keras", K + "lib/training.py", 'new = ops.where(self.iterations == 0, g, buf * c(mu) + g * c(1.0 - h.get("dampening", 0.0)))', 'new = buf * c(mu) + g * c(1.0 - h.get("dampening", 0.0))', "dampening applied to the first step (torch starts the buffer at g)"),
    Mutant("keras-warmup-inclusive", "keras", K + "lib/training.py", "return ops.where(t < warm, (t + 1.0) / warm, cos)", "return ops.where(t <= warm, (t + 1.0) / warm, cos)", "warm-up one step too long"),
    Mutant("keras-step-schedule-early", "keras", K + "lib/training.py", 'ops.floor(t / schedule["step_size"])', 'ops.floor((t + 1.0) / schedule["step_size"])', "step schedule decays one step early"),
    Mutant("keras-clip-norm-always-scales", "keras", K + "lib/training.py", "scale = self.clip_norm * ops.minimum(1.0 / norm, 1.0 / self.clip_norm)", "scale = self.clip_norm / norm", "gradients rescaled to clip_norm even below it"),
    Mutant("keras-weight-decay-without-lr", "keras", K + "lib/training.py", "lambda v=v: 1.0 - self._lr(v.dtype) * _const(self.decay, v.dtype))", "lambda v=v: 1.0 - _const(self.decay, v.dtype))", "decoupled weight decay not scaled by the learning rate"),
    Mutant("keras-l2-half", "keras", K + "lib/training.py", "total = total + _const(self.l2, x.dtype) * ops.sum(ops.square(x))", "total = total + _const(self.l2 / 2, x.dtype) * ops.sum(ops.square(x))", "L2 penalty with a ½"),
    Mutant("keras-sparse-smoothing-ignored", "keras", K + "lib/training.py", "return keras.losses.categorical_crossentropy(onehot, y_pred, from_logits=self.from_logits, label_smoothing=self.label_smoothing)", "return keras.losses.categorical_crossentropy(onehot, y_pred, from_logits=self.from_logits)", "sparse label smoothing ignored"),
    Mutant("keras-bn-momentum-torch-convention", "keras", K + "ops/basic.py", 'kw["momentum"] = op.momentum', 'kw["momentum"] = 1.0 - op.momentum', "torch's momentum convention in Keras"),
    Mutant("keras-norm-default-eps", "keras", K + "ops/basic.py", 'kw: dict = {"epsilon": op.epsilon}', "kw: dict = {}", "Keras' default ε (1e-3) instead of the spec's"),
    Mutant("keras-causal-ignored", "keras", K + "ops/attention.py", 'call_kw = {"use_causal_mask": True} if op.causal else {}', "call_kw = {}", "causal mask dropped", ("tests/test_attention.py",)),
    Mutant("keras-bidirectional-merge-concat", "keras", K + "ops/recurrent.py", 'kw = {} if op.merge == "concat" else {"merge_mode": op.merge}', 'kw = {} if op.merge in ("concat", "ave") else {"merge_mode": op.merge}', "merge=ave lowered as concat", ("tests/test_rnn.py",)),
    # ------------------------------------------------------------------ IR (shared by both backends)
    Mutant("ir-adam-eps-keras-default", "ir", "specc/ir/optimizers.py", 'epsilon: float = Field(1e-8, gt=0, description="added to the denominator")', 'epsilon: float = Field(1e-7, gt=0, description="added to the denominator")', "Adam's default ε from Keras (1e-7), not PyTorch (1e-8)", ("tests/test_params.py", "tests/test_semantics.py"), False),
    Mutant("ir-bn-momentum-default", "ir", "specc/ir/ops/normalization.py", 'momentum: float = Field(0.99, ge=0, lt=1, description="weight of the old moving statistics")', 'momentum: float = Field(0.9, ge=0, lt=1, description="weight of the old moving statistics")', "BN momentum default 0.9 (torch's 0.1 flipped) instead of Keras' 0.99", ("tests/test_params.py", "tests/test_semantics.py"), False),
    Mutant("ir-leaky-default", "ir", "specc/ir/activations.py", 'alpha: float = Field(0.01, ge=0, description="slope for x < 0")', 'alpha: float = Field(0.3, ge=0, description="slope for x < 0")', "leaky_relu default from Keras (0.3)", ("tests/test_params.py", "tests/test_semantics.py"), False),
    Mutant("ir-truncation-no-rescale", "ir", "specc/ir/initializers.py", "_TRUNC_STD_CORRECTION = 0.87962566103423978", "_TRUNC_STD_CORRECTION = 1.0", "truncated normals not rescaled (σ 12 % too small)", ("tests/test_weights.py",), False),
    Mutant("ir-fans-ignore-receptive-field", "ir", "specc/ir/initializers.py", "    return float(shape[-2] * receptive), float(shape[-1] * receptive)", "    return float(shape[-2]), float(shape[-1])", "conv fans without the receptive field", ("tests/test_weights.py",), False),
    Mutant("ir-tanh-gain", "ir", "specc/ir/initializers.py", '"tanh": 5.0 / 3.0,', '"tanh": 5.0 / 4.0,', "torch's tanh gain mistyped", ("tests/test_weights.py",), False),
    Mutant("ir-uniform-limit", "ir", "specc/ir/initializers.py", "        limit = math.sqrt(3.0 * scale)\n", "        limit = math.sqrt(6.0 * scale)\n", "variance-scaling uniform bound √(6s) instead of √(3s)", ("tests/test_weights.py",), False),
    Mutant("ir-valid-output-ceil", "ir", "specc/ir/ops/padding.py", "    return n // s + 1\n", "    return -(-n // s) + 1\n", "valid-padding output length rounded up", ("tests/test_semantics.py", "tests/test_conv_variants.py")),
    # ------------------------------------------------------------------ the harness
    Mutant("harness-self-comparison", "harness", "specc/verification/harness.py", 'compare_runs(report, vmodel, expected, "float64", r64[a_name], r64[b_name]', 'compare_runs(report, vmodel, expected, "float64", r64[a_name], r64[a_name]', "float64 results of the first backend compared with themselves", ("tests/test_selftest.py", "tests/test_verify.py"), False),
    Mutant("harness-skips-last-layer", "harness", "specc/verification/harness.py", 'keys = [("forward", tid) for n in model.nodes for tid in n.outputs]', 'keys = [("forward", tid) for n in model.nodes[:-1] for tid in n.outputs]', "the last layer is never compared", ("tests/test_selftest.py", "tests/test_verify.py"), False),
    Mutant("harness-skips-gradients", "harness", "specc/verification/harness.py", 'keys += [("gradient", name) for name in sorted(_trainable(model))]', "keys += []", "gradients never compared", ("tests/test_selftest.py", "tests/test_verify.py"), False),
    Mutant("harness-only-first-step", "harness", "specc/verification/harness.py", 'keys += [(f"step {s}", name) for s in range(1, steps + 1) for name in names]', 'keys += [(f"step {s}", name) for s in range(1, min(steps, 1) + 1) for name in names]', "only the first optimizer step compared", ("tests/test_selftest.py", "tests/test_verify.py"), False),
    Mutant("harness-float32-prior-in-float64", "harness", "specc/verification/tolerance.py", "return Tolerance(rtol if rtol is not None else 1e-10, atol if atol is not None else 1e-12, fixed)", "return Tolerance(rtol if rtol is not None else 1e-5, atol if atol is not None else 1e-6, fixed)", "float32's forward tolerance applied to float64 runs", ("tests/test_selftest.py", "tests/test_verify.py"), False),
    Mutant("harness-spread-factor-huge", "harness", "specc/verification/tolerance.py", "SPREAD_FACTOR = 8.0", "SPREAD_FACTOR = 8e7", "measured spread allowed 10⁷× more", ("tests/test_selftest.py", "tests/test_tolerance.py"), False),
    Mutant("harness-roundoff-max", "harness", "specc/verification/tolerance.py", "measured = (1 + ROUNDOFF_RATIO) * min(da, db)", "measured = (1 + ROUNDOFF_RATIO) * max(da, db)", "float32 bound from the less precise backend (a float32-only defect explains itself)", ("tests/test_tolerance.py",), False),
    Mutant("harness-no-constant-randomisation", "harness", "specc/verification/data.py", "if value.size and np.ptp(value) == 0:", "if False:", "zero biases and unit BN statistics left as they are (bias mapping bugs invisible)", ("tests/test_verify.py",), False),
    Mutant("harness-no-float64-dtype-check", "harness", "specc/verification/harness.py", 'if dt == "float64" and other:', "if False:", "a backend computing in float32 passes for float64", ("tests/test_verify.py",), False),
    Mutant("harness-steps-share-one-batch", "harness", "specc/verification/harness.py", "batches = [(random_inputs(vmodel, batch, rng, dtype), random_targets(vmodel, batch, rng, dtype)) for _ in range(steps)]", "batches = [(x, y)] * steps", "every step on the batch of the gradient check (data order bugs invisible)", ("tests/test_verify.py", "tests/test_selftest.py"), False),
]


def _copy_project(dest: Path) -> None:
    for name in ("specc", "tests", "grammar", "specs", "benchmarks"):
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis"))
    for name in ("pyproject.toml", "README.md", "ARCHITECTURE.md", "Makefile"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, dest / name)


def _run(cmd: list[str], cwd: Path, timeout: float) -> tuple[int | None, str]:
    env = {**os.environ, "PYTHONPATH": str(cwd), "TF_CPP_MIN_LOG_LEVEL": "3"}
    try:
        p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "timeout"
    return p.returncode, (p.stdout + p.stderr)[-3000:]


def run_mutant(m: Mutant, work: Path, selftest_args: list[str], timeout: float, run_tests: bool) -> Outcome:
    target = work / m.path
    original = target.read_text()
    out = Outcome(m.name, m.where, m.cross_backend, applies=original.count(m.old) == 1)
    if not out.applies:
        out.detail = f"patch does not apply ({original.count(m.old)} matches)"
        return out
    t = time.perf_counter()
    target.write_text(original.replace(m.old, m.new))
    try:
        rc, log = _run([sys.executable, "-m", "specc", "selftest", *selftest_args], work, timeout)
        out.selftest = "timeout" if rc is None else "caught" if rc != 0 else "missed"
        fails = [line for line in log.splitlines() if line.startswith("FAIL")]
        out.detail = fails[0][:200] if fails else log.strip().splitlines()[-1][:200] if log.strip() else ""
        if out.selftest != "caught" and run_tests:
            rc, log = _run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:randomly", "-p", "no:cacheprovider", *m.tests], work, timeout)
            out.tests = "timeout" if rc is None else "caught" if rc != 0 else "missed"
        elif out.selftest != "caught":
            out.tests = "not run"
    finally:
        target.write_text(original)
        out.seconds = time.perf_counter() - t
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="*", help="mutant names (default: all)")
    ap.add_argument("--jobs", type=int, default=1, help="mutants run at once (each in its own copy)")
    ap.add_argument("--full", action="store_true", help="run the full selftest (float32) instead of --quick")
    ap.add_argument("--no-tests", action="store_true", help="do not run the test files for mutants selftest misses")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per command")
    ap.add_argument("--check", action="store_true", help="only check that every patch applies")
    ap.add_argument("--out", default="runs/mutants", help="folder for mutants.json")
    args = ap.parse_args(argv)
    chosen = [m for m in MUTANTS if not args.only or m.name in args.only]
    # interleave the kinds, so that a partial run still samples all of them
    kinds = {}
    for m in chosen:
        kinds.setdefault(m.where, []).append(m)
    chosen = [m for group in zip(*[iter(v + [None] * (max(map(len, kinds.values())) - len(v))) for v in kinds.values()], strict=True) for m in group if m is not None]
    if args.check:
        bad = [m.name for m in chosen if (ROOT / m.path).read_text().count(m.old) != 1]
        print(f"{len(chosen) - len(bad)} of {len(chosen)} patches apply" + (f"; not: {', '.join(bad)}" if bad else ""))
        return 1 if bad else 0
    selftest_args = ["-x"] if args.full else ["--quick", "-x"]
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="specc-mutants-") as tmp:
        works = []
        for j in range(max(1, args.jobs)):
            w = Path(tmp) / f"w{j}"
            w.mkdir()
            _copy_project(w)
            works.append(w)
        free = list(works)
        import threading

        lock = threading.Lock()

        def job(m: Mutant) -> Outcome:
            with lock:
                w = free.pop()
            try:
                o = run_mutant(m, w, selftest_args, args.timeout, not args.no_tests)
            finally:
                with lock:
                    free.append(w)
            print(f"{o.name:40} {o.where:8} selftest {o.selftest or '-':7} tests {o.tests or '-':8} {o.seconds:6.0f} s  {o.detail[:90]}", flush=True)
            return o

        with ThreadPoolExecutor(max_workers=len(works)) as ex:
            outcomes = list(ex.map(job, chosen))
    applied = [o for o in outcomes if o.applies]
    visible = [o for o in applied if o.cross_backend]
    summary = {
        "mutants": len(outcomes),
        "applied": len(applied),
        "selftest_caught": sum(o.selftest == "caught" for o in applied),
        "cross_backend_visible": len(visible),
        "selftest_caught_visible": sum(o.selftest == "caught" for o in visible),
        "missed_by_selftest": [o.name for o in applied if o.selftest != "caught"],
        "tests_caught_of_rest": sum(o.tests == "caught" for o in applied if o.selftest != "caught"),
        "missed_by_both": [o.name for o in applied if o.selftest != "caught" and o.tests != "caught"],
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "mutants.json").write_text(json.dumps({"summary": summary, "outcomes": [asdict(o) for o in outcomes]}, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
