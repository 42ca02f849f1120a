"""Recurrent layers (simple_rnn, lstm, gru, bidirectional) with the IR's semantics, which
are Keras' (see ``specc/ir/ops/recurrent.py`` and ``bidirectional.py``).

This file imports only ``torch``, ``math`` and ``typing``: ``specc compile --to torch``
copies what a model uses into the generated source.

Inputs are batch-first ``(batch, time, features)``; initial states are zeros.  Every
layer returns what the IR's node outputs: the last hidden state ``(batch, units)`` or,
with ``return_sequences``, all of them ``(batch, time, units)``; with ``return_state``
followed by the final states (lstm: h, c; gru / simple_rnn: h).  ``go_backwards``
processes the sequence in reverse and, like Keras, returns the sequence of outputs in
processing (reversed) order.

* :class:`LSTMLayer`, :class:`GRULayer`, :class:`SimpleRNNLayer` are ``nn.LSTM`` /
  ``nn.GRU`` / ``nn.RNN`` (``batch_first=True``, so cuDNN runs them on a GPU) for the
  cells torch computes: default activations, GRU ``reset_after``, no recurrent dropout.
  The LSTM and SimpleRNN have ONE canonical bias: it lives in ``bias_ih_l0`` and
  ``bias_hh_l0`` is a zero *buffer* (never trained, not a parameter).  Torch would
  otherwise give both biases the same gradient, so their sum would move twice as fast.
  The state-dict keys stay those of the plain torch modules.
* :class:`RecurrentLoop` is a time loop over any cell the IR describes (other
  activations, GRU ``reset_after=false``, recurrent dropout), holding the canonical
  weights unchanged: ``kernel`` (features, G·units), ``recurrent_kernel`` (units,
  G·units), ``bias``.
* :class:`BiRecurrent` runs a forward and a backward copy (two of the above) and merges
  them as ``keras.layers.Bidirectional`` does; the fused ``bidirectional=True`` torch
  module is used instead where it computes the same thing (no input dropout: Keras'
  two directions draw separate dropout masks).

Dropout (training only), as Keras 3's RNN cells apply it: ``dropout`` multiplies the
input features by one mask per sequence (shape (batch, features), the same at every time
step, kept values scaled by 1/(1 − rate)); ``recurrent_dropout`` multiplies the previous
hidden state by one mask per sequence before the recurrent matmul.  With
``recurrent_dropout`` Keras' lstm/gru cells draw one mask per gate, for the inputs and
for the state (its "implementation 1"); :class:`RecurrentLoop` does the same.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

# --------------------------------------------------------------------------- helpers


def rnn_keep_mask(like: torch.Tensor, rate: float) -> torch.Tensor:
    """Which values a dropout keeps, shaped like ``like``: 1 with probability 1 − ``rate``, else 0."""
    return torch.empty_like(like).bernoulli_(1.0 - rate)


def rnn_dropout_mask(like: torch.Tensor, rate: float) -> torch.Tensor:
    """A Keras dropout mask shaped like ``like``: 0 with probability ``rate``, else 1/(1 − rate)."""
    return rnn_keep_mask(like, rate) / (1.0 - rate)


def rnn_sequence_dropout(x: torch.Tensor, rate: float, training: bool) -> torch.Tensor:
    """Input dropout of a recurrent layer: one mask per sequence, shared by all time steps
    of ``x`` (batch, time, features)."""
    if not training or rate <= 0.0:
        return x
    return x * rnn_dropout_mask(x[:, 0, :], rate).unsqueeze(1)


def rnn_merge(a: torch.Tensor, b: torch.Tensor, mode: str) -> torch.Tensor:
    """Combine the forward and backward outputs of a bidirectional layer."""
    if mode == "concat":
        return torch.cat((a, b), dim=-1)
    if mode == "sum":
        return a + b
    if mode == "mul":
        return a * b
    if mode == "ave":
        return (a + b) / 2
    raise ValueError(f"unknown merge mode {mode!r}")


def rnn_activation(x: torch.Tensor, spec: tuple) -> torch.Tensor:
    """An activation given as ``(kind, *params)``: ("tanh",), ("leaky_relu", slope),
    ("elu", alpha), ("gelu", "none" | "tanh"), ("softmax",) over the last axis, …"""
    kind = spec[0]
    if kind == "tanh":
        return torch.tanh(x)
    if kind == "sigmoid":
        return torch.sigmoid(x)
    if kind == "linear":
        return x
    if kind == "relu":
        return torch.relu(x)
    if kind == "relu6":
        return F.relu6(x)
    if kind == "hard_sigmoid":  # not F.hardsigmoid: its gradient uses a float32 1/6
        return F.relu6(x + 3.0) / 6.0
    if kind == "leaky_relu":
        return F.leaky_relu(x, negative_slope=spec[1])
    if kind == "elu":
        return F.elu(x, alpha=spec[1])
    if kind == "selu":
        return F.selu(x)
    if kind == "gelu":
        return F.gelu(x, approximate=spec[1])
    if kind == "silu":
        return F.silu(x)
    if kind == "softplus":
        return F.softplus(x)
    if kind == "softmax":
        return torch.softmax(x, dim=-1)
    if kind == "log_softmax":
        return torch.log_softmax(x, dim=-1)
    raise ValueError(f"unknown activation {kind!r}")


def rnn_zero_recurrent_bias(rnn: nn.RNNBase) -> None:
    """Turn the ``bias_hh_l0`` (and ``bias_hh_l0_reverse``) parameters of a torch RNN into
    zero buffers, so the input bias is the layer's only bias.

    ``RNNBase`` hands ``_flat_weights`` (looked up by name with ``getattr``, so buffers
    are found) to the kernels; it is rebuilt here and again by ``_apply`` (``.to()``,
    ``.cuda()``, ``.double()``, which also convert buffers), so the CPU and cuDNN paths,
    including ``flatten_parameters``, see four same-dtype tensors per direction.  The
    buffer stays in the state dict under the torch name, which keeps the keys of a plain
    ``nn.LSTM``."""
    for name in list(rnn._flat_weights_names):
        if name.startswith("bias_hh"):
            old = getattr(rnn, name)
            delattr(rnn, name)
            rnn.register_buffer(name, torch.zeros_like(old.detach()))
    rnn._init_flat_weights()


def _rnn_keras_outputs(self: Any, x: torch.Tensor, run, n_states: int):
    """The IR's outputs of a fused torch RNN (``run`` = the torch module's forward)."""
    if self.bidirectional:
        out, hn = run(self, x)
        hs = list(hn) if n_states == 2 else [hn]  # each (2, batch, units): [forward, backward]
        if self.return_sequences:
            units = out.shape[-1] // 2
            y = out if self.merge == "concat" else rnn_merge(out[..., :units], out[..., units:], self.merge)
        else:  # each direction's last output is its final hidden state
            y = rnn_merge(hs[0][0], hs[0][1], self.merge)
        states = [s[0] for s in hs] + [s[1] for s in hs]
    else:
        x = rnn_sequence_dropout(x, self.input_dropout, self.training)
        if self.go_backwards:
            x = x.flip(1)
        out, hn = run(self, x)
        hs = list(hn) if n_states == 2 else [hn]
        y = out if self.return_sequences else hs[0][0]
        states = [s[0] for s in hs]
    if self.return_state:
        return (y, *states)
    return y


def _rnn_keras_setup(self: Any, return_sequences, return_state, go_backwards, input_dropout, merge) -> None:
    if self.bidirectional and (go_backwards or input_dropout):
        raise ValueError("a fused bidirectional layer takes no go_backwards and no input dropout")
    self.return_sequences = bool(return_sequences)
    self.return_state = bool(return_state)
    self.go_backwards = bool(go_backwards)
    self.input_dropout = float(input_dropout)
    self.merge = merge


# --------------------------------------------------------------------------- torch's cells


class LSTMLayer(nn.LSTM):
    """``nn.LSTM`` (one layer, batch first) with Keras' outputs, one bias (``bias_ih_l0``;
    ``bias_hh_l0`` is a zero buffer), sequence-wise input dropout and ``go_backwards``.
    ``bidirectional=True`` runs both directions and merges them (``merge``)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        input_dropout: float = 0.0,
        bidirectional: bool = False,
        merge: str = "concat",
    ):
        super().__init__(input_size, hidden_size, bias=bias, batch_first=True, bidirectional=bidirectional)
        _rnn_keras_setup(self, return_sequences, return_state, go_backwards, input_dropout, merge)
        if bias:
            rnn_zero_recurrent_bias(self)

    def forward(self, x: torch.Tensor):
        return _rnn_keras_outputs(self, x, nn.LSTM.forward, 2)


