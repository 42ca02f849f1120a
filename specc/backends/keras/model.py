"""The in-memory Keras model: a functional ``keras.Model`` built from the plan, with the
canonical weights loaded.  It is an ordinary Keras model (``fit``, ``save``, ``export``)."""

from __future__ import annotations

import sys

import keras
import numpy as np

from specc.ir.graph import Model

from .lib.core import named
from .plan import KERAS_OPS, KPlan, graph_recursion_limit, keras_model_name, make_plan

__all__ = ["build_functional", "set_canonical", "get_canonical", "keras_input_shape"]


def keras_input_shape(shape) -> tuple:
    return tuple(d if isinstance(d, int) else None for d in shape)


_OPERATORS = {
    "add": lambda a, b: a + b,
    "subtract": lambda a, b: a - b,
    "multiply": lambda a, b: a * b,
    "divide": lambda a, b: a / b,
}


def apply_operator(args, fn: str, scalar: float | None = None, first: bool = False, expand=(0, 0)):
    """A tensor expression's operator on Keras tensors; ``expand``: axes to add after the
    batch of each operand so that broadcasting aligns per example."""
    f = _OPERATORS[fn]
    if scalar is not None:
        return f(scalar, args[0]) if first else f(args[0], scalar)
    a, b = args
    for _ in range(expand[0]):
        a = keras.ops.expand_dims(a, 1)
    for _ in range(expand[1]):
        b = keras.ops.expand_dims(b, 1)
    return f(a, b)


def build_functional(plan: KPlan, dtype: str = "float32", layer_dtype: str | None = None) -> tuple[keras.Model, dict[str, list]]:
    """The functional model, and every plan variable's Keras tensor (for per-layer probes)."""
    model = plan.model
    env: dict[str, object] = {}
    for var, i in zip(plan.inputs, model.inputs, strict=True):
        in_dtype = dtype if i.type.is_float else i.type.dtype
        env[var] = keras.Input(shape=keras_input_shape(i.type.shape), dtype=in_dtype, name=i.name)
    frozen = {n.name for n in model.nodes if not n.trainable}
    made: dict[str, keras.layers.Layer] = {}  # a shared layer's object, called again
    for step in plan.steps:
        if step.call == "operator":
            env[step.outputs[0]] = named(apply_operator([env[v] for v in step.inputs], **step.call_kwargs), step.name)
            continue
        layer = made.get(step.name)
        if layer is None:
            layer = made[step.name] = step.construct.build(name=step.name, dtype=layer_dtype or dtype)
        if step.node in frozen:
            layer.trainable = False
        args = [env[v] for v in step.inputs]
        if step.call == "list":
            out = layer(args, **step.call_kwargs)
        elif step.call == "args":
            out = layer(*args, **step.call_kwargs)
        elif step.call == "masked":  # after embedding(mask_zero=true): the trailing ids give the masks
            n = len(args) - len(step.masks)
            masks = {k: named(keras.ops.not_equal(ids, 0), f"{step.node}__{k}") for k, ids in zip(step.masks, args[n:], strict=True)}
            out = layer(*args[:n], **masks, **step.call_kwargs)
        else:
            out = layer(args[0], **step.call_kwargs)
        if len(step.outputs) == 1:
            env[step.outputs[0]] = out
        else:
            env.update(zip(step.outputs, out, strict=True))
    outputs = [env[o] for o in plan.outputs]
    need = graph_recursion_limit(plan)
    if need is not None and sys.getrecursionlimit() < need:
        sys.setrecursionlimit(need)
    km = keras.Model(
        inputs=[env[v] for v in plan.inputs] if len(plan.inputs) > 1 else env[plan.inputs[0]],
        outputs=outputs if len(outputs) > 1 else outputs[0],
        name=keras_model_name(model.name),
    )
    return km, env


def _variables(km: keras.Model) -> dict[str, object]:
    return {v.path: v for v in km.weights}


def set_canonical(plan: KPlan, km: keras.Model, weights: dict[str, np.ndarray]) -> None:
    """Load canonical weights into the Keras model."""
    model: Model = plan.model
    variables = _variables(km)
    for node in model.nodes:
        specs = model.node_weights(node)
        if not specs:
            continue
        local = {w.name: weights[f"{node.name}.{w.name}"] for w in specs}
        for rel, value in KERAS_OPS[node.op.kind].to_keras(plan.nodes[node.name], local).items():
            var = variables[f"{node.name}/{rel}"]
            value = np.asarray(value)
            if tuple(var.shape) != value.shape:  # pragma: no cover - a lowering bug
                raise AssertionError(f"{var.path}: canonical shape {value.shape}, keras shape {tuple(var.shape)}")
            var.assign(value.astype(var.dtype))


def get_canonical(plan: KPlan, km: keras.Model, values: dict[str, np.ndarray] | None = None, *, trainable_only: bool = False) -> dict[str, np.ndarray]:
    """The Keras model's weights as canonical weights (float64).

    ``values`` maps variable paths to arrays to convert instead of the variables' own
    values (e.g. gradients, which convert like the weights they belong to)."""
    model: Model = plan.model
    if values is None:
        values = {p: np.asarray(v.numpy(), dtype=np.float64) for p, v in _variables(km).items()}
    out: dict[str, np.ndarray] = {}
    for node in model.nodes:
        specs = [w for w in model.node_weights(node) if (w.trainable and node.trainable) or not trainable_only]
        if not specs:
            continue
        prefix = f"{node.name}/"
        vals = {p[len(prefix) :]: np.asarray(v, dtype=np.float64) for p, v in values.items() if p.startswith(prefix)}
        conv = KERAS_OPS[node.op.kind].from_keras(plan.nodes[node.name], [w.name for w in specs], vals)
        out.update({f"{node.name}.{k}": v for k, v in conv.items()})
    return out


def plan_for(model: Model) -> KPlan:
    return make_plan(model)
