"""The training part of ``specc compile --to torch``: the spec's train section written as an
expert writes it — ``torch.optim.<Kind>``, ``F.<loss>``, ``clip_grad_value_`` /
``clip_grad_norm_``, a ``LambdaLR`` schedule — with only the spec's choices in it.

Each line computes what ``specc.build``'s ``TorchBundle`` computes (``lib/training.py``):
the same torch calls in the same order, so a generated module trains exactly like the
in-memory one (``tests/test_emit.py``, ``tests/test_emit_train.py``).  Where torch's own
function has another formula than the IR's, the IR's is written out with a comment:

* probabilities into a cross-entropy: the IR (Keras) clips them to [1e-7, 1 − 1e-7]; torch's
  ``binary_cross_entropy`` clamps the log at −100 instead;
* KL divergence: both sides clipped to [1e-7, 1] (``F.kl_div`` clips nothing);
* a learning-rate schedule: ``LambdaLR`` with the closed form (torch's ``StepLR`` /
  ``ExponentialLR`` / ``CosineAnnealingLR`` update the rate recursively: other roundings).
"""

from __future__ import annotations

import inspect

import torch

from specc.backends.common import loss_uses_logits, optimizer_args
from specc.ir.graph import Model

from .lib.training import LOSS_EPSILON

__all__ = ["TRAINING_NAMES", "render_training", "loss_expr"]

#: module-level names the training part binds
TRAINING_NAMES = {"BATCH_SIZE", "EPOCHS", "make_optimizer", "make_scheduler", "lr_factor", "penalty", "compute_loss", "train_step"}

_LO, _HI = repr(LOSS_EPSILON), repr(1.0 - LOSS_EPSILON)


def loss_expr(kind: str, p: str, y: str, *, from_logits: bool, label_smoothing: float, delta: float, rank: int) -> str:
    """The torch expression of the IR loss ``kind`` on predictions ``p`` (``rank`` axes with
    the batch) and targets ``y`` — the same calls as ``SpeccLoss.forward``."""
    ls = float(label_smoothing)
    smooth = f", label_smoothing={ls!r}" if ls else ""
    if kind == "mse":
        return f"F.mse_loss({p}, {y})"
    if kind == "mae":
        return f"F.l1_loss({p}, {y})"
    if kind == "huber":
        return f"F.huber_loss({p}, {y}{'' if delta == 1.0 else f', delta={float(delta)!r}'})"
    if kind == "binary_crossentropy":
        if ls:
            y = f"({y} * {1.0 - ls!r} + {0.5 * ls!r})"
        if from_logits:
            return f"F.binary_cross_entropy_with_logits({p}, {y})"
        q = f"{p}.clamp({_LO}, {_HI})"  # Keras clips probabilities; torch's BCE clamps log at -100
        return f"-({y} * torch.log({q}) + (1.0 - {y}) * torch.log(1.0 - {q})).mean()"
    if kind == "categorical_crossentropy":
        if from_logits:
            if rank > 2:
                p, y = f"{p}.movedim(-1, 1)", f"{y}.movedim(-1, 1)"
            return f"F.cross_entropy({p}, {y}{smooth})"
        if ls:
            y = f"({y} * {1.0 - ls!r} + {ls!r} / {p}.shape[-1])"
        q = f"({p} / {p}.sum(-1, keepdim=True)).clamp({_LO}, {_HI})"  # Keras renormalises and clips
        return f"-({y} * torch.log({q})).sum(-1).mean()"
    if kind == "sparse_categorical_crossentropy":
        logits = p if from_logits else f"torch.log({p}.clamp({_LO}, {_HI}))"  # Keras clips probabilities
        if rank > 2:
            logits = f"{logits}.movedim(-1, 1)"
        return f"F.cross_entropy({logits}, {y}.long(){smooth})"
    if kind == "kl_divergence":
        t, q = f"{y}.clamp({_LO}, 1.0)", f"{p}.clamp({_LO}, 1.0)"  # Keras clips both sides
        return f"({t} * torch.log({t} / {q})).sum(-1).mean()"
    raise ValueError(f"no torch loss for {kind}")  # pragma: no cover - every IR loss is covered


