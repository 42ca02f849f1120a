"""Dropout compared, not switched off: in verify mode every random draw of both backends
takes its keep pattern from one seeded source that specc controls.

A draw is identified by (pass, layer, draw number within that layer's pass): each
backend's run of the protocol — in a worker process of its own or here — opens a pass
(0: the gradients' batch, s: step s) on a :class:`MaskSource` of the verify seed, and a
hook on every stochastic layer says which IR node is drawing; the same draw gets the same
pattern in every process, so nothing but the seed is shared.  The pattern is NumPy's
``random(shape) >= rate`` in the canonical (channels-last) layout, converted to the
layout the torch layer computes in — so both backends see the same kept values, wherever
and however they apply them.

What runs unchanged (and is therefore compared): the models training builds, every
stochastic layer's module and its training-mode path, where each mask is applied, specc's
own recurrent mask code (one mask per sequence, per gate with recurrent dropout; the
``1/(1 − rate)`` scaling of ``rnn_dropout_mask``) and Keras' RNN cells.  What is replaced
in verify mode only, because a fused kernel draws inside itself and cannot be given a
mask: the random draw of ``torch.nn.functional.dropout`` and of Keras' backend
``random.dropout`` (kept values scaled by ``1/(1 − rate)`` here, the documented formula
of both), and torch's ``scaled_dot_product_attention`` in a layer with attention dropout,
computed explicitly (softmax, the seeded dropout, times V) for the comparison in training
passes only (the inference passes run the layer's own code, so its scale and causal mask
are compared there).  Each
draw is logged and returned with the run's results; a layer drawing a different number,
shape or rate of masks in the two backends, or none where its rate says it must, is
reported as a difference (:func:`draw_rows`).

Normal training never imports this module.
"""

from __future__ import annotations

import contextlib
import math
import types
import zlib
from dataclasses import dataclass, field

import numpy as np

__all__ = ["MaskSource", "torch_masks", "keras_masks", "mask_notes", "draw_rows", "rate_of"]

#: one draw: (pass, IR node, draw number within the node's call, canonical shape, rate)
Draw = tuple[int, str, int, tuple[int, ...], float]


def rate_of(op) -> float:
    """The largest dropout rate a stochastic layer declares (0: it draws nothing)."""
    rates = [getattr(op, f, 0.0) or 0.0 for f in ("rate", "dropout", "recurrent_dropout")]
    inner = getattr(op, "layer", None)
    if inner is not None:
        rates.append(rate_of(inner))
    return max(rates, default=0.0) if op.stochastic else 0.0


def mask_notes(model, draws: list[Draw]) -> list[str]:
    """The report's notes: what was compared, and what verify replaced (and why).
    ``draws``: one backend's draws (the gradient pass is counted)."""
    counts: dict[str, int] = {}
    for pass_id, name, *_ in draws:
        if pass_id == 0:
            counts[name] = counts.get(name, 0) + 1
    nodes = [n for n in model.nodes if n.op.stochastic]
    what = ", ".join(f"{n.name} ({counts.get(n.name, 0)} masks)" if model.train is not None else n.name for n in nodes)
    notes = [
        f"dropout compared, not switched off: both backends took every mask from one seeded source, in: {what}; "
        "the random draws of torch's F.dropout and Keras' backend dropout (fused kernels that cannot be given a mask) "
        "are replaced by the seeded keep pattern scaled by 1/(1 − rate); the layers, where masks apply and specc's "
        "own recurrent-mask code run as in training"
    ]
    att = [n.name for n in nodes if n.op.kind == "multi_head_attention" and n.op.dropout]
    if att:
        notes.append(
            f"attention dropout in {', '.join(att)}: torch's fused scaled_dot_product_attention draws its mask inside "
            "the kernel, so in training passes verify computes the same layer explicitly (softmax(QKᵀ/√d), the seeded "
            "dropout, ·V); the inference passes run the layer's own code; the fused kernel's own dropout is not compared"
        )
    return notes


