"""simple_rnn, lstm and gru over ``(time, features)`` sequences (batch first).

Semantics (Keras' formulas; the PyTorch backend reproduces them exactly):

* **lstm** gates in the order i, f, c (candidate), o:
  ``z = x·kernel + h·recurrent_kernel + bias``; ``c' = f⊙c + i⊙act(c̃)``; ``h' = o⊙act(c')``,
  gates through ``recurrent_activation`` (sigmoid), ``act`` = ``activation`` (tanh).
  **One** bias of ``4·units`` (PyTorch's two biases would both receive the gradient).
  ``unit_forget_bias`` starts the forget-gate bias at 1.
* **gru** gates in the order z (update), r (reset), h (candidate) — Keras' order; PyTorch
  stores r, z, n.  ``reset_after=true`` (default, = PyTorch and cuDNN):
  ``h̃ = act(x·W_h + b_h + r⊙(h·U_h + b'_h))`` with ``bias`` of shape ``(2, 3·units)``
  (row 0 input bias, row 1 recurrent bias); ``reset_after=false``:
  ``h̃ = act(x·W_h + (r⊙h)·U_h + b_h)`` with one bias ``(3·units,)``.
  ``h' = z⊙h + (1 − z)⊙h̃``.
* **simple_rnn**: ``h' = act(x·kernel + h·recurrent_kernel + bias)``, one bias.

Canonical weights: ``kernel`` ``(features, G·units)``, ``recurrent_kernel``
``(units, G·units)``, ``bias`` (G = 4, 3, 1).  Initial states are zeros.

Outputs: the last hidden state (or, with ``return_sequences``, all of them), followed by
the final states when ``return_state`` (lstm: h, c; gru/simple_rnn: h).
``dropout`` drops input features with one mask per sequence, ``recurrent_dropout`` the
recurrent state likewise (training only).

``masked`` (set where the input comes from ``embedding(mask_zero=true)``, see
:mod:`specc.semantics.masking`): the ids are a second input; at a step whose id is 0 the
state and output stay those of the step before (zeros before any real step) — Keras'
``keras.ops.rnn`` with a mask; ``go_backwards`` reverses the mask with the sequence.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar, Literal

from pydantic import Field

from specc.ir.activations import Activation, Sigmoid, Tanh
from specc.ir.initializers import GLOROT_UNIFORM, ORTHOGONAL, ZEROS, Initializer
from specc.ir.ops.base import LAYERS, Op, ShapeError, WeightSpec, float_dtype, known, mul_known, require_rank
from specc.ir.regularizers import Regularizer
from specc.ir.spec import SET_BY_SPECC
from specc.ir.types import TensorType, dims_equal


class RecurrentBase(Op):
    family: ClassVar[str] = "rnn"
    gates: ClassVar[int] = 1
    state_names: ClassVar[tuple[str, ...]] = ("h",)

    units: int = Field(..., gt=0, description="size of the hidden state")
    activation: Activation = Field(Tanh.model_construct(), description="activation of the candidate/output")
    use_bias: bool = Field(True, description="add learned biases")
    return_sequences: bool = Field(False, description="output every time step, not only the last")
    return_state: bool = Field(False, description="also output the final state(s)")
    go_backwards: bool = Field(False, description="process the sequence in reverse (output stays reversed)")
    dropout: float = Field(0.0, ge=0, lt=1, description="input dropout, one mask per sequence (training)")
    recurrent_dropout: float = Field(0.0, ge=0, lt=1, description="state dropout, one mask per sequence (training)")
    init: Initializer = Field(GLOROT_UNIFORM, description="initialiser of the input kernel")
    recurrent_init: Initializer = Field(ORTHOGONAL, description="initialiser of the recurrent kernel")
    bias_init: Initializer = Field(ZEROS, description="initialiser of the bias")
    reg: Regularizer | None = Field(None, description="penalty on the input kernel")
    recurrent_reg: Regularizer | None = Field(None, description="penalty on the recurrent kernel")
    bias_reg: Regularizer | None = Field(None, description="penalty on the bias")
    masked: bool = Field(False, description="reads the ids of an embedding(mask_zero=true) as a second input and skips the steps whose id is 0 " + SET_BY_SPECC)
    positional = ("units",)

    @property
    def stochastic(self) -> bool:  # type: ignore[override]
        return self.dropout > 0 or self.recurrent_dropout > 0

    def check_mask(self, ins: list[TensorType]) -> TensorType:
        """The sequence input; with ``masked`` the second input is its ids (one per step)."""
        if not self.masked:
            if len(ins) != 1:
                raise ShapeError(f"{self.kind} takes one input, got {len(ins)}")
            return ins[0]
        if len(ins) != 2 or not ins[1].is_int or len(ins[1].shape) != 1 or dims_equal(ins[1].shape[0], ins[0].shape[0]) is False:
            raise ShapeError(f"{self.kind} with masked=true reads a sequence and its ids", hint="masked is set where a recurrence reads embedding(mask_zero=true); do not write it")
        return ins[0]

    def n_outputs(self) -> int:
        return 1 + (len(self.state_names) if self.return_state else 0)

    def activation_spec(self):
        return None  # the activation is internal to the recurrence

    def infer(self, ins: list[TensorType]) -> list[TensorType]:
        x = self.check_mask(ins)
        require_rank(self.kind, x, (2,), "a sequence (time, features)")
        known(self.kind, "number of input features", x.shape[-1])
        dt = float_dtype(ins)
        main = TensorType(dtype=dt, shape=(x.shape[0], self.units) if self.return_sequences else (self.units,))
        states = [TensorType(dtype=dt, shape=(self.units,))] * (len(self.state_names) if self.return_state else 0)
        return [main, *states]

    def macs(self, ins: list[TensorType], outs: list[TensorType]) -> int | None:
        # every weight is used once per time step (torchinfo's rule for RNN modules)
        return mul_known(sum(w.size for w in self.weights(ins)), ins[0].shape[0])

    def bias_shape(self) -> tuple[int, ...]:
        return (self.gates * self.units,)

    def weights(self, ins: list[TensorType]) -> list[WeightSpec]:
        f = ins[0].shape[-1]
        g = self.gates * self.units
        ws = [
            WeightSpec("kernel", (f, g), self.init, regularizer=self.reg),
            WeightSpec("recurrent_kernel", (self.units, g), self.recurrent_init, regularizer=self.recurrent_reg),
        ]
        if self.use_bias:
            ws.append(WeightSpec("bias", self.bias_shape(), self.bias_init, regularizer=self.bias_reg))
        return ws


@LAYERS.register
class SimpleRNN(RecurrentBase):
    """Fully connected recurrence h' = act(x·W + h·U + b)."""

    kind: Literal["simple_rnn"] = "simple_rnn"
    summary: ClassVar[str] = "simple recurrent layer"