#: IR hyper-parameter → torch.optim keyword, per kind
_OPT = {
    "sgd": ("SGD", {"momentum": "momentum", "dampening": "dampening", "nesterov": "nesterov"}),
    "adam": ("Adam", {"epsilon": "eps", "amsgrad": "amsgrad"}),
    "rmsprop": ("RMSprop", {"rho": "alpha", "epsilon": "eps", "momentum": "momentum", "centered": "centered"}),
    "adagrad": ("Adagrad", {"lr_decay": "lr_decay", "initial_accumulator": "initial_accumulator_value", "epsilon": "eps"}),
    "adadelta": ("Adadelta", {"rho": "rho", "epsilon": "eps"}),
}


def _optimizer_call(opt: dict) -> tuple[str, bool]:
    """(``torch.optim.X(model.parameters(), …)``, whether the decay is applied by hand):
    torch's defaults are left out; Adam/AdamW decay as AdamW does (the IR's decoupled
    decay), the other kinds' decay is the loop in ``train_step``."""
    kind, h = opt["kind"], opt["hparams"]
    builtin_decay = kind in ("adam", "adamw") and opt["weight_decay"] > 0
    cls, names = _OPT["adam" if kind == "adamw" else kind]
    if builtin_decay:
        cls = "AdamW"
    defaults = {k: v.default for k, v in inspect.signature(getattr(torch.optim, cls)).parameters.items()}
    args = [f"lr={float(opt['lr'])!r}"]
    if kind in ("adam", "adamw"):
        betas = (float(h.get("beta1", 0.9)), float(h.get("beta2", 0.999)))
        if betas != tuple(defaults["betas"]):
            args.append(f"betas={betas!r}")
    for ir, kw in names.items():
        if ir in h and h[ir] != defaults[kw]:
            args.append(f"{kw}={h[ir]!r}")
    if builtin_decay:
        args.append(f"weight_decay={float(opt['weight_decay'])!r}")
    return f"torch.optim.{cls}(model.parameters(), {', '.join(args)})", opt["weight_decay"] > 0 and not builtin_decay


def _schedule_lines(s: dict) -> list[str]:
    """``lr_factor(step)``: the closed form of ``schedule_factor`` for this schedule (the
    same float operations, so the same learning rates)."""
    kind = s["kind"]
    head = ["def lr_factor(step):", f'    """The learning rate\'s multiplier before optimizer step ``step`` (0 first): {kind}."""']
    if kind == "step":
        return head + [f"    return {float(s['gamma'])!r} ** (step // {s['step_size']!r})"]
    if kind == "exponential":
        p = f"math.floor(step / {s['decay_steps']!r})" if s.get("staircase") else f"(step / {s['decay_steps']!r})"
        return head + [f"    return {float(s['decay_rate'])!r} ** {p}"]
    if kind == "cosine":
        warm, ds, alpha = s.get("warmup_steps", 0), s["decay_steps"], float(s.get("alpha", 0.0))
        lines = list(head)
        if warm:
            lines += [f"    if step < {warm!r}:", f"        return (step + 1) / {warm!r}"]
        tt = f"min(step - {warm!r}, {ds!r})" if warm else f"min(step, {ds!r})"
        cos = f"(1.0 + math.cos(math.pi * {tt} / {ds!r}))"
        # alpha = 0: (1.0 - 0.0) * 0.5 * c + 0.0 is 0.5 * c exactly
        return lines + [f"    return {1.0 - alpha!r} * 0.5 * {cos} + {alpha!r}" if alpha else f"    return 0.5 * {cos}"]
    raise ValueError(f"no schedule {kind}")  # pragma: no cover


def _attr(prefix: str, key: str) -> str:
    return prefix + "".join(f"[{seg}]" if seg.isdigit() else f".{seg}" for seg in key.split("."))