def draw_rows(model, da: list[Draw], db: list[Draw], names: tuple[str, str], dtype: str) -> list:
    """A failing row per (pass, layer) whose dropout draws (count, shapes, rates) differ
    between the backends, or where a layer declaring a rate drew nothing in either."""
    from .report import Row

    def phase(pass_id):
        return "loss" if pass_id == 0 else f"step {pass_id}"

    rows = []
    keys = dict.fromkeys((d[0], d[1]) for d in (*da, *db))
    for pass_id, name in keys:
        sa = [(sh, r) for p, n, _, sh, r in da if (p, n) == (pass_id, name)]
        sb = [(sh, r) for p, n, _, sh, r in db if (p, n) == (pass_id, name)]
        if sa != sb:
            why = f"dropout masks differ: {names[0]} drew {_describe(sa)}, {names[1]} drew {_describe(sb)}"
            rows.append(Row(phase(pass_id), name, (), float("inf"), float("inf"), 0.0, 0.0, False, "dropout", dtype, why))
    if model.train is not None:
        drew = {n for p, n, *_ in (*da, *db) if p == 0}
        for node in model.nodes:
            if rate_of(node.op) > 0 and node.name not in drew:
                why = f"declares dropout (rate {rate_of(node.op):g}) but neither {names[0]} nor {names[1]} drew a mask in training"
                rows.append(Row("loss", node.name, (), float("inf"), float("inf"), 0.0, 0.0, False, "dropout", dtype, why))
    return rows


def _describe(draws) -> str:
    if not draws:
        return "none"
    return ", ".join(f"{list(s)} (rate {r:g})" for s, r in draws)


@dataclass
class MaskSource:
    """Seeded keep patterns: the same for every backend and every process with this seed.
    A draw is named by (pass, layer, draw number within that layer's pass)."""

    seed: int
    pass_id: int | None = None
    log: list[Draw] = field(default_factory=list)
    _stack: list[tuple[str, object]] = field(default_factory=list)
    _counts: dict[str, int] = field(default_factory=dict)

    @contextlib.contextmanager
    def run(self, pass_id: int):
        """One training-mode pass (0: the gradients' batch, s: step s); draws numbered afresh."""
        self.pass_id, self._counts = pass_id, {}
        try:
            yield
        finally:
            self.pass_id = None

    @contextlib.contextmanager
    def node(self, name: str, layout=None):
        """Draws inside come from IR node ``name`` (``layout``: the torch layout of its
        input, for masks of the dropout layer itself)."""
        self._stack.append((name, layout))
        try:
            yield
        finally:
            self._stack.pop()

    @property
    def layout(self):
        return self._stack[-1][1] if self._stack else None

    def keep(self, shape: tuple[int, ...], rate: float) -> np.ndarray:
        """The keep pattern (float 0/1, canonical layout) of the next draw."""
        if not self._stack:
            raise RuntimeError("a random draw outside any stochastic layer: verify cannot match it across backends")
        name = self._stack[-1][0]
        index = self._counts.get(name, 0)
        self._counts[name] = index + 1
        pass_id = -1 if self.pass_id is None else self.pass_id
        shape = tuple(int(d) for d in shape)
        if self.pass_id is not None:  # Keras' RNN cells also draw (and do not apply) masks in inference
            self.log.append((pass_id, name, index, shape, float(rate)))
        rng = np.random.default_rng([self.seed, 104729, pass_id + 1, zlib.crc32(name.encode()), index])
        return (rng.random(shape) >= rate).astype(np.float64)


# --------------------------------------------------------------------------- torch


def _canonical_shape(shape, layout) -> tuple[int, ...]:
    shape = tuple(int(d) for d in shape)
    if layout is not None and layout.kind == "cf":
        return (shape[0], *shape[2:], shape[1])
    return shape


def _to_layout(keep: np.ndarray, layout) -> np.ndarray:
    if layout is None or layout.kind == "canon":
        return keep
    if layout.kind == "cf":
        return np.moveaxis(keep, -1, 1)
    return keep[..., np.asarray(layout.perm)]  # torch feature i is canonical feature perm[i]


