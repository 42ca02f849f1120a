"""simple_rnn / lstm / gru / bidirectional → torch (``lib/recurrent.py``).

Which module:

* ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` subclasses (:class:`~..lib.LSTMLayer`, …) when
  torch's cell is the IR's: tanh/sigmoid activations (simple_rnn: tanh or relu), GRU
  ``reset_after``, no ``recurrent_dropout``;
* :class:`~..lib.RecurrentLoop` (canonical weights, explicit time loop) otherwise;
* bidirectional: the fused ``bidirectional=True`` torch module when the cell is torch's
  and there is no input dropout (Keras' two directions draw separate masks), else
  :class:`~..lib.BiRecurrent` over a forward and a ``go_backwards`` copy.

Weights (canonical → torch):

* lstm / simple_rnn: ``weight_ih_l0 = kernel.T``, ``weight_hh_l0 = recurrent_kernel.T``
  (same gate order i, f, c, o), ``bias_ih_l0 = bias``; ``bias_hh_l0`` is a zero buffer
  (written as zeros, so the state dict is complete).
  Back: ``bias = bias_ih_l0 + bias_hh_l0`` (what any torch state dict means);
* gru: gate blocks z, r, h → torch's r, z, n, then as above; the (2, 3·units) bias gives
  ``bias_ih_l0`` (row 0) and ``bias_hh_l0`` (row 1);
* fused bidirectional: the backward direction under the ``_reverse`` suffix;
  :class:`BiRecurrent`: ``fwd.*`` and ``bwd.*``;
* :class:`RecurrentLoop`: the canonical names and layouts unchanged.
"""

from __future__ import annotations

import numpy as np

from specc.errors import Diagnostic, SpecError
from specc.ir.ops.recurrent import GRU, LSTM, RecurrentBase

from .. import lib as L
from ..plan import CANON, Construct, NodeInfo, TorchOp, torch_op

# canonical gate blocks in torch's order: GRU z, r, h → r, z, n
_GRU_TO_TORCH = (1, 0, 2)


def fused_ok(op: RecurrentBase) -> bool:
    """Whether torch's own module computes the IR's cell (not with a padding mask)."""
    if op.recurrent_dropout > 0 or op.masked:
        return False
    act = op.activation.kind
    if op.kind == "simple_rnn":
        return act in ("tanh", "relu")
    if act != "tanh" or op.recurrent_activation.kind != "sigmoid":
        return False
    return op.kind == "lstm" or op.reset_after


def bidirectional_fused(op) -> bool:
    return fused_ok(op.layer) and op.layer.dropout == 0


def activation_tuple(spec, node, what: str) -> tuple:
    """An IR activation as :func:`~..lib.rnn_activation`'s ``(kind, *params)``."""
    k = spec.kind
    if k in ("softmax", "log_softmax"):
        if spec.axis not in (-1, 1):
            msg = f"{node.op.kind} {what} {k} must normalise over the state's last axis (-1), got axis {spec.axis} (node {node.name})"
            raise SpecError([Diagnostic(node.span, msg)], {})
        return (k,)
    if k in ("leaky_relu", "elu"):
        return (k, float(spec.alpha))
    if k == "gelu":
        return (k, "tanh" if spec.approximate else "none")
    return (k,)


def _cell_construct(op: RecurrentBase, node, n_in: int, go_backwards: bool, zero_masked: bool = False) -> Construct:
    """The module running ``op`` in one direction (``zero_masked``: padded steps output 0)."""
    kw: dict = {}
    if not op.use_bias:
        kw["bias"] = False
    if op.return_sequences:
        kw["return_sequences"] = True
    if op.return_state:
        kw["return_state"] = True
    if go_backwards:
        kw["go_backwards"] = True
    if op.masked:
        kw["masked"] = True
    if zero_masked:
        kw["zero_masked_outputs"] = True
    if fused_ok(op):
        if op.dropout:
            kw["input_dropout"] = op.dropout
        if op.kind == "simple_rnn":
            if op.activation.kind != "tanh":
                kw["nonlinearity"] = op.activation.kind
            return Construct(L.SimpleRNNLayer, (n_in, op.units), kw)
        return Construct(L.LSTMLayer if op.kind == "lstm" else L.GRULayer, (n_in, op.units), kw)
    act = activation_tuple(op.activation, node, "activation")
    if act != ("tanh",):
        kw["activation"] = act
    if isinstance(op, (LSTM, GRU)):
        ract = activation_tuple(op.recurrent_activation, node, "recurrent_activation")
        if ract != ("sigmoid",):
            kw["recurrent_activation"] = ract
    if isinstance(op, GRU) and not op.reset_after:
        kw["reset_after"] = False
    if op.dropout:
        kw["dropout"] = op.dropout
    if op.recurrent_dropout:
        kw["recurrent_dropout"] = op.recurrent_dropout
    return Construct(L.RecurrentLoop, (op.kind, n_in, op.units), kw)


def _fused_bidirectional_construct(op, node, n_in: int) -> Construct:
    c = _cell_construct(op.layer, node, n_in, False)
    kw = dict(c.kwargs)
    kw["bidirectional"] = True
    if op.merge != "concat":
        kw["merge"] = op.merge
    return Construct(c.cls, c.args, kw)