def render_training(model: Model, plan) -> str:
    """The training part of the generated module (after the model classes)."""
    train = model.train
    if train is None:
        return '\ndef make_optimizer(model):\n    raise ValueError("the spec has no train section")\n'
    from .bundle import _torch_keys

    loss = train.loss
    outs = list(model.outputs)
    preds = ["pred"] if len(outs) == 1 else [f"preds[{i}]" for i in range(len(outs))]
    terms = []
    for i, (o, p) in enumerate(zip(outs, preds)):
        terms.append(
            loss_expr(
                loss.kind,
                p,
                f"targets[{i}]",
                from_logits=bool(getattr(loss, "from_logits", False)) or loss_uses_logits(model, o),
                label_smoothing=float(getattr(loss, "label_smoothing", 0.0)),
                delta=float(getattr(loss, "delta", 1.0)),
                rank=model.type_of(o).rank + 1,
            )
        )
    penalties = []
    for node, w in model.weights():
        reg = w.regularizer
        if reg is not None and (reg.l1_coef or reg.l2_coef) and w.trainable and node.trainable:
            for k in _torch_keys(plan, node, w.name):
                ref = _attr("model", k)
                parts = ([f"{reg.l1_coef!r} * {ref}.abs().sum()"] if reg.l1_coef else []) + ([f"{reg.l2_coef!r} * {ref}.square().sum()"] if reg.l2_coef else [])
                penalties.append(" + ".join(parts) if len(parts) == 1 or not penalties else f"({' + '.join(parts)})")
    opt = optimizer_args(train)
    call, manual_decay = _optimizer_call(opt)
    sched = opt["schedule"] if opt["schedule"] and opt["schedule"]["kind"] != "constant" else None

    lines = ["", "# ---- training (the spec's train section)", f"BATCH_SIZE = {train.batch}", f"EPOCHS = {train.epochs}", "", ""]
    lines += ["def make_optimizer(model):", f"    return {call}", "", ""]
    if sched:
        lines += [*_schedule_lines(sched), "", "", "def make_scheduler(optimizer):", "    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)", "", ""]
    if penalties:
        lines += ["def penalty(model):", '    """The spec\'s weight regularisers (l1·Σ|w| + l2·Σw²)."""', "    return (", *[f"        {'+ ' if i else ''}{t}" for i, t in enumerate(penalties)], "    )", "", ""]
    lines += [
        "def compute_loss(model, inputs, targets):",
        f'    """The spec\'s loss{" + penalties" if penalties else ""} for one batch; inputs and targets are lists (one per input / output)."""',
        f"    {'pred' if len(outs) == 1 else 'preds'} = model(*inputs{'' if plan.loss_reads_outputs else ', return_logits=True'})",
    ]
    if len(terms) == 1 and not penalties:
        lines.append(f"    return {terms[0]}")
    else:
        lines.append(f"    loss = {terms[0]}")
        lines += [f"    loss = loss - {t[1:]}" if t.startswith("-") else f"    loss = loss + {t}" for t in terms[1:]]  # a + (-b) is a - b
        lines.append("    return loss + penalty(model)" if penalties else "    return loss")
    lines += ["", ""]
    params = "model.parameters()"
    step = ["    optimizer.step()"]
    if sched:
        step.append("    scheduler.step()")
    pre = []
    if opt["clip_value"] is not None:
        pre.append(f"    torch.nn.utils.clip_grad_value_({params}, {float(opt['clip_value'])!r})")
    if opt["clip_norm"] is not None:
        pre.append(f"    torch.nn.utils.clip_grad_norm_({params}, {float(opt['clip_norm'])!r})")
    if manual_decay:  # decoupled weight decay (AdamW's rule) for a kind torch decays otherwise
        wd = float(opt["weight_decay"])
        pre += [
            "    with torch.no_grad():",
            f"        keep = 1.0 - optimizer.param_groups[0]['lr'] * {wd!r}",
            f"        for p in {params}:",
            "            if p.grad is not None:",
            "                p.mul_(keep)",
        ]
    sig = "model, optimizer, inputs, targets, scheduler" if sched else "model, optimizer, inputs, targets"
    lines += [
        f"def train_step({sig}) -> float:",
        '    """One optimizer step in training mode; returns the loss."""',
        "    model.train()",
        "    optimizer.zero_grad()",
        "    loss = compute_loss(model, inputs, targets)",
        "    loss.backward()",
        *pre,
        *step,
        "    return loss.item()",
        "",
    ]
    return "\n".join(lines)