@contextlib.contextmanager
def torch_masks(bundle, source: MaskSource):
    """Install the verify-mode hooks on a torch bundle (restored on exit)."""
    import torch
    import torch.nn.functional as F

    from specc.backends.torch.lib import attention as tatt
    from specc.backends.torch.lib import recurrent as trec
    from specc.backends.torch.plan import ModuleStep

    def keep_tensor(like: torch.Tensor, rate: float, layout) -> torch.Tensor:
        keep = source.keep(_canonical_shape(like.shape, layout), rate)
        return torch.as_tensor(np.ascontiguousarray(_to_layout(keep, layout)), dtype=like.dtype, device=like.device)

    real_dropout = F.dropout
    real_keep = trec.rnn_keep_mask

    def dropout(input, p=0.5, training=True, inplace=False):  # noqa: A002 - torch's signature
        if not training or p == 0.0:
            return input
        return input * keep_tensor(input, p, source.layout) / (1.0 - p)

    def rnn_keep_mask(like, rate):
        return keep_tensor(like, rate, None)

    def explicit_attend(self, q, k, v):
        if not self.training:  # no dropout to share: the layer's own code is what gets compared
            return type(self)._attend(self, q, k, v)
        s = (q * (1.0 / math.sqrt(self.key_dim))) @ k.transpose(-2, -1)
        if self.causal:
            tq, tk = s.shape[-2], s.shape[-1]
            allowed = torch.ones(tq, tk, dtype=torch.bool, device=s.device).tril()
            s = s.masked_fill(~allowed, float("-inf"))
        a = torch.softmax(s, dim=-1)
        return F.dropout(a, self.dropout, self.training) @ v

    handles = []
    patched = []
    stochastic = {n.name for n in bundle.spec.nodes if n.op.stochastic}
    for step in bundle.plan.steps:
        if not isinstance(step, ModuleStep) or step.node not in stochastic:
            continue
        mod = bundle.model.get_submodule(".".join(step.attr))
        info = bundle.plan.nodes[step.node]
        layout = info.in_layouts[0] if info.node.op.kind == "dropout" else None
        entered: list = []

        def pre(module, args, name=step.node, layout=layout, entered=entered):
            cm = source.node(name, layout)
            cm.__enter__()
            entered.append(cm)

        def post(module, args, out, entered=entered):
            entered.pop().__exit__(None, None, None)

        handles.append(mod.register_forward_pre_hook(pre))
        handles.append(mod.register_forward_hook(post))
        if isinstance(mod, tatt.MultiHeadAttention) and mod.dropout:
            mod._attend = types.MethodType(explicit_attend, mod)
            patched.append(mod)
    F.dropout = dropout
    trec.rnn_keep_mask = rnn_keep_mask
    try:
        yield
    finally:
        F.dropout = real_dropout
        trec.rnn_keep_mask = real_keep
        for h in handles:
            h.remove()
        for mod in patched:
            del mod._attend


# --------------------------------------------------------------------------- keras


@contextlib.contextmanager
def keras_masks(km, source: MaskSource):
    """Install the verify-mode hooks on a Keras model (restored on exit).  The model runs
    eagerly meanwhile, so each draw asks the source afresh."""
    from keras import ops
    from keras.src.backend.tensorflow import random as krandom

    real = krandom.dropout

    def dropout(inputs, rate, noise_shape=None, seed=None):
        if rate == 0.0:
            return inputs
        inputs = ops.convert_to_tensor(inputs)
        shape = tuple(int(d) for d in (noise_shape if noise_shape is not None else inputs.shape))
        keep = ops.cast(ops.convert_to_tensor(source.keep(shape, rate)), inputs.dtype)  # 0/1: exact
        # the divisor from a float64 tensor: ops.cast of a Python float passes through float32
        return inputs * keep / ops.cast(ops.convert_to_tensor(np.float64(1.0 - rate)), inputs.dtype)

    wrapped = []
    info = km.specc
    for node in info.spec.nodes:
        if not node.op.stochastic:
            continue
        for lname in info.plan.nodes[node.name].layers:
            layer = km.get_layer(lname)
            call = layer.call

            def hooked(*args, _call=call, _name=node.name, **kwargs):
                with source.node(_name):
                    return _call(*args, **kwargs)

            object.__setattr__(layer, "call", hooked)
            wrapped.append(layer)
    was_eager = km.run_eagerly
    km.run_eagerly = True
    km.train_function = None
    krandom.dropout = dropout
    try:
        yield
    finally:
        krandom.dropout = real
        for layer in wrapped:
            object.__delattr__(layer, "call")
        km.run_eagerly = was_eager
        km.train_function = None
