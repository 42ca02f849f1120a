"""Nested training state (optimizer state dicts, RNG states) without pickle: arrays go to
a safetensors file, everything else to JSON with references to the arrays.

``pack(obj)`` → (JSON-able skeleton, {key: array}); ``unpack(skeleton, arrays)`` is the
inverse.  Dicts keep their key types (torch optimizer states are keyed by int), tuples
stay tuples; only None, bools, numbers, strings, lists, tuples, dicts and arrays are
allowed — anything else is a bug, reported as such."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["pack", "unpack"]


def pack(obj: Any, to_array: Callable[[Any], np.ndarray | None] | None = None, prefix: str = "s") -> tuple[Any, dict[str, np.ndarray]]:
    arrays: dict[str, np.ndarray] = {}

    def go(o: Any, path: str) -> Any:
        if isinstance(o, np.ndarray):
            arrays[path] = np.array(o, order="C")
            return {"__array__": path}
        if to_array is not None and not isinstance(o, (str, bytes, int, float, bool, type(None), dict, list, tuple)):
            a = to_array(o)
            if a is not None:
                arrays[path] = np.array(a, order="C")
                return {"__array__": path, "__kind__": type(o).__name__}
        if o is None or isinstance(o, (bool, int, str)):
            return o
        if isinstance(o, float):
            return o if math.isfinite(o) else {"__float__": repr(o)}
        if isinstance(o, np.generic):
            return go(o.item(), path)
        if isinstance(o, dict):
            return {"__dict__": [[k if isinstance(k, (str, int)) else _bad(k, path), go(v, f"{path}.{k}")] for k, v in o.items()]}
        if isinstance(o, tuple):
            return {"__tuple__": [go(v, f"{path}.{i}") for i, v in enumerate(o)]}
        if isinstance(o, list):
            return [go(v, f"{path}.{i}") for i, v in enumerate(o)]
        return _bad(o, path)

    return go(obj, prefix), arrays


def _bad(o: Any, path: str):
    raise TypeError(f"cannot store {type(o).__name__} at {path} in a checkpoint")


def unpack(skeleton: Any, arrays: dict[str, np.ndarray], from_array: Callable[[np.ndarray, str | None], Any] | None = None) -> Any:
    def go(o: Any) -> Any:
        if isinstance(o, list):
            return [go(v) for v in o]
        if isinstance(o, dict):
            if "__array__" in o:
                a = arrays[o["__array__"]]
                return from_array(a, o.get("__kind__")) if from_array is not None and o.get("__kind__") else a
            if "__float__" in o:
                return float(o["__float__"])
            if "__tuple__" in o:
                return tuple(go(v) for v in o["__tuple__"])
            if "__dict__" in o:
                return {k: go(v) for k, v in o["__dict__"]}
            raise ValueError(f"unknown state entry {sorted(o)}")
        return o

    return go(skeleton)
