"""Multi-head attention with Keras' ``MultiHeadAttention`` semantics (see
``specc/ir/ops/attention.py``).  Self-contained: imports only ``torch`` and ``math``, so
``specc compile --to torch`` can copy it into generated source.

The projections are ``nn.Linear`` layers holding the canonical einsum kernels reshaped:
query/key/value kernel ``(E, heads, d)`` → weight ``(heads·d, E)``, output kernel
``(heads, vd, Eo)`` → weight ``(Eo, heads·vd)``; head ``h`` owns features
``h·d … h·d + d − 1``.  Scores are scaled by ``1/√key_dim``; the causal mask is
top-left aligned (query ``i`` sees keys ``0 … i``), as Keras' ``use_causal_mask``.

With ``masks`` (the roles, of "query", "value", "key", whose padding ids follow the
inputs) query ``t`` may attend to key ``s`` when the ids given are not 0 at ``t`` (query)
and ``s`` (value, key), and ``s ≤ t`` when causal — Keras' attention mask.  As Keras: with
``dropout`` 0 (its fused ``dot_product_attention``) other scores are replaced by a large
negative number before the softmax, so a row with no allowed key attends uniformly to
every key; with ``dropout`` > 0 (its softmax layer) such a row's weights are 0."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class MultiHeadAttention(nn.Module):
    """``forward(query, value=None, key=None)``: value defaults to the query, key to the
    value.  Inputs and output are ``(batch, time, features)``."""

    def __init__(
        self,
        query_features: int,
        key_features: int,
        value_features: int,
        heads: int,
        key_dim: int,
        value_dim: int,
        output_features: int,
        dropout: float = 0.0,
        causal: bool = False,
        bias: bool = True,
        masks: tuple = (),
    ):
        super().__init__()
        self.masks = tuple(masks)
        self.heads = heads
        self.key_dim = key_dim
        self.value_dim = value_dim
        self.dropout = dropout
        self.causal = causal
        self.query = nn.Linear(query_features, heads * key_dim, bias=bias)
        self.key = nn.Linear(key_features, heads * key_dim, bias=bias)
        self.value = nn.Linear(value_features, heads * value_dim, bias=bias)
        self.output = nn.Linear(heads * value_dim, output_features, bias=bias)

    def _split(self, x: torch.Tensor, d: int) -> torch.Tensor:
        """(batch, time, heads·d) → (batch, heads, time, d)."""
        return x.reshape(x.shape[0], x.shape[1], self.heads, d).transpose(1, 2)

    def _attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """dropout(softmax(q·kᵀ/√key_dim)) · v per head (torch's fused kernel)."""
        return F.scaled_dot_product_attention(
            q,
            k,
            v,
            dropout_p=self.dropout if self.training else 0.0,
            is_causal=self.causal,  # torch's causal mask is top-left aligned, as Keras'
            scale=1.0 / math.sqrt(self.key_dim),
        )

    def _attend_masked(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        """Attention where ``allowed`` (batch, Tq, Tk) says which keys each query sees."""
        s = (q * (1.0 / math.sqrt(self.key_dim))) @ k.transpose(-2, -1)
        allowed = allowed.unsqueeze(1)  # the same for every head
        if self.causal:
            allowed = allowed & torch.ones(s.shape[-2], s.shape[-1], dtype=torch.bool, device=s.device).tril()
        if self.dropout == 0.0:  # Keras' dot_product_attention: a fully masked row is uniform
            a = torch.softmax(s.masked_fill(~allowed, torch.finfo(s.dtype).min), dim=-1)
        else:  # Keras' softmax layer: a fully masked row is 0
            a = torch.softmax(s.masked_fill(~allowed, -1e9), dim=-1).masked_fill(~allowed, 0.0)
            a = F.dropout(a, self.dropout, self.training)
        return a @ v

    def forward(self, query: torch.Tensor, value: torch.Tensor | None = None, key: torch.Tensor | None = None, *ids: torch.Tensor) -> torch.Tensor:
        """``ids``: one per role in ``masks``; with masks all of query, value, key are given."""
        if value is None:
            value = query
        if key is None:
            key = value
        q = self._split(self.query(query), self.key_dim)
        k = self._split(self.key(key), self.key_dim)
        v = self._split(self.value(value), self.value_dim)
        if self.masks:
            allowed = torch.ones(query.shape[0], query.shape[1], key.shape[1], dtype=torch.bool, device=query.device)
            for role, i in zip(self.masks, ids):
                keep = i != 0
                allowed = allowed & (keep.unsqueeze(-1) if role == "query" else keep.unsqueeze(-2))
            o = self._attend_masked(q, k, v, allowed)
        else:
            o = self._attend(q, k, v)
        o = o.transpose(1, 2).reshape(query.shape[0], query.shape[1], self.heads * self.value_dim)
        return self.output(o)
