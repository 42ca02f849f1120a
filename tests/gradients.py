"""Gradients of the training loss in both backends, as canonical weights (float64), for
tests that compare backward passes layer by layer."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import torch

from specc.backends.keras.plan import KERAS_OPS
from specc.backends.torch.weights import from_state_dict


def torch_grads(tb, inputs, targets) -> tuple[float, dict[str, np.ndarray]]:
    """(loss, canonical gradients) of the torch bundle's loss (penalties included)."""
    tb.model.train()
    tb.model.zero_grad()
    loss = tb.compute_loss(inputs, targets)
    loss.backward()
    grads = {k: p.grad if p.grad is not None else torch.zeros_like(p) for k, p in tb.model.named_parameters()}
    return float(loss.detach()), from_state_dict(tb.plan, grads)


def keras_grads(km, inputs, targets) -> tuple[float, dict[str, np.ndarray]]:
    """(loss, canonical gradients) of the compiled Keras model's loss (penalties included).

    The loss is the compiled loss object plus the layers' penalties, as ``compute_loss``
    adds them, but without its final cast of the value to floatx (float32) — the cast
    changes the reported value only, not the gradients.  specc's penalties return their
    value in floatx too (see ``Penalty``): with penalties the loss value is exact to
    float32 only, the gradients stay exact."""
    x = inputs if len(inputs) > 1 else inputs[0]
    variables = km.trainable_variables
    with tf.GradientTape() as tape:
        y_pred = km(x, training=True)
        loss = km.loss(targets, y_pred)
        for penalty in km.losses:
            loss = loss + tf.cast(penalty, loss.dtype)
    grads = dict(zip([v.path for v in variables], tape.gradient(loss, variables), strict=True))
    plan = km.specc.plan
    out: dict[str, np.ndarray] = {}
    for node in plan.model.nodes:
        names = [w.name for w in plan.model.node_weights(node) if w.trainable]
        if not names:
            continue
        prefix = f"{node.name}/"
        vals = {p[len(prefix) :]: np.asarray(tf.convert_to_tensor(g), dtype=np.float64) for p, g in grads.items() if p.startswith(prefix)}
        conv = KERAS_OPS[node.op.kind].from_keras(plan.nodes[node.name], names, vals)
        out.update({f"{node.name}.{k}": v for k, v in conv.items()})
    return float(loss), out


def grads_both(tb, km, inputs, targets):
    """(torch loss, keras loss, torch gradients, keras gradients), canonical names."""
    lt, gt = torch_grads(tb, inputs, targets)
    lk, gk = keras_grads(km, inputs, targets)
    return lt, lk, gt, gk
