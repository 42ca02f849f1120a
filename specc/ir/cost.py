"""What one example costs: multiply-accumulates per layer and in total, and the memory of
the activations — the numbers torchinfo reports, computed from the IR alone.

* **MACs** per layer come from :meth:`specc.ir.ops.base.Op.macs` (one example; a dense or
  conv layer uses each learned weight once per output position, as torchinfo counts them).
  **FLOPs** = 2 × MACs (a multiply and an add).
* **Activations** of one example: every layer's outputs, in their dtypes — what the
  forward pass keeps for the backward pass.  torchinfo's "forward/backward pass size"
  is a narrower measure: twice the outputs of the layers that have weights
  (``torchinfo_pass_bytes``).

A quantity that depends on an unknown dimension (``?`` or a named one) is None for that
layer; totals add the known layers and say how many were unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from specc.ir.graph import Model, Node

__all__ = ["LayerCost", "ModelCost", "model_cost", "DTYPE_BYTES"]

DTYPE_BYTES = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8, "int32": 4, "int64": 8, "bool": 1}


class LayerCost(NamedTuple):  # (immutable; one per layer, made in a fraction of a frozen dataclass' time)
    name: str
    macs: int | None
    activation_values: int | None  # elements of the layer's outputs, one example
    activation_bytes: int | None
    params: int


@dataclass(frozen=True)
class ModelCost:
    layers: tuple[LayerCost, ...]
    macs: int  # sum over layers whose count is known
    unknown_macs: int  # layers whose count depends on an unknown dimension
    activation_values: int
    activation_bytes: int
    unknown_activations: int
    input_bytes: int
    torchinfo_pass_bytes: int

    @property
    def flops(self) -> int:
        return 2 * self.macs

    def to_json(self) -> dict:
        return {
            "macs": self.macs,
            "flops": self.flops,
            "activation_values": self.activation_values,
            "activation_bytes": self.activation_bytes,
            "input_bytes": self.input_bytes,
            "torchinfo_pass_bytes": self.torchinfo_pass_bytes,
            "unknown_layers": max(self.unknown_macs, self.unknown_activations),
            "layers": [{"name": c.name, "macs": c.macs, "flops": None if c.macs is None else 2 * c.macs, "activation_bytes": c.activation_bytes} for c in self.layers],
        }


def _node_cost(model: Model, node: Node, memo: dict) -> LayerCost:
    ins = model.input_types(node)
    weights = model.node_weights(node, ins)  # (kept by the model: its parameter counts read them again)
    # a function of the op, its input and output types and whether it owns weights: the
    # same layer on the same types (a repeat, a block called again) is counted once
    key = (id(node.op), node.shares is None, *[(t.dtype, t.shape) for t in ins], None, *[(t.dtype, t.shape) for t in node.types])
    known = memo.get(key)
    if known is None or known[0] is not node.op:
        macs = node.op.macs(ins, list(node.types))
        sizes = [t.size() for t in node.types]
        values = None if None in sizes else sum(sizes)
        nbytes = None if None in sizes else sum(s * DTYPE_BYTES[t.dtype] for s, t in zip(sizes, node.types, strict=True))
        params = sum(w.size for w in weights)  # a shared layer counts once
        known = memo[key] = (node.op, macs, values, nbytes, params)  # (the op is kept: its id stays its own)
    return LayerCost(node.name, *known[1:])


def model_cost(model: Model) -> ModelCost:
    memo: dict = {}
    layers = tuple(_node_cost(model, n, memo) for n in model.nodes)
    input_sizes = [(i.type.size(), i.type.dtype) for i in model.inputs]
    return ModelCost(
        layers=layers,
        macs=sum(c.macs for c in layers if c.macs is not None),
        unknown_macs=sum(c.macs is None for c in layers),
        activation_values=sum(c.activation_values for c in layers if c.activation_values is not None),
        activation_bytes=sum(c.activation_bytes for c in layers if c.activation_bytes is not None),
        unknown_activations=sum(c.activation_bytes is None for c in layers),
        input_bytes=sum(s * DTYPE_BYTES[d] for s, d in input_sizes if s is not None),
        torchinfo_pass_bytes=2 * sum(c.activation_bytes for c in layers if c.params and c.activation_bytes is not None),
    )