class GRULayer(nn.GRU):
    """``nn.GRU`` (one layer, batch first; = Keras' GRU with ``reset_after=True``, whose
    (2, 3·units) bias is torch's two biases) with Keras' outputs, sequence-wise input
    dropout and ``go_backwards``; ``bidirectional=True`` merges both directions."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        input_dropout: float = 0.0,
        bidirectional: bool = False,
        merge: str = "concat",
    ):
        super().__init__(input_size, hidden_size, bias=bias, batch_first=True, bidirectional=bidirectional)
        _rnn_keras_setup(self, return_sequences, return_state, go_backwards, input_dropout, merge)

    def forward(self, x: torch.Tensor):
        return _rnn_keras_outputs(self, x, nn.GRU.forward, 1)


class SimpleRNNLayer(nn.RNN):
    """``nn.RNN`` (tanh or relu, one layer, batch first) with Keras' outputs, one bias
    (``bias_hh_l0`` is a zero buffer), sequence-wise input dropout and ``go_backwards``;
    ``bidirectional=True`` merges both directions."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        nonlinearity: str = "tanh",
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        input_dropout: float = 0.0,
        bidirectional: bool = False,
        merge: str = "concat",
    ):
        super().__init__(input_size, hidden_size, nonlinearity=nonlinearity, bias=bias, batch_first=True, bidirectional=bidirectional)
        _rnn_keras_setup(self, return_sequences, return_state, go_backwards, input_dropout, merge)
        if bias:
            rnn_zero_recurrent_bias(self)

    def forward(self, x: torch.Tensor):
        return _rnn_keras_outputs(self, x, nn.RNN.forward, 1)


