"""bidirectional(rnn, merge=concat): run the recurrent layer forwards and, with its own
weights, backwards over the sequence, and merge the two outputs.  With
``return_sequences`` the backward outputs are put back in time order before merging.
Merge modes: ``concat`` ([forward, backward]), ``sum``, ``mul``, ``ave``.  With
``return_state`` the forward states then the backward states follow the merged output.
Canonical weights: ``forward.<w>`` and ``backward.<w>`` for each weight of the layer."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from specc.ir.ops.base import LAYERS, Op, WeightSpec, mul_known
from specc.ir.ops.recurrent import GRU, LSTM, SimpleRNN
from specc.ir.spec import ArgValue, CallValue, Symbol
from specc.ir.types import TensorType


@LAYERS.register
class Bidirectional(Op):
    """Run a recurrent layer in both directions."""

    kind: Literal["bidirectional"] = "bidirectional"
    family: ClassVar[str] = "rnn"
    summary: ClassVar[str] = "recurrent layer in both directions"
    layer: SimpleRNN | LSTM | GRU = Field(..., discriminator="kind", description="the recurrent layer, e.g. lstm(64)")
    merge: Literal["concat", "sum", "mul", "ave"] = Field("concat", description="how the two directions combine")
    positional = ("layer",)

    @field_validator("layer", mode="before")
    @classmethod
    def _layer(cls, v):
        if isinstance(v, str):  # a bare name from spec text (`bidirectional(lstm)`)
            v = Symbol(v)
        if isinstance(v, (CallValue, Symbol)):
            built = LAYERS.make(ArgValue(v, getattr(v, "span", None)))
            v = built
        if not isinstance(v, (Op, dict)):  # dict: read back from JSON
            raise ValueError("expected a recurrent layer, e.g. lstm(64)")
        if isinstance(v, Op) and not isinstance(v, (SimpleRNN, LSTM, GRU)):
            raise ValueError(f"bidirectional wraps simple_rnn, lstm or gru, not {v.kind}")
        if isinstance(v, (SimpleRNN, LSTM, GRU)) and v.go_backwards:
            raise ValueError("the wrapped layer must not set go_backwards; bidirectional runs both directions")
        return v

    @property
    def stochastic(self) -> bool:  # type: ignore[override]
        return self.layer.stochastic

    def sublayers(self) -> list[Op]:
        return [self.layer]

    def activation_spec(self):
        return None

    def n_outputs(self) -> int:
        return 1 + (2 * len(self.layer.state_names) if self.layer.return_state else 0)

    def infer(self, ins: list[TensorType]) -> list[TensorType]:
        main, *states = self.layer.infer(ins)
        if self.merge == "concat":
            main = main.with_shape(*main.shape[:-1], 2 * main.shape[-1])
        return [main, *states, *states]

    def weights(self, ins: list[TensorType]) -> list[WeightSpec]:
        inner = self.layer.weights(ins)
        return [replace(w, name=f"{d}.{w.name}") for d in ("forward", "backward") for w in inner]

    def macs(self, ins: list[TensorType], outs: list[TensorType]) -> int | None:
        return mul_known(sum(w.size for w in self.weights(ins)), ins[0].shape[0])  # both directions, every step
