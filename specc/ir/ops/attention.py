"""multi_head_attention over sequences (Keras' MultiHeadAttention semantics).

Inputs: one tensor (self-attention), ``(query, value)`` (key = value) or
``(query, value, key)``, each ``(time, features)``.  For each head h:
``softmax(Q_h K_hᵀ / √key_dim + mask) V_h``, heads concatenated and projected.
``causal`` masks keys after the query's position.  ``dropout`` drops attention weights
in training.  Output: ``(query_time, output_dim)``, output_dim defaulting to the query's
feature size.

Canonical weights (Keras' einsum layout): ``query_kernel`` ``(Eq, heads, key_dim)``,
``query_bias`` ``(heads, key_dim)``, ``key_kernel`` ``(Ek, heads, key_dim)``,
``key_bias``, ``value_kernel`` ``(Ev, heads, value_dim)``, ``value_bias``,
``output_kernel`` ``(heads, value_dim, output_dim)``, ``output_bias`` ``(output_dim,)``.
Initialiser fans are those of the equivalent dense layer: (E, heads·key_dim) for the
projections, (heads·value_dim, output_dim) for the output.

``masks`` (set by specc where an input carries the padding mask of
``embedding(mask_zero=true)``, see :mod:`specc.semantics.masking`): the roles
(``query``, ``value``, ``key``) whose ids follow the data inputs, one ids input each.
Keras' ``MultiHeadAttention`` rule: query ``t`` may attend to key ``s`` when the query
id at ``t``, the value id at ``s`` and the key id at ``s`` are not 0 (those given), and
``s ≤ t`` when causal.  Allowed scores keep their value, the others get weight 0.  A
query row with no allowed key (a padded query) attends uniformly to every key when
``dropout`` is 0 (Keras' fused ``dot_product_attention`` path) and has weights 0 when
``dropout`` > 0 (Keras' softmax-layer path).  The output carries the query's mask.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from specc.ir.initializers import GLOROT_UNIFORM, ZEROS, Initializer
from specc.ir.ops.base import LAYERS, Op, ShapeError, WeightSpec, float_dtype, known, mul_known, require_rank
from specc.ir.regularizers import Regularizer
from specc.ir.spec import SET_BY_SPECC
from specc.ir.types import TensorType, dims_equal, fmt_shape


@LAYERS.register
class MultiHeadAttention(Op):
    """Scaled dot-product attention with several heads."""

    kind: Literal["multi_head_attention"] = "multi_head_attention"
    family: ClassVar[str] = "attention"
    summary: ClassVar[str] = "multi-head attention"
    arity: ClassVar[tuple[int, int | None]] = (1, 3)
    heads: int = Field(..., gt=0, description="number of attention heads")
    key_dim: int = Field(..., gt=0, description="size of each head's query and key")
    value_dim: int | None = Field(None, gt=0, description="size of each head's value (default key_dim)")
    output_dim: int | None = Field(None, gt=0, description="output features (default: the query's)")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout on attention weights (training)")
    causal: bool = Field(False, description="each position attends only to itself and earlier ones")
    use_bias: bool = Field(True, description="biases in the projections")
    init: Initializer = Field(GLOROT_UNIFORM, description="initialiser of the projection kernels")
    bias_init: Initializer = Field(ZEROS, description="initialiser of the biases")
    reg: Regularizer | None = Field(None, description="penalty on the kernels")
    bias_reg: Regularizer | None = Field(None, description="penalty on the biases")
    masks: tuple[Literal["query", "value", "key"], ...] = Field((), description="roles whose padding ids follow the inputs " + SET_BY_SPECC)
    positional = ("heads", "key_dim")

    @property
    def stochastic(self) -> bool:  # type: ignore[override]
        return self.dropout > 0

    @property
    def vdim(self) -> int:
        return self.value_dim or self.key_dim

    @staticmethod
    def qvk(ins: list[TensorType]) -> tuple[TensorType, TensorType, TensorType]:
        q = ins[0]
        v = ins[1] if len(ins) > 1 else q
        k = ins[2] if len(ins) > 2 else v
        return q, v, k

    def data(self, ins: list):
        """The data inputs (query[, value[, key]]): ``ins`` without the trailing ids."""
        return list(ins[: len(ins) - len(self.masks)])

    def infer(self, ins: list[TensorType]) -> list[TensorType]:
        data = self.data(ins)
        hint = "masks is set where an input carries a padding mask; do not write it"
        if len(set(self.masks)) != len(self.masks):
            raise ShapeError("multi_head_attention: masks name each role (query, value, key) at most once", hint=hint)
        if not data or len(data) > 3:  # (masks written by hand: more masks than inputs, or too many inputs)
            raise ShapeError(f"multi_head_attention takes 1 to 3 inputs (query, value, key) and a padding mask for each of masks, got {len(ins)} input{'s' if len(ins) != 1 else ''} for {len(self.masks)} mask{'s' if len(self.masks) != 1 else ''}", hint=hint)
        q, v, k = self.qvk(data)
        roles = {"query": q, "value": v, "key": k}
        for role, ids in zip(self.masks, ins[len(data) :], strict=True):
            if not ids.is_int or len(ids.shape) != 1 or dims_equal(ids.shape[0], roles[role].shape[0]) is False:
                raise ShapeError(f"multi_head_attention: the {role}'s padding mask must be its ids (one per step)", hint="masks is set where an input carries a padding mask; do not write it")
        for name, t in (("query", q), ("value", v), ("key", k)):
            require_rank(self.kind, t, (2,), f"{name} sequences (time, features)")
            known(self.kind, f"{name} feature size", t.shape[-1])
        if dims_equal(k.shape[0], v.shape[0]) is False:
            raise ShapeError(
                f"multi_head_attention: key and value must have the same length, got "
                f"{fmt_shape(k.shape, batch=True)} and {fmt_shape(v.shape, batch=True)}"
            )
        out = self.output_dim or q.shape[-1]
        return [TensorType(dtype=float_dtype(ins), shape=(q.shape[0], out))]

    def weights(self, ins: list[TensorType]) -> list[WeightSpec]:
        q, v, k = self.qvk(self.data(ins))
        h, kd, vd = self.heads, self.key_dim, self.vdim
        out = self.output_dim or q.shape[-1]
        ws = []
        for name, t, d in (("query", q, kd), ("key", k, kd), ("value", v, vd)):
            e = t.shape[-1]
            ws.append(WeightSpec(f"{name}_kernel", (e, h, d), self.init, regularizer=self.reg, fans=(e, h * d)))
            if self.use_bias:
                ws.append(WeightSpec(f"{name}_bias", (h, d), self.bias_init, regularizer=self.bias_reg))
        ws.append(WeightSpec("output_kernel", (h, vd, out), self.init, regularizer=self.reg, fans=(h * vd, out)))
        if self.use_bias:
            ws.append(WeightSpec("output_bias", (out,), self.bias_init, regularizer=self.bias_reg))
        return ws

    def macs(self, ins: list[TensorType], outs: list[TensorType]) -> int | None:
        """Projections (query and output once per query position, key and value once per
        key position) plus the two products: scores h·Tq·Tk·key_dim, weighted values
        h·Tq·Tk·value_dim (torchinfo counts neither product)."""
        q, v, k = self.qvk(self.data(ins))
        tq, tk = q.shape[0], k.shape[0]
        ws = {w.name: w.size for w in self.weights(ins)}
        at = {"query": tq, "output": tq, "key": tk, "value": tk}
        parts = [mul_known(size, at[name.split("_")[0]]) for name, size in ws.items()]
        parts.append(mul_known(self.heads, tq, tk, self.key_dim + self.vdim))
        return None if None in parts else sum(parts)
