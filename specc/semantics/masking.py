"""Masking: ``embedding(vocab, dim, mask_zero=true)`` makes id 0 padding, as Keras' mask.

The elaborator carries the mask along with the embedding's output: the tensor of ids it
was made from.  A recurrence that reads a masked tensor (``lstm``, ``gru``,
``simple_rnn``, ``bidirectional``, with ``return_sequences=false``) gets the ids as a
second input and ``masked=true`` (under ``bidirectional``: its layer's): at a padded step it keeps its state and output (Keras'
``keras.ops.rnn`` with a mask; backwards, the mask is reversed with the sequence), so its
result is the state after the last real step and carries no mask on.  Any other layer
that would receive a mask is refused with a located error: its masking is not
implemented, and dropping the mask silently would compute another model.  A mixin of the
elaborator.
"""

from __future__ import annotations

from specc.errors import Span
from specc.syntax import ast

__all__ = ["MaskingMixin", "MASK_CONSUMERS"]

#: layers that consume a mask (with return_sequences=false)
MASK_CONSUMERS = ("lstm", "gru", "simple_rnn", "bidirectional")


class MaskingMixin:
    def init_masks(self) -> None:
        self.masks: dict[str, tuple[str, Span]] = {}  # tensor → (its ids tensor, where the mask is made)

    def masked_inputs(self, op, ins: list[str], call: ast.Call):
        """(op, inputs) for a node reading ``ins``: a recurrence reading a masked tensor gets
        the ids as a second input and ``masked=true``; None after refusing a layer that
        would receive a mask."""
        carried = [self.masks[t] for t in ins if t in self.masks]
        if not carried:
            return op, ins
        ids, made = carried[0]
        inner = op.layer if op.kind == "bidirectional" else op
        if op.kind in MASK_CONSUMERS and len(ins) == 1 and not inner.return_sequences:
            if op.kind == "bidirectional":  # both directions read the ids
                return op.model_copy(update={"layer": inner.model_copy(update={"masked": True})}), [*ins, ids]
            return op.model_copy(update={"masked": True}), [*ins, ids]
        why = "with return_sequences=true its output would carry the mask on" if op.kind in MASK_CONSUMERS else "it does not implement masking"
        self.error(  # type: ignore[attr-defined]
            call.span,
            f"{call.name} would receive the padding mask of embedding(mask_zero=true), but {why}",
            notes=[f"the mask is made at {made}"],
            hint="feed the embedding to a recurrence with return_sequences=false (lstm, gru, simple_rnn, bidirectional), which skips the padded steps, or drop mask_zero=true",
        )
        return None

    def note_mask(self, node) -> None:
        """Remember the mask an ``embedding(mask_zero=true)`` makes."""
        if node.op.kind == "embedding" and getattr(node.op, "mask_zero", False):
            self.masks[node.outputs[0]] = (node.inputs[0], node.span)
