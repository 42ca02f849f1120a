"""simple_rnn / lstm / gru → ``keras.layers.SimpleRNN`` / ``LSTM`` / ``GRU``;
bidirectional → ``keras.layers.Bidirectional`` (specc's subclass that gives the wrapped
layer the model's dtype).  The IR's formulas and weight layouts are Keras', so the
canonical weights load unchanged: ``<node>/<cell>/kernel``, ``…/recurrent_kernel``,
``…/bias``, and under a bidirectional ``<node>/forward_<kind>/<cell>/…`` and
``<node>/backward_<kind>/<cell>/…``."""

from __future__ import annotations

from keras import layers

from ..activations import keras_activation
from ..lib import SpeccBidirectional
from ..plan import Construct, KerasOp, KNodeInfo, keras_op
from .basic import regularizers

_CLASSES = {"simple_rnn": layers.SimpleRNN, "lstm": layers.LSTM, "gru": layers.GRU}
_CELLS = {"simple_rnn": "simple_rnn_cell", "lstm": "lstm_cell", "gru": "gru_cell"}
_REGS = {"reg": "kernel_regularizer", "recurrent_reg": "recurrent_regularizer", "bias_reg": "bias_regularizer"}


def _activation_problem(op) -> str | None:
    for field in ("activation", "recurrent_activation"):
        spec = getattr(op, field, None)
        if spec is not None and spec.kind in ("softmax", "log_softmax") and spec.axis not in (-1, 1):
            return f"{op.kind} {field} {spec.kind} must normalise over the state's last axis (-1), got axis {spec.axis}"
    return None


def rnn_construct(op, name: str | None = None) -> Construct:
    """The Keras layer of one recurrent IR op, every option passed through."""
    kw: dict = {}
    # the hidden state is (batch, units): one axis besides the batch
    if op.activation.kind != "tanh":
        kw["activation"] = keras_activation(op.activation, 1)
    if op.kind in ("lstm", "gru") and op.recurrent_activation.kind != "sigmoid":
        kw["recurrent_activation"] = keras_activation(op.recurrent_activation, 1)
    if not op.use_bias:
        kw["use_bias"] = False
    if op.kind == "lstm" and not op.unit_forget_bias:
        kw["unit_forget_bias"] = False
    if op.kind == "gru" and not op.reset_after:
        kw["reset_after"] = False
    kw.update(regularizers(op, _REGS))
    for field in ("dropout", "recurrent_dropout"):
        if getattr(op, field):
            kw[field] = getattr(op, field)
    for field in ("return_sequences", "return_state", "go_backwards"):
        if getattr(op, field):
            kw[field] = True
    if name is not None:
        kw["name"] = name
    return Construct(_CLASSES[op.kind], (op.units,), kw)


@keras_op
class RecurrentOp(KerasOp):
    kinds = ("simple_rnn", "lstm", "gru", "bidirectional")

    def check(self, node, in_types):
        op = node.op
        return _activation_problem(op.layer if op.kind == "bidirectional" else op)

    def lower(self, node, ins, ctx):
        op = node.op
        if op.kind == "bidirectional":
            inner = rnn_construct(op.layer, name=op.layer.kind)  # fixed name: fixed weight paths
            kw = {} if op.merge == "concat" else {"merge_mode": op.merge}
            construct = Construct(SpeccBidirectional, (inner,), kw)
        else:
            construct = rnn_construct(op)
        masked = (op.layer if op.kind == "bidirectional" else op).masked  # (x, ids): layer(x, mask=ids != 0)
        ctx.done(ctx.layer(construct, ins, n_out=op.n_outputs(), call="masked" if masked else "one", masks=("mask",) if masked else ()))

    def var_path(self, info: KNodeInfo, name: str) -> str:
        op = info.node.op
        if op.kind != "bidirectional":
            return f"{_CELLS[op.kind]}/{name}"
        direction, local = name.split(".", 1)
        kind = op.layer.kind
        return f"{direction}_{kind}/{_CELLS[kind]}/{local}"
