"""A planted-bug campaign against ``specc verify``, in process: does verify see a porting bug?

Each bug is a porter's mistake in ONE backend (a framework default taken for the spec's
value, the other framework's formula, an off-by-one), planted by monkeypatching one
function or method of that backend: its source with one exact string replaced, compiled
in its own module's namespace and set in place of the original (and of every reference to
it inside specc: imported names, module-level tables), then restored.  ``benchmarks/mutants.py`` plants source patches in a
copy of the project and runs ``specc selftest`` (minutes per bug); this runs
``specc.verify(..., processes=False)`` here on the example specs (``specs/``) and the verify
corpus (``specc/selftest/corpus/``), so a bug costs seconds.

For each bug: float64 verification over the specs, the ones whose text matches the bug's
``hint`` first, stopping at the first spec that reports it; a bug float64 misses is tried
in float32 on the specs its hint names (at most six); a bug float64 catches is confirmed in float32 on the spec that
caught it.  Every planted function counts its calls, so "missed" is told apart from "never
ran" (no spec exercises it).  First the untouched backends must pass every spec (no false
alarm), or nothing is measured.

    python benchmarks/plant.py [--only NAME…] [--dtypes float64 float32] [--out runs/plant]
    make plant

Not part of the test suite (about 10–20 CPU-minutes for the whole list); tests/test_plant.py
plants a few of these bugs on small models to keep the fixes honest.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import inspect
import json
import os
import re
import sys
import textwrap
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Bug:
    name: str
    backend: str  # torch | keras
    target: str  # "module:function" or "module:Class.method"
    old: str
    new: str
    why: str
    hint: str = ""  # regex on a spec's text: specs likely to exercise it are tried first


T = "specc.backends.torch."
K = "specc.backends.keras."

BUGS = [
    # ------------------------------------------------------------- torch: normalisation
    Bug("t-bn-eps-torch-default", "torch", T + "ops.normalization:BatchNormOp.lower", '"eps": op.epsilon}', '"eps": 1e-5}', "PyTorch's BN ε 1e-5 for the spec's", r"batch_norm"),
    Bug("t-bn-momentum-flipped", "torch", T + "lib.core:BatchNorm.forward", "self.moving_mean.mul_(self.momentum).add_(mean, alpha=1.0 - self.momentum)", "self.moving_mean.mul_(1.0 - self.momentum).add_(mean, alpha=self.momentum)", "torch's momentum convention for the moving mean", r"batch_norm"),
    Bug("t-bn-unbiased-var", "torch", T + "lib.core:BatchNorm.forward", "correction=0)", "correction=1)", "unbiased variance in the moving statistics", r"batch_norm"),
    Bug("t-ln-eps-torch-default", "torch", T + "ops.normalization:LayerNormOp.lower", 'Construct(nn.LayerNorm, (arg,), {"eps": op.epsilon})', 'Construct(nn.LayerNorm, (arg,), {"eps": 1e-5})', "nn.LayerNorm's ε 1e-5", r"layer_norm"),
    # ------------------------------------------------------------- torch: padding, pooling, kernels
    Bug("t-same-pad-extra-first", "torch", T + "lib.core:same_pads", "return total // 2, total - total // 2", "return total - total // 2, total // 2", "'same' padding's odd cell at the start (even kernel / stride 2)", r"same"),
    Bug("t-avgpool-counts-padding", "torch", T + "ops.pooling:PoolOp.lower", 'kw["count_include_pad"] = False', 'kw["count_include_pad"] = True', "padded cells counted in an average", r"avgpool"),
    Bug("t-avgpool-asym-counts-padding", "torch", T + "lib.core:Pool.forward", "return summed / counts", "return summed", "asymmetric/same average pooling divides by the window, padding included", r"avgpool"),
    Bug("t-conv-kernel-spatially-transposed", "torch", T + "ops.conv:kernel_to_torch", "(n + 1, n, *range(n))", "(n + 1, n, *reversed(range(n)))", "conv kernel (kh, kw) swapped on the way to torch", r"conv2d"),
    Bug("t-convT-kernel-spatially-transposed", "torch", T + "ops.conv_transpose:ConvTransposeOp.to_torch", "(3, 2, 0, 1)", "(3, 2, 1, 0)", "transposed-conv kernel (kh, kw) swapped", r"conv2d_transpose"),
    Bug("t-upsampling-align-corners", "torch", T + "ops.spatial:UpSamplingOp.lower", 'kw["align_corners"] = False', 'kw["align_corners"] = True', "bilinear upsampling with align_corners=True", r"bilinear"),
    Bug("t-dense-no-bias", "torch", T + "ops.dense:DenseOp.lower", '{} if op.use_bias else {"bias": False}', '{"bias": False}', "dense without its bias", r"dense"),
    # ------------------------------------------------------------- torch: activations
    Bug("t-leaky-default-slope", "torch", T + "activations:activation_step", '{"negative_slope": float(spec.alpha)}', "{}", "leaky_relu's torch default slope 0.01", r"leaky"),
    Bug("t-elu-default-alpha", "torch", T + "activations:activation_step", 'return "F.elu", {"alpha": float(spec.alpha)}', 'return "F.elu", {}', "elu alpha ignored", r"elu"),
    Bug("t-gelu-exact-always", "torch", T + "activations:activation_step", '"tanh" if spec.approximate else "none"', '"none"', "gelu tanh approximation ignored", r"gelu"),
    Bug("t-softmax-last-axis", "torch", T + "activations:activation_step", 'return "torch.softmax", {"dim": torch_axis(spec.axis, rank, layout)}', 'return "torch.softmax", {"dim": -1}', "softmax over the last torch axis (channels-first!)", r"softmax"),
    Bug("t-hard-sigmoid-keras2", "torch", T + "lib.core:hard_sigmoid", "return F.relu6(x + 3.0) / 6.0", "return torch.clamp(0.2 * x + 0.5, 0.0, 1.0)", "Keras 2's hard sigmoid", r"hard_sigmoid"),
    # ------------------------------------------------------------- torch: recurrent
    Bug("t-lstm-gate-order-fused", "torch", T + "ops.recurrent:cell_to_torch", 'else tuple(range(gates))', "else tuple(reversed(range(gates)))", "LSTM gate blocks reversed on the way to nn.LSTM", r"lstm"),
    Bug("t-lstm-gate-order-loop", "torch", T + "lib.recurrent:RecurrentLoop._step", "i, f, cc, o = z.chunk(4, dim=-1)", "i, cc, f, o = z.chunk(4, dim=-1)", "explicit LSTM loop reads gates i, c, f, o", r"lstm"),
    Bug("t-lstm-forget-bias-added", "torch", T + "lib.recurrent:RecurrentLoop._step", "rnn_activation(f, ract) * c", "rnn_activation(f + 1.0, ract) * c", "unit forget bias added at run time", r"lstm"),
    Bug("t-gru-gate-order", "torch", T + "ops.recurrent:cell_to_torch", "order = _GRU_TO_TORCH if", "order = (0, 1, 2) if", "torch's GRU gates (r, z, n) taken as (z, r, h)", r"gru"),
    Bug("t-gru-update-flipped", "torch", T + "lib.recurrent:RecurrentLoop._step", "h = z * h + (1 - z) * hh", "h = (1 - z) * h + z * hh", "GRU update gate applied the other way round", r"gru"),
    Bug("t-gru-reset-before", "torch", T + "lib.recurrent:RecurrentLoop._step", "hh = rnn_activation(x_h + r * r_h, act)", "hh = rnn_activation(x_h + r * (r_h - b_rec[2 * self.units:] if b_rec is not None else r_h) + (b_rec[2 * self.units:] if b_rec is not None else 0.0), act)", "reset_after: the recurrent bias of the candidate left outside the reset gate", r"gru"),
    Bug("t-bidirectional-ave-is-sum", "torch", T + "lib.recurrent:rnn_merge", "return (a + b) / 2", "return a + b", "merge=ave computes a sum", r"ave"),
    Bug("t-bidirectional-backward-not-flipped", "torch", T + "lib.recurrent:BiRecurrent.forward", "yb = yb.flip(1)", "yb = yb", "backward outputs left in reversed time order", r"bidirectional"),
    Bug("t-rnn-dropout-mask-per-step", "torch", T + "lib.recurrent:rnn_sequence_dropout", "x * rnn_dropout_mask(x[:, 0, :], rate).unsqueeze(1)", "x * rnn_dropout_mask(x, rate)", "recurrent input dropout draws a new mask each time step", r"dropout"),
    # ------------------------------------------------------------- torch: attention, masking, embedding
    Bug("t-attention-scale-model-dim", "torch", T + "lib.attention:MultiHeadAttention._attend", "scale=1.0 / math.sqrt(self.key_dim)", "scale=1.0 / math.sqrt(self.heads * self.key_dim)", "scores scaled by 1/√(heads·key_dim)", r"attention"),
    Bug("t-attention-causal-ignored", "torch", T + "lib.attention:MultiHeadAttention._attend", "is_causal=self.causal", "is_causal=False", "causal mask dropped", r"causal"),
    Bug("t-attention-causal-off-by-one", "torch", T + "lib.attention:MultiHeadAttention._attend_masked", ".tril()", ".tril(1)", "masked causal attention sees one key ahead", r"causal"),
    Bug("t-attention-padding-mask-ignored", "torch", T + "lib.attention:MultiHeadAttention.forward", "if self.masks:", "if False:", "the padding mask ignored in attention", r"mask_zero"),
    Bug("t-masked-mean-counts-padding", "torch", T + "lib.core:masked_mean", "/ keep.to(x.dtype).sum(1)", "/ x.shape[1]", "masked mean divides by all steps", r"mask_zero"),
    Bug("t-rnn-mask-ignored", "torch", T + "lib.recurrent:RecurrentLoop.forward", "keep = None if ids is None else (ids != 0).unsqueeze(-1)", "keep = None", "padded steps update the recurrent state", r"mask_zero"),
    # ------------------------------------------------------------- torch: losses
    Bug("t-mse-sum-reduction", "torch", T + "lib.training:SpeccLoss.forward", "return F.mse_loss(pred, target.to(pred.dtype))", 'return F.mse_loss(pred, target.to(pred.dtype), reduction="sum") / pred.shape[0]', "mse summed over features (mean over batch only)", r"mse"),
    Bug("t-huber-default-delta", "torch", T + "lib.training:SpeccLoss.forward", "delta=self.delta)", ")", "Huber δ ignored", r"huber"),
    Bug("t-cce-smoothing-k-minus-1", "torch", T + "lib.training:SpeccLoss.forward", "self.label_smoothing / pred.shape[-1]", "self.label_smoothing / (pred.shape[-1] - 1)", "label smoothing spread over K − 1 classes", r"label_smoothing"),
    Bug("t-bce-smoothing-one-sided", "torch", T + "lib.training:SpeccLoss.forward", "y = y * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing", "y = y * (1.0 - self.label_smoothing)", "binary label smoothing without the ½·ls term", r"label_smoothing"),
    Bug("t-sparse-from-logits-ignored", "torch", T + "lib.training:SpeccLoss.forward", "            if self.from_logits:\n                logits = pred", "            if True:\n                logits = pred", "sparse CE on probabilities treated as logits", r"sparse_categorical"),
    Bug("t-bce-probabilities-summed", "torch", T + "lib.training:SpeccLoss.forward", "return -(y * torch.log(p) + (1.0 - y) * torch.log(1.0 - p)).mean()", "return -(y * torch.log(p) + (1.0 - y) * torch.log(1.0 - p)).sum(-1).mean()", "binary CE on probabilities summed over the outputs", r"binary_crossentropy"),
    Bug("t-l2-half", "torch", T + "lib.training:regularization_penalty", "t = t + l2 * w.square().sum()", "t = t + 0.5 * l2 * w.square().sum()", "L2 penalty with a ½", r"l2"),
    # ------------------------------------------------------------- torch: optimizers, schedules, clipping
    Bug("t-sgd-nesterov-ignored", "torch", T + "lib.training:SpeccOptimizer.__init__", 'nesterov=hparams.get("nesterov", False)', "nesterov=False", "Nesterov momentum ignored", r"nesterov"),
    Bug("t-sgd-dampening-ignored", "torch", T + "lib.training:SpeccOptimizer.__init__", 'dampening=hparams.get("dampening", 0.0)', "dampening=0.0", "SGD dampening ignored", r"dampening"),
    Bug("t-adam-eps-keras-default", "torch", T + "lib.training:SpeccOptimizer.__init__", 'eps=hparams.get("epsilon", 1e-8), amsgrad', "eps=1e-7, amsgrad", "Adam ε from Keras (1e-7)", r"adam"),
    Bug("t-adamw-coupled-decay", "torch", T + "lib.training:SpeccOptimizer.__init__", "cls = torch.optim.AdamW if builtin_decay else torch.optim.Adam", "cls = torch.optim.Adam", "weight decay coupled into the gradient (Adam's L2) instead of decoupled", r"weight_decay"),
    Bug("t-decay-without-lr", "torch", T + "lib.training:SpeccOptimizer._clip_and_decay", "keep = 1.0 - lr * self.weight_decay", "keep = 1.0 - self.weight_decay", "decoupled weight decay not scaled by the learning rate", r"weight_decay"),
    Bug("t-schedule-off-by-one", "torch", T + "lib.training:SpeccOptimizer.lr", "schedule_factor(self.schedule, self.steps)", "schedule_factor(self.schedule, self.steps + 1)", "schedule evaluated one step ahead", r"schedule"),
    Bug("t-warmup-from-zero", "torch", T + "lib.training:schedule_factor", "return (t + 1) / warm", "return max(t, 1) / warm", "warm-up counts from 0", r"warmup"),
    Bug("t-cosine-alpha-ignored", "torch", T + "lib.training:schedule_factor", "return (1.0 - alpha) * 0.5 * (1.0 + math.cos(math.pi * tt / ds)) + alpha", "return 0.5 * (1.0 + math.cos(math.pi * tt / ds))", "cosine schedule without its floor", r"cosine"),
    Bug("t-staircase-ignored", "torch", T + "lib.training:schedule_factor", 'if schedule.get("staircase"):', "if False:", "exponential staircase ignored", r"staircase"),
    Bug("t-clip-norm-before-value", "torch", T + "lib.training:SpeccOptimizer._clip_and_decay",
        "        if self.clip_value is not None and params:\n            torch.nn.utils.clip_grad_value_(params, self.clip_value)\n        if self.clip_norm is not None and params:\n            torch.nn.utils.clip_grad_norm_(params, self.clip_norm)",
        "        if self.clip_norm is not None and params:\n            torch.nn.utils.clip_grad_norm_(params, self.clip_norm)\n        if self.clip_value is not None and params:\n            torch.nn.utils.clip_grad_value_(params, self.clip_value)",
        "global-norm clipping before value clipping", r"clip_value"),
    Bug("t-clip-norm-per-tensor", "torch", T + "lib.training:SpeccOptimizer._clip_and_decay", "torch.nn.utils.clip_grad_norm_(params, self.clip_norm)", "[torch.nn.utils.clip_grad_norm_([p], self.clip_norm) for p in params]", "clip_norm per tensor (Keras' clipnorm) instead of global", r"clip_norm"),
    Bug("t-rmsprop-not-centered", "torch", T + "lib.training:SpeccOptimizer.__init__", 'centered=hparams.get("centered", False))', "centered=False)", "centered RMSprop ignored", r"centered"),
    Bug("t-adagrad-lr-decay-ignored", "torch", T + "lib.training:SpeccOptimizer.__init__", 'lr_decay=hparams.get("lr_decay", 0.0)', "lr_decay=0.0", "Adagrad lr_decay ignored", r"adagrad"),
    # ------------------------------------------------------------- keras: layers
    Bug("k-norm-eps-keras-default", "keras", K + "ops.basic:NormOps.lower", 'kw: dict = {"epsilon": op.epsilon}', "kw: dict = {}", "Keras' default ε (1e-3) instead of the spec's", r"_norm"),
    Bug("k-bn-momentum-torch-convention", "keras", K + "ops.basic:NormOps.lower", 'kw["momentum"] = op.momentum', 'kw["momentum"] = 1.0 - op.momentum', "torch's momentum convention", r"batch_norm"),
    Bug("k-dense-no-bias", "keras", K + "ops.basic:DenseOp.lower", "if not op.use_bias:", "if True:", "dense without its bias", r"dense"),
    Bug("k-pool-padding-counted", "keras", K + "lib.core:Pool.call", "return summed / counts", "return summed", "explicit-padding average pool counts padded cells", r"avgpool"),
    Bug("k-leaky-default-slope", "keras", K + "lib.core:SpeccActivation.__call__", 'ops.convert_to_tensor(p["alpha"], dtype=x.dtype)', "ops.convert_to_tensor(0.3, dtype=x.dtype)", "Keras' default slope 0.3", r"leaky"),
    Bug("k-gelu-exact-always", "keras", K + "lib.core:SpeccActivation.__call__", 'if p["approximate"]:', "if False:", "gelu approximation ignored", r"gelu"),
    Bug("k-gelu-tanh-constant", "keras", K + "lib.core:SpeccActivation.__call__", "0.044715", "0.0447", "tanh-gelu's cubic constant rounded", r"gelu"),
    Bug("k-elu-default-alpha", "keras", K + "activations:keras_activation", 'return "elu" if spec.alpha == 1.0 else', 'return "elu" if True else', "elu alpha ignored", r"elu"),
    Bug("k-softmax-last-axis", "keras", K + "activations:keras_activation", "last = spec.axis in (-1, rank)", "last = True", "softmax over a non-last axis computed over the last", r"softmax"),
    Bug("k-bilinear-asymmetric", "keras", K + "lib.core:_bilinear_axis", "src = ops.maximum((o + 0.5) / factor - 0.5, 0.0)", "src = o / factor", "bilinear upsampling without half-pixel centres", r"bilinear"),
    Bug("k-attention-scale-missing", "keras", K + "lib.attention:MultiHeadAttention._compute_attention", "scale = ops.convert_to_tensor(self._query_scale, dtype=query.dtype)", "scale = ops.convert_to_tensor(1.0, dtype=query.dtype)", "attention scores not scaled", r"attention"),
    Bug("k-causal-ignored", "keras", K + "ops.attention:MultiHeadAttentionOp.lower", 'call_kw = {"use_causal_mask": True} if op.causal else {}', "call_kw = {}", "causal mask dropped", r"causal"),
    Bug("k-dropout-rate-halved", "keras", K + "ops.basic:DropoutOp.lower", "(node.op.rate,)", "(node.op.rate / 2,)", "dropout rate halved", r"dropout"),
    # ------------------------------------------------------------- keras: losses, optimizers
    Bug("k-sparse-smoothing-ignored", "keras", K + "lib.training:SparseCategoricalCrossentropySmoothed.call", "from_logits=self.from_logits, label_smoothing=self.label_smoothing)", "from_logits=self.from_logits)", "sparse label smoothing ignored", r"label_smoothing"),
    Bug("k-l2-half", "keras", K + "lib.training:Penalty.__call__", "_const(self.l2, x.dtype) * ops.sum(ops.square(x))", "_const(self.l2 / 2, x.dtype) * ops.sum(ops.square(x))", "L2 penalty with a ½", r"l2"),
    Bug("k-adam-eps-keras-placement", "keras", K + "lib.optimizers:TorchAdam.update_step", "step * (m / (ops.sqrt(v) / root + self.epsilon))", "step * (m / ((ops.sqrt(v) + self.epsilon) / root))", "Adam ε inside the bias correction (Keras' placement)", r"adam"),
    Bug("k-adam-no-bias-correction-v", "keras", K + "lib.optimizers:TorchAdam.update_step", "step * (m / (ops.sqrt(v) / root + self.epsilon))", "step * (m / (ops.sqrt(v) + self.epsilon))", "Adam's second moment not bias-corrected", r"adam"),
    Bug("k-sgd-nesterov-ignored", "keras", K + "lib.optimizers:TorchSGD.update_step", "g = g + new * self.momentum if self.nesterov else new", "g = new", "Nesterov momentum ignored", r"nesterov"),
    Bug("k-sgd-momentum-lr-folded", "keras", K + "lib.optimizers:TorchSGD.update_step", "buf * self.momentum + g * (1.0 - self.dampening))", "buf * self.momentum + g)", "momentum buffer update ignores dampening", r"dampening"),
    Bug("k-sgd-buffer-zero-start", "keras", K + "lib.optimizers:TorchSGD.update_step", "ops.where(self.iterations == 0, g,", "ops.where(self.iterations < 0, g,", "momentum buffer starts at 0 (dampening applied on the first step)", r"momentum"),
    Bug("k-rmsprop-eps-inside-root", "keras", K + "lib.optimizers:TorchRMSprop.update_step", "avg = ops.sqrt(sq) + self.epsilon", "avg = ops.sqrt(sq + self.epsilon)", "RMSprop ε inside the root (Keras' placement)", r"rmsprop"),
    Bug("k-rmsprop-centered-ignored", "keras", K + "lib.optimizers:TorchRMSprop.update_step", "avg = ops.sqrt(sq - ga * ga) + self.epsilon", "avg = ops.sqrt(sq) + self.epsilon", "centered RMSprop computed uncentered", r"centered"),
    Bug("k-adagrad-decay-off-by-one", "keras", K + "lib.optimizers:TorchAdagrad.update_step", "(1.0 + (t - 1.0) * self.lr_decay)", "(1.0 + t * self.lr_decay)", "Adagrad lr_decay counted from step 1", r"adagrad"),
    Bug("k-keras-optimizer-defaults", "keras", K + "bundle:_optimizer_construct", "if defaults[k] != v or type(defaults[k]) is not type(v):", "if False:", "Keras' own defaults for the spec's hyper-parameters (Adam ε 1e-7, RMSprop ρ 0.9, Adadelta ρ 0.95 …)", r"adadelta|rmsprop"),
    Bug("k-lr-through-float32", "keras", K + "lib.optimizers:TorchLR.__call__", 'ops.convert_to_tensor(self.lr, dtype="float64")', 'ops.cast(ops.convert_to_tensor(self.lr, dtype="float32"), "float64")', "the learning rate rounded to float32 (Keras' own learning-rate variable)", r"optimizer"),
    Bug("k-clip-value-after-norm", "keras", K + "lib.optimizers:TorchClip.__call__",
        "        if value is not None:\n            grads = [None if g is None else ops.clip(g, -value, value) for g in grads]\n",
        "        if value is not None and False:\n            pass\n", "value clipping dropped when a norm is also given", r"clip_value"),
    Bug("k-clip-norm-no-epsilon", "keras", K + "lib.optimizers:TorchClip.__call__", "norm / (total + 1e-6)", "norm / total", "global norm clipping without torch's 1e-6", r"clip_norm"),
    Bug("k-warmup-inclusive", "keras", K + "lib.optimizers:schedule_factor", "ops.where(t < warm, (t + 1.0) / warm, cos)", "ops.where(t <= warm, (t + 1.0) / warm, cos)", "warm-up one step too long", r"warmup"),
    Bug("k-cosine-alpha-ignored", "keras", K + "lib.optimizers:schedule_factor", "cos = (1.0 - alpha) * 0.5 * (1.0 + ops.cos(math.pi * tt / ds)) + alpha", "cos = 0.5 * (1.0 + ops.cos(math.pi * tt / ds))", "cosine schedule without its floor", r"cosine"),
    Bug("k-step-schedule-early", "keras", K + "lib.optimizers:schedule_factor", 'ops.floor(t / schedule["step_size"])', 'ops.floor((t + 1.0) / schedule["step_size"])', "step schedule decays one step early", r"step_size"),
    Bug("k-decay-without-lr", "keras", K + "lib.optimizers:TorchDecay.__call__", "keep = 1.0 - ops.cast(lr, \"float64\") * self.config[\"rate\"]", "keep = 1.0 - self.config[\"rate\"]", "decoupled weight decay not scaled by the learning rate", r"weight_decay"),
]


# --------------------------------------------------------------------------- planting


def _resolve(target: str):
    """(owner, attribute name, raw original, function) for ``module:attr`` / ``module:Class.attr``."""
    import importlib

    mod_name, _, qual = target.partition(":")
    module = importlib.import_module(mod_name)
    parts = qual.split(".")
    owner = module
    for p in parts[:-1]:
        owner = getattr(owner, p)
    name = parts[-1]
    raw = owner.__dict__[name] if isinstance(owner, type) else getattr(module, name)
    fn = raw.fget if isinstance(raw, property) else getattr(raw, "__func__", raw)
    return module, owner, name, raw, fn


@contextlib.contextmanager
def planted(bug: Bug, calls: list[int] | None = None):
    """Replace the bug's target by its patched source while inside; ``calls[0]`` counts calls."""
    module, owner, name, raw, fn = _resolve(bug.target)
    src = inspect.getsource(fn)  # patched as written in the file (its indentation), then dedented
    if src.count(bug.old) != 1:
        raise LookupError(f"{bug.name}: {src.count(bug.old)} matches of the planted string in {bug.target}")
    src = textwrap.dedent(src.replace(bug.old, bug.new)).replace("super()", "super(__class__, self)")
    factory = "def __plant_factory(__class__):\n" + textwrap.indent(src, "    ") + f"\n    return {fn.__name__}\n"
    ns: dict = {}
    exec(compile(factory, f"<planted {bug.name}>", "exec"), module.__dict__, ns)
    new = ns["__plant_factory"](owner if isinstance(owner, type) else None)
    inner = new.fget if isinstance(new, property) else getattr(new, "__func__", new)
    counter = calls if calls is not None else [0]

    @functools.wraps(inner)
    def counted(*a, **k):
        counter[0] += 1
        return inner(*a, **k)

    if isinstance(new, property):
        new = property(counted, new.fset, new.fdel, new.__doc__)
    elif isinstance(new, staticmethod):
        new = staticmethod(counted)
    elif isinstance(new, classmethod):
        new = classmethod(counted)
    else:
        new = counted
    swapped = [(owner, name, raw)]
    if not isinstance(owner, type):  # every `from … import name` of a module-level function in specc
        swapped += [(m, name, raw) for m in list(sys.modules.values()) if m is not None and m is not owner and getattr(m, "__name__", "").startswith("specc.") and m.__dict__.get(name) is raw]
    tables = []  # and every module-level table holding it (the torch plan's function table)
    if not isinstance(owner, type):
        for m in list(sys.modules.values()):
            if m is None or not getattr(m, "__name__", "").startswith("specc."):
                continue
            for table in list(vars(m).values()):
                if isinstance(table, dict):
                    tables += [(table, k) for k, v in list(table.items()) if v is raw]
    for o, n, _ in swapped:
        setattr(o, n, new)
    for table, k in tables:
        table[k] = new
    try:
        yield counter
    finally:
        for o, n, r in swapped:
            setattr(o, n, r)
        for table, k in tables:
            table[k] = raw


