"""A custom Keras ``Layer`` (a subclass with a Python ``call``) → the built-in layers and
tensor operations it applies, traced symbolically.

Keras 3 records every built-in layer and every ``keras.ops`` call made on symbolic tensors
(``KerasTensor``) as a node, so calling the layer's ``call`` once on fresh symbolic inputs
yields a small functional graph that :mod:`specc.importers.keras` walks like any other,
under the custom layer's name as a scope (``transformer_block.multi_head_attention``).
Nothing is approximated: whatever the trace cannot follow is an :class:`ImportFailure`
naming the custom layer.

One idiom needs help, because it computes on plain Python numbers: keras.io's learned
positional embedding, ``positions = ops.arange(0, ops.shape(x)[-1])``.  During the trace
``ops.shape`` of a symbolic tensor returns sizes that remember which tensor and axis they
were read from, and ``ops.arange(0, T)`` over the time axis of ``x`` becomes the IR's
``positions`` of ``x`` (``0 … T−1`` for each example; an embedding of them broadcasts
exactly as the source's ``[T, dim]`` table does when it is added to ``[batch, T, dim]``).
"""

from __future__ import annotations

import contextlib
from typing import Any

from specc.importers.graph import ImportFailure

__all__ = ["is_custom_layer", "trace_call", "POSITIONS_OP"]

POSITIONS_OP = "SpeccPositions"


def is_custom_layer(layer) -> bool:
    """A ``keras.layers.Layer`` subclass written outside Keras (not a model)."""
    import keras

    return isinstance(layer, keras.layers.Layer) and not isinstance(layer, keras.Model) and not type(layer).__module__.startswith("keras.")


class _Size(int):
    """A static size read with ``ops.shape`` during a trace: the tensor and axis it came from."""

    tensor: Any
    axis: int

    def __new__(cls, value: int, tensor, axis: int):
        obj = super().__new__(cls, value)
        obj.tensor, obj.axis = tensor, axis
        return obj


_POSITIONS_CLASS = None


def _positions_class():
    global _POSITIONS_CLASS
    if _POSITIONS_CLASS is None:
        import keras

        class SpeccPositions(keras.Operation):
            """``0 … T−1`` along axis 1 of its input, for each example (int32)."""

            def call(self, x):
                t = keras.ops.shape(x)[1]
                return keras.ops.broadcast_to(keras.ops.arange(t, dtype="int32"), (keras.ops.shape(x)[0], t))

            def compute_output_spec(self, x):
                return keras.KerasTensor((x.shape[0], x.shape[1]), dtype="int32")

        SpeccPositions.__name__ = POSITIONS_OP
        _POSITIONS_CLASS = SpeccPositions
    return _POSITIONS_CLASS


@contextlib.contextmanager
def _patched_ops():
    """``keras.ops.shape`` / ``keras.ops.arange`` that keep track of where sizes came from."""
    import keras

    ops = keras.ops
    shape0, arange0 = ops.shape, ops.arange

    def shape(x):
        s = shape0(x)
        if isinstance(x, keras.KerasTensor):
            return tuple(_Size(d, x, i) if isinstance(d, int) else d for i, d in enumerate(s))
        return s

    def arange(start=0, stop=None, step=1, dtype=None):
        first, last = (0, start) if stop is None else (start, stop)
        if isinstance(last, _Size) and int(first) == 0 and step == 1 and last.axis in (1, 1 - last.tensor.ndim) and dtype in (None, "int32", "int64"):
            if last.tensor.ndim < 2:
                raise ImportFailure("positions of a tensor without a time axis", "arange")
            return _positions_class()(name=f"positions_{id(last.tensor):x}")(last.tensor)
        return arange0(start, stop, step=step, dtype=dtype)

    ops.shape, ops.arange = shape, arange
    try:
        yield
    finally:
        ops.shape, ops.arange = shape0, arange0


def trace_call(layer, node, where: str) -> tuple[list, list]:
    """(fresh symbolic inputs, symbolic outputs) of ``layer.call`` applied as at ``node``."""
    import keras

    args = node.arguments
    tensors = list(node.input_tensors)
    positional = [a for a in args.args]
    if len(positional) != len(tensors) or any(a is not t for a, t in zip(positional, tensors, strict=True)):
        raise ImportFailure(
            f"custom layer {type(layer).__name__}: only calls on tensors passed positionally can be traced",
            where,
            f"custom layer {type(layer).__name__}",
        )
    extra = {k: v for k, v in args.kwargs.items() if v is not None and k not in ("training", "mask")}
    if extra:
        raise ImportFailure(f"call arguments {sorted(extra)} of custom layer {type(layer).__name__} are not expressible", where, "layer call options")
    fresh = [keras.KerasTensor(t.shape, dtype=t.dtype, name=f"{layer.name}_in{i}") for i, t in enumerate(tensors)]
    try:
        with _patched_ops():
            out = layer.call(*fresh)
    except ImportFailure:
        raise
    except Exception as e:  # noqa: BLE001 - whatever the user's call() raises on symbolic tensors
        raise ImportFailure(
            f"custom layer {type(layer).__module__}.{type(layer).__name__}: its call() could not be traced with symbolic tensors ({type(e).__name__}: {e}); "
            "specc follows built-in layers and keras.ops calls",
            where,
            f"custom layer {type(layer).__name__}",
        ) from None
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    if not all(isinstance(o, keras.KerasTensor) for o in outs) or len(outs) != len(node.outputs):
        raise ImportFailure(
            f"custom layer {type(layer).__name__}: its call() does not return symbolic tensors computed from its inputs",
            where,
            f"custom layer {type(layer).__name__}",
        )
    return fresh, outs