# --------------------------------------------------------------------------- any cell


class RecurrentLoop(nn.Module):
    """A recurrent layer as an explicit time loop, for every cell of the IR.

    ``cell`` is "lstm" (gates i, f, c, o), "gru" (z, r, h) or "simple_rnn"; weights are
    the canonical ones: ``kernel`` (features, G·units), ``recurrent_kernel`` (units,
    G·units), ``bias`` (G·units,) — or (2, 3·units) for a gru with ``reset_after``
    (row 0 input bias, row 1 recurrent bias).  Activations are ``(kind, *params)``
    tuples (see :func:`rnn_activation`).  Formulas (Keras' cells):

    * lstm: ``z = x·W + h·U + b``; ``c' = f⊙c + i⊙act(c̃)``, ``h' = o⊙act(c')``;
    * gru, reset_after: ``h̃ = act(x·W_h + b_h + r⊙(h·U_h + b'_h))``; otherwise
      ``h̃ = act(x·W_h + (r⊙h)·U_h + b_h)``; ``h' = z⊙h + (1 − z)⊙h̃``;
    * simple_rnn: ``h' = act(x·W + h·U + b)``.
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        units: int,
        bias: bool = True,
        *,
        activation: tuple = ("tanh",),
        recurrent_activation: tuple = ("sigmoid",),
        reset_after: bool = True,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        masked: bool = False,
        zero_masked_outputs: bool = False,
    ):
        super().__init__()
        gates = {"lstm": 4, "gru": 3, "simple_rnn": 1}[cell]
        self.masked = bool(masked)
        self.zero_masked_outputs = bool(zero_masked_outputs)
        self.cell = cell
        self.gates = gates
        self.units = units
        self.activation = tuple(activation)
        self.recurrent_activation = tuple(recurrent_activation)
        self.reset_after = bool(reset_after) and cell == "gru"
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.kernel = nn.Parameter(torch.empty(input_size, gates * units))
        self.recurrent_kernel = nn.Parameter(torch.empty(units, gates * units))
        if bias:
            shape = (2, 3 * units) if self.reset_after else (gates * units,)
            self.bias = nn.Parameter(torch.zeros(shape))
        else:
            self.register_parameter("bias", None)
        bound = units**-0.5
        nn.init.uniform_(self.kernel, -bound, bound)
        nn.init.uniform_(self.recurrent_kernel, -bound, bound)

    def _masks(self, like: torch.Tensor, rate: float, count: int) -> list[torch.Tensor] | None:
        if not self.training or not 0.0 < rate < 1.0:
            return None
        return [rnn_dropout_mask(like, rate) for _ in range(count)]

    def forward(self, x: torch.Tensor, ids: torch.Tensor | None = None):
        """``ids`` (masked): a step whose id is 0 keeps the state and output of the step
        before (Keras' RNN with the mask of embedding(mask_zero=true)); with
        ``zero_masked_outputs`` (under a bidirectional with return_sequences) its output
        in the sequence is 0 instead."""
        n, g = self.units, self.gates
        keep = None if ids is None else (ids != 0).unsqueeze(-1)
        if self.go_backwards:
            x = x.flip(1)
            keep = None if keep is None else keep.flip(1)
        batch, steps = x.shape[0], x.shape[1]
        # Keras draws one mask per gate when recurrent dropout is on, else one input mask
        per_gate = g if self.recurrent_dropout > 0.0 else 1
        in_masks = self._masks(x[:, 0, :], self.dropout, per_gate)
        k, u = self.kernel, self.recurrent_kernel
        # input projections of every time step at once (the masks do not change over time)
        if in_masks is None:
            xp = x @ k
        elif len(in_masks) == 1:
            xp = (x * in_masks[0].unsqueeze(1)) @ k
        else:
            xp = torch.cat([(x * in_masks[i].unsqueeze(1)) @ k[:, i * n : (i + 1) * n] for i in range(g)], dim=-1)
        b_rec = None
        if self.bias is not None:
            if self.reset_after:
                xp = xp + self.bias[0]
                b_rec = self.bias[1]
            else:
                xp = xp + self.bias
        h = x.new_zeros(batch, n)
        c = x.new_zeros(batch, n) if self.cell == "lstm" else h
        rec_masks = self._masks(h, self.recurrent_dropout, g)
        u_gates = [u[:, i * n : (i + 1) * n] for i in range(g)]
        outs = []
        for t in range(steps):
            h2, c2 = self._step(xp[:, t], h, c, u, u_gates, b_rec, rec_masks)
            if keep is None:
                h, c = h2, c2
            else:
                h, c = torch.where(keep[:, t], h2, h), torch.where(keep[:, t], c2, c)
            if self.return_sequences:  # a padded step outputs the last real output, or 0 (Keras' zero_output_for_mask)
                outs.append(torch.where(keep[:, t], h, 0.0) if keep is not None and self.zero_masked_outputs else h)
        y = torch.stack(outs, dim=1) if self.return_sequences else h
        if not self.return_state:
            return y
        return (y, h, c) if self.cell == "lstm" else (y, h)

    def _recurrent(self, h, u, u_gates, masks, gates: range) -> torch.Tensor:
        """h·U for the given gates (each with its own dropout mask when there are masks)."""
        if masks is None:
            if len(gates) == self.gates:
                return h @ u
            n = self.units
            return h @ u[:, gates[0] * n : (gates[-1] + 1) * n]
        return torch.cat([(h * masks[i]) @ u_gates[i] for i in gates], dim=-1)

    def _step(self, xt, h, c, u, u_gates, b_rec, masks):
        act, ract = self.activation, self.recurrent_activation
        if self.cell == "simple_rnn":
            h = rnn_activation(xt + self._recurrent(h, u, u_gates, masks, range(1)), act)
            return h, h
        if self.cell == "lstm":
            z = xt + self._recurrent(h, u, u_gates, masks, range(4))
            i, f, cc, o = z.chunk(4, dim=-1)
            c = rnn_activation(f, ract) * c + rnn_activation(i, ract) * rnn_activation(cc, act)
            h = rnn_activation(o, ract) * rnn_activation(c, act)
            return h, c
        x_z, x_r, x_h = xt.chunk(3, dim=-1)
        if self.reset_after:
            rec = self._recurrent(h, u, u_gates, masks, range(3))
            if b_rec is not None:
                rec = rec + b_rec
            r_z, r_r, r_h = rec.chunk(3, dim=-1)
            z = rnn_activation(x_z + r_z, ract)
            r = rnn_activation(x_r + r_r, ract)
            hh = rnn_activation(x_h + r * r_h, act)
        else:
            r_z, r_r = self._recurrent(h, u, u_gates, masks, range(2)).chunk(2, dim=-1)
            z = rnn_activation(x_z + r_z, ract)
            r = rnn_activation(x_r + r_r, ract)
            h_h = h if masks is None else h * masks[2]
            hh = rnn_activation(x_h + (r * h_h) @ u_gates[2], act)
        h = z * h + (1 - z) * hh
        return h, h


# --------------------------------------------------------------------------- both directions


class BiRecurrent(nn.Module):
    """``keras.layers.Bidirectional``: ``fwd`` runs over the sequence, ``bwd`` (built with
    ``go_backwards``) over it reversed, each with its own weights and dropout masks.  With
    return_sequences the backward outputs are flipped back into time order; the two are
    merged (concat = [forward, backward], sum, mul, ave); with return_state the forward
    states then the backward states follow."""

    def __init__(self, fwd: nn.Module, bwd: nn.Module, merge: str = "concat"):
        super().__init__()
        if not getattr(bwd, "go_backwards", False) or getattr(fwd, "go_backwards", True):
            raise ValueError("BiRecurrent needs a forward layer and a go_backwards layer")
        self.fwd = fwd
        self.bwd = bwd
        self.merge = merge

    def forward(self, x: torch.Tensor, ids: torch.Tensor | None = None):
        yf = self.fwd(x) if ids is None else self.fwd(x, ids)
        yb = self.bwd(x) if ids is None else self.bwd(x, ids)
        states: list[torch.Tensor] = []
        if self.fwd.return_state:
            states = [*yf[1:], *yb[1:]]
            yf, yb = yf[0], yb[0]
        if self.fwd.return_sequences:
            yb = yb.flip(1)
        y = rnn_merge(yf, yb, self.merge)
        return (y, *states) if states else y