# --------------------------------------------------------------------------- running


def spec_paths() -> list[Path]:
    return sorted((ROOT / "specs").glob("*.spec")) + sorted((ROOT / "specc" / "selftest" / "corpus").glob("*.spec"))


@dataclass
class Result:
    name: str
    backend: str
    why: str
    calls: int = 0
    float64: str = ""  # caught (spec) | missed | not run
    float32: str = "not run"
    detail: str = ""
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


def _verdict(model, dtype: str):
    """(caught?, detail) for one verification; an error counts as caught (it is reported)."""
    from specc.verification import verify

    try:
        r = verify(model, dtype=dtype, processes=False)
    except Exception as e:  # noqa: BLE001 - a planted bug may make a backend fail: that is reported too
        return True, f"error {type(e).__name__}: {str(e)[:120]}"
    if r.ok:
        return False, ""
    f = r.first_failure
    return True, f"{f.dtype} {f.phase} {f.name}" if f is not None else r.verdict()[:120]


def order(paths: list[Path], texts: dict[Path, str], hint: str) -> list[Path]:
    if not hint:
        return paths
    rx = re.compile(hint)
    return [p for p in paths if rx.search(texts[p])] + [p for p in paths if not rx.search(texts[p])]


MAX_SEARCH = 6


def matching(paths: list[Path], texts: dict[Path, str], hint: str) -> list[Path]:
    rx = re.compile(hint or ".")
    return [p for p in paths if rx.search(texts[p])] or paths