@dataclass(frozen=True)
class UnitForgetBias:
    """The LSTM bias initialiser with ``unit_forget_bias``: the forget-gate quarter is 1."""

    base: object
    units: int

    @property
    def kind(self) -> str:
        return f"{self.base.kind}+unit_forget_bias"  # type: ignore[attr-defined]

    def sample(self, shape, rng, fans=None):
        b = self.base.sample(shape, rng, fans)  # type: ignore[attr-defined]
        b[self.units : 2 * self.units] = 1.0
        return b


@LAYERS.register
class LSTM(RecurrentBase):
    """Long short-term memory (gates i, f, c, o)."""

    kind: Literal["lstm"] = "lstm"
    summary: ClassVar[str] = "long short-term memory"
    gates: ClassVar[int] = 4
    state_names: ClassVar[tuple[str, ...]] = ("h", "c")
    recurrent_activation: Activation = Field(Sigmoid.model_construct(), description="activation of the gates")
    unit_forget_bias: bool = Field(True, description="start the forget-gate bias at 1")

    def weights(self, ins: list[TensorType]) -> list[WeightSpec]:
        ws = super().weights(ins)
        if self.unit_forget_bias and self.use_bias:
            ws[-1] = replace(ws[-1], init=UnitForgetBias(ws[-1].init, self.units))
        return ws


@LAYERS.register
class GRU(RecurrentBase):
    """Gated recurrent unit (gates z, r, h)."""

    kind: Literal["gru"] = "gru"
    summary: ClassVar[str] = "gated recurrent unit"
    gates: ClassVar[int] = 3
    recurrent_activation: Activation = Field(Sigmoid.model_construct(), description="activation of the gates")
    reset_after: bool = Field(True, description="apply the reset gate after the recurrent matmul (PyTorch/cuDNN form)")

    def bias_shape(self) -> tuple[int, ...]:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)


RecurrentLayer = SimpleRNN | LSTM | GRU
