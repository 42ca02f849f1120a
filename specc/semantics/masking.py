"""Masking: ``embedding(vocab, dim, mask_zero=true)`` makes id 0 padding, as Keras' mask.

The elaborator carries the mask along with the embedding's output: the tensor of ids it
was made from.  Keras' rules, layer by layer (``supports_masking`` and ``compute_mask``
in Keras 3.15's source):

* a recurrence (``lstm``, ``gru``, ``simple_rnn``, ``bidirectional``) gets the ids as a
  second input and ``masked=true`` (under ``bidirectional``: its layer's): at a padded
  step it keeps its state, and its output is the last real one — or 0 in the sequence of
  a bidirectional with return_sequences (Keras forces ``zero_output_for_mask`` there).
  With ``return_sequences=true`` the sequence carries the mask on; the last state does
  not;
* ``global_avgpool1d`` gets the ids and averages the real steps; its output has no mask;
* ``multi_head_attention`` gets the ids of each masked role (query, value, key) and
  derives the attention mask from them (and ``causal``); its output carries the query's;
* ``dense``, ``dropout``, ``layer_norm``, ``activation`` pass the mask on unchanged (Keras
  layers with ``supports_masking`` whose computation ignores it); ``add``, ``multiply``
  and ``concat`` (of features) pass it on when every input carries the same mask (Keras'
  merge layers OR the masks, and drop or widen them when an input has none: refused);
  the tensor operators (``tok + pos``) pass it on when the masked operands share one
  mask — specc's meaning of ``+``, which keeps the time axis first;
* ``positions`` reads only the shape: the mask stops there.

Any other layer that would receive a mask is refused with a located error saying why —
Keras' ``GlobalMaxPooling1D``, ``Flatten``, ``Conv1D`` … do not support masking (Keras
drops the mask with a warning), ``batch_norm`` would compute masked moments — as is a
model output that carries a mask (Keras would mask the loss with it).  Dropping a mask
silently would compute another model.  A mixin of the elaborator.
"""

from __future__ import annotations

from specc.errors import Span
from specc.ir.types import dims_equal
from specc.syntax import ast

__all__ = ["MaskingMixin", "MASK_CONSUMERS", "MASK_PASSING"]

#: recurrences: read the ids, skip padded steps
MASK_CONSUMERS = ("lstm", "gru", "simple_rnn", "bidirectional")
#: layers whose output carries their input's mask unchanged
MASK_PASSING = ("dense", "dropout", "layer_norm", "activation", "add", "multiply", "concat", "arithmetic")

_WHY = {
    "global_maxpool1d": "Keras' GlobalMaxPooling1D does not support masking (it would take the maximum over padded steps too)",
    "batch_norm": "Keras' BatchNormalization would compute its statistics over the real steps only, which specc does not implement",
    "flatten": "Keras' Flatten does not support masking (the padded steps would be flattened in)",
    "conv1d": "Keras' Conv1D does not support masking (its windows would read padded steps)",
}
_HINT = (
    "masks pass through dense, dropout, layer_norm, activation, add/multiply/concat and tensor operators, "
    "and are used by lstm/gru/simple_rnn/bidirectional, global_avgpool1d and multi_head_attention; "
    "reduce the sequence with one of those first, or drop mask_zero=true"
)