def run_bug(bug: Bug, models: dict, texts: dict, dtypes: list[str]) -> Result:
    res = Result(bug.name, bug.backend, bug.why)
    t = time.perf_counter()
    calls = [0]
    with planted(bug, calls):
        first = dtypes[0]
        caught_by = None
        for p in order(list(models), texts, bug.hint):
            caught, detail = _verdict(models[p], first)
            if caught:
                caught_by = p
                setattr(res, first, f"caught ({p.stem})")
                res.detail = detail
                break
        if caught_by is None:
            setattr(res, first, "missed")
        for d in dtypes[1:] if calls[0] else ():  # never ran: no spec exercises it, in any precision
            # float32 runs cost several float64 ones: confirm a catch, or search the specs the hint names
            pool = [caught_by] if caught_by is not None else matching(list(models), texts, bug.hint)[:MAX_SEARCH]
            setattr(res, d, "missed")
            for p in pool:
                caught, detail = _verdict(models[p], d)
                if caught:
                    setattr(res, d, f"caught ({p.stem})")
                    res.detail = res.detail or detail
                    break
    res.calls = calls[0]
    if not calls[0]:  # a failure before the planted code ran is the plant's, not a catch
        for d in dtypes:
            if getattr(res, d).startswith("caught"):
                setattr(res, d, "plant failed")
    res.seconds = time.perf_counter() - t
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="*", help="bug names (default: all)")
    ap.add_argument("--dtypes", nargs="+", default=["float64", "float32"], help="first: searched over every spec; then: confirmed")
    ap.add_argument("--specs", nargs="*", help="spec files (default: specs/ and the verify corpus)")
    ap.add_argument("--out", default="runs/plant", help="folder for plant.json")
    ap.add_argument("--check", action="store_true", help="only check that every bug can be planted")
    args = ap.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import logging

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    import specc
    import specc.backends.keras.lib  # noqa: F401 - import the planted modules
    import specc.backends.keras.ops  # noqa: F401
    import specc.backends.torch.lib  # noqa: F401
    import specc.backends.torch.ops  # noqa: F401

    chosen = [b for b in BUGS if not args.only or b.name in args.only]
    bad = []
    for b in chosen:
        try:
            with planted(b):
                pass
        except Exception as e:  # noqa: BLE001 - reported
            bad.append(f"{b.name}: {type(e).__name__}: {e}")
    if bad or args.check:
        print(f"{len(chosen) - len(bad)} of {len(chosen)} bugs can be planted" + ("".join(f"\n  {x}" for x in bad)))
        if bad or args.check:
            return 1 if bad else 0
    paths = [Path(p) for p in args.specs] if args.specs else spec_paths()
    texts = {p: p.read_text() for p in paths}
    models = {p: specc.load(p) for p in paths}
    false_alarms = []
    for p, m in models.items():
        caught, detail = _verdict(m, args.dtypes[0])
        if caught:
            false_alarms.append(f"{p.stem}: {detail}")
    if false_alarms:
        print("untouched backends fail (false alarms), nothing measured:\n  " + "\n  ".join(false_alarms))
        return 1
    print(f"untouched: {len(models)} specs pass in {args.dtypes[0]}", flush=True)
    results = []
    for b in chosen:
        r = run_bug(b, models, texts, args.dtypes)
        results.append(r)
        cols = " ".join(f"{getattr(r, d):24}" for d in args.dtypes)
        print(f"{r.name:40} {r.backend:5} calls {r.calls:5} {cols} {r.seconds:5.0f} s  {r.detail[:70]}", flush=True)
    missed = [r.name for r in results if all(not getattr(r, d).startswith("caught") for d in args.dtypes)]
    summary = {"bugs": len(results), "caught": len(results) - len(missed), "missed": missed, "never_ran": [r.name for r in results if r.calls == 0]}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "plant.json").write_text(json.dumps({"summary": summary, "results": [asdict(r) for r in results]}, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