def recurrent_construct(node, n_in: int) -> Construct:
    op = node.op
    if op.kind != "bidirectional":
        return _cell_construct(op, node, n_in, op.go_backwards)
    if bidirectional_fused(op):
        return _fused_bidirectional_construct(op, node, n_in)
    # Keras' Bidirectional sets zero_output_for_mask = return_sequences on both layers
    zero = op.layer.masked and op.layer.return_sequences
    fwd = _cell_construct(op.layer, node, n_in, False, zero)
    bwd = _cell_construct(op.layer, node, n_in, True, zero)
    return Construct(L.BiRecurrent, (fwd, bwd), {} if op.merge == "concat" else {"merge": op.merge})


# --------------------------------------------------------------------------- weights


def _blocks(a: np.ndarray, gates: int, order) -> np.ndarray:
    """Reorder the ``gates`` blocks of a's last axis."""
    parts = np.split(a, gates, axis=-1)
    return np.concatenate([parts[i] for i in order], axis=-1)


def _inverse(order) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argsort(order))


def cell_to_torch(op: RecurrentBase, w: dict[str, np.ndarray], suffix: str = "") -> dict[str, np.ndarray]:
    """Canonical weights of one direction → the state dict of a fused torch module."""
    gates = op.gates
    order = _GRU_TO_TORCH if op.kind == "gru" else tuple(range(gates))
    out = {
        f"weight_ih_l0{suffix}": _blocks(w["kernel"], gates, order).T,
        f"weight_hh_l0{suffix}": _blocks(w["recurrent_kernel"], gates, order).T,
    }
    if "bias" in w:
        b = w["bias"]
        if op.kind == "gru":  # reset_after: row 0 input bias, row 1 recurrent bias
            out[f"bias_ih_l0{suffix}"] = _blocks(b[0], gates, order)
            out[f"bias_hh_l0{suffix}"] = _blocks(b[1], gates, order)
        else:  # one bias; bias_hh is a zero buffer (written too: a strict load finds every key)
            out[f"bias_ih_l0{suffix}"] = b
            out[f"bias_hh_l0{suffix}"] = np.zeros_like(b)
    return out


def cell_from_torch(op: RecurrentBase, sd: dict[str, np.ndarray], suffix: str = "") -> dict[str, np.ndarray]:
    """The inverse of :func:`cell_to_torch` (any torch bias pair folds into the one bias)."""
    gates = op.gates
    inv = _inverse(_GRU_TO_TORCH) if op.kind == "gru" else tuple(range(gates))
    out = {
        "kernel": _blocks(sd[f"weight_ih_l0{suffix}"].T, gates, inv),
        "recurrent_kernel": _blocks(sd[f"weight_hh_l0{suffix}"].T, gates, inv),
    }
    if op.use_bias:
        b_ih, b_hh = sd[f"bias_ih_l0{suffix}"], sd.get(f"bias_hh_l0{suffix}")
        if op.kind == "gru":
            out["bias"] = np.stack([_blocks(b_ih, gates, inv), _blocks(b_hh, gates, inv)])
        else:
            out["bias"] = b_ih + b_hh if b_hh is not None else b_ih
    return out


def _direction_to_torch(op: RecurrentBase, w: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return cell_to_torch(op, w) if fused_ok(op) else dict(w)


def _direction_from_torch(op: RecurrentBase, sd: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    if fused_ok(op):
        return cell_from_torch(op, sd)
    return {k: sd[k] for k in ("kernel", "recurrent_kernel", "bias") if k in sd}


def _sub(d: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix) :]: v for k, v in d.items() if k.startswith(prefix)}


@torch_op
class RecurrentOp(TorchOp):
    kinds = ("simple_rnn", "lstm", "gru", "bidirectional")

    def lower(self, node, ins, ctx):
        n_in = ctx.in_types[0].shape[-1]
        outs = ctx.module(recurrent_construct(node, n_in), ins, n_out=node.op.n_outputs())
        ctx.done(outs, [CANON] * len(outs))

    def to_torch(self, info: NodeInfo, w):
        op = info.node.op
        if op.kind != "bidirectional":
            return _direction_to_torch(op, w)
        fw, bw = _sub(w, "forward."), _sub(w, "backward.")
        if bidirectional_fused(op):
            return {**cell_to_torch(op.layer, fw), **cell_to_torch(op.layer, bw, "_reverse")}
        out = {f"fwd.{k}": v for k, v in _direction_to_torch(op.layer, fw).items()}
        out.update({f"bwd.{k}": v for k, v in _direction_to_torch(op.layer, bw).items()})
        return out

    def from_torch(self, info: NodeInfo, sd):
        op = info.node.op
        if op.kind != "bidirectional":
            return _direction_from_torch(op, sd)
        if bidirectional_fused(op):
            fw, bw = cell_from_torch(op.layer, sd), cell_from_torch(op.layer, sd, "_reverse")
        else:
            fw = _direction_from_torch(op.layer, _sub(sd, "fwd."))
            bw = _direction_from_torch(op.layer, _sub(sd, "bwd."))
        return {**{f"forward.{k}": v for k, v in fw.items()}, **{f"backward.{k}": v for k, v in bw.items()}}