class MaskingMixin:
    def init_masks(self) -> None:
        self.masks: dict[str, tuple[str, Span]] = {}  # tensor → (its ids tensor, where the mask is made)
        self.pending_mask: tuple[str, Span, str] | None = None  # (ids, made, the masked input) for the node being made

    def refuse_mask(self, call: ast.Call, why: str, made: Span, hint: str = _HINT) -> None:
        self.error(  # type: ignore[attr-defined]
            call.span,
            f"{call.name} would receive the padding mask of embedding(mask_zero=true), but {why}",
            notes=[f"the mask is made at {made}"],
            hint=hint,
        )

    def masked_inputs(self, op, ins: list[str], call: ast.Call):
        """(op, inputs) for a node reading ``ins``: a layer that uses a mask gets the ids
        as extra inputs; None after refusing a layer that cannot take a mask."""
        self.pending_mask = None
        if not self.masks:  # no embedding(mask_zero=true) so far
            return op, ins
        carried = [(t, *self.masks[t]) for t in ins if t in self.masks]
        if not carried:
            return op, ins
        first, ids, made = carried[0]
        kind = op.kind
        if kind in MASK_CONSUMERS:
            inner = op.layer if kind == "bidirectional" else op
            if len(ins) != 1:
                self.refuse_mask(call, "it reads one sequence", made)
                return None
            if inner.return_sequences:
                self.pending_mask = (ids, made, first)
            if kind == "bidirectional":  # both directions read the ids
                return op.model_copy(update={"layer": inner.model_copy(update={"masked": True})}), [*ins, ids]
            return op.model_copy(update={"masked": True}), [*ins, ids]
        if kind == "global_avgpool1d":
            return op.model_copy(update={"masked": True}), [*ins, ids]
        if kind == "multi_head_attention":
            q, v, k = op.qvk(ins)
            roles = [("query", q), ("value", v)] + ([("key", k)] if len(ins) == 3 else [])
            masked = [(role, self.masks[t][0]) for role, t in roles if t in self.masks]
            if q in self.masks:
                self.pending_mask = (self.masks[q][0], self.masks[q][1], q)
            return op.model_copy(update={"masks": tuple(r for r, _ in masked)}), [*ins, *(i for _, i in masked)]
        if kind == "positions":  # reads only the shape
            return op, ins
        if kind in MASK_PASSING:
            others = [c for c in carried if c[1] != ids]
            if others:
                self.refuse_mask(call, f"its inputs carry two different masks ('{first}' from '{ids}', '{others[0][0]}' from '{others[0][1]}'), which specc does not combine", made)
                return None
            if kind != "arithmetic" and len(carried) < len(ins):
                unmasked = next(t for t in ins if t not in self.masks)
                keras_rule = "drops the mask" if kind != "concat" else "keeps every step of the result"
                self.refuse_mask(
                    call,
                    f"its input '{unmasked}' has none: Keras' {kind} layer then {keras_rule}, and specc does not drop a mask silently",
                    made,
                    hint=f"to carry the mask on, write the tensor operator ({first} + {unmasked}), which keeps it; or give every input the mask",
                )
                return None
            if kind == "concat":
                rank = len(self.types[first].shape)  # type: ignore[attr-defined]
                if op.axis not in (-1, rank):
                    self.refuse_mask(call, "it joins along another axis than the features, which would change the masked steps", made)
                    return None
            self.pending_mask = (ids, made, first)
            return op, ins
        self.refuse_mask(call, _WHY.get(kind, "it does not implement masking"), made)
        return None

    def note_mask(self, node, call: ast.Call | None = None) -> bool:
        """Remember the mask an ``embedding(mask_zero=true)`` makes, or that the node's
        output carries its input's mask on (False after refusing a node whose output has
        lost the masked time axis)."""
        if node.op.kind == "embedding" and getattr(node.op, "mask_zero", False):
            self.masks[node.outputs[0]] = (node.inputs[0], node.span)
            return True
        if self.pending_mask is None:
            return True
        ids, made, source = self.pending_mask
        self.pending_mask = None
        src, out = self.types[source].shape, node.types[0].shape  # type: ignore[attr-defined]
        if len(out) != len(src) or dims_equal(out[0], src[0]) is False:
            self.refuse_mask(call or ast.Call(node.span, node.op.kind, [], node.span), "its output does not keep the masked time axis first", made)
            return False
        self.masks[node.outputs[0]] = (ids, made)
        return True

    def check_output_masks(self, outputs) -> None:
        """A model output carrying a mask is refused: Keras would mask the loss with it."""
        for t in outputs or ():
            if t in self.masks:
                self.error(  # type: ignore[attr-defined]
                    self.masks[t][1],
                    f"the model's output '{t}' carries the padding mask of embedding(mask_zero=true); Keras would weight the loss by it, which specc does not implement",
                    hint="reduce the sequence before the output: a recurrence with return_sequences=false, or global_avgpool1d",
                )
