"""Canonical weights ⇄ the PyTorch model's ``state_dict``, through each op's converters."""

from __future__ import annotations

import numpy as np
import torch

from .plan import TORCH_OPS, Plan

__all__ = ["to_state_dict", "from_state_dict", "state_key", "weight_keys", "weight_targets"]


def state_key(attr: tuple[str, ...], local: str) -> str:
    return ".".join((*attr, local))


def to_state_dict(plan: Plan, weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Canonical ``{name: array}`` → ``{state_dict key: array}`` (torch layouts)."""
    model = plan.model
    out: dict[str, np.ndarray] = {}
    for node in model.nodes:
        specs = model.node_weights(node)
        if not specs:
            continue
        local = {w.name: weights[f"{node.name}.{w.name}"] for w in specs}
        info = plan.nodes[node.name]
        for k, v in TORCH_OPS[node.op.kind].to_torch(info, local).items():
            out[state_key(info.attr, k)] = np.ascontiguousarray(v)
    return out


def from_state_dict(plan: Plan, sd: dict[str, torch.Tensor | np.ndarray]) -> dict[str, np.ndarray]:
    """The inverse: a state_dict (tensors or arrays) → canonical weights."""
    model = plan.model
    out: dict[str, np.ndarray] = {}
    for node in model.nodes:
        specs = model.node_weights(node)
        if not specs:
            continue
        info = plan.nodes[node.name]
        prefix = ".".join(info.attr) + "."
        local = {
            k[len(prefix) :]: (v.detach().cpu().double().numpy() if isinstance(v, torch.Tensor) else np.asarray(v))
            for k, v in sd.items()
            if k.startswith(prefix)
        }
        conv = TORCH_OPS[node.op.kind].from_torch(info, local)
        for w in specs:
            out[f"{node.name}.{w.name}"] = np.asarray(conv[w.name], dtype=np.float64)
    return out


class _Probe:
    """A stand-in for one canonical weight: it goes through an op's ``to_torch`` like an
    array (reshapes, transposes, slices, splits, concatenations, fancy indexing) but holds
    no values, only its shape and which weight it came from — so finding where each weight
    goes costs nothing, whatever its size (``dense(10**12)`` compiles)."""

    __array_priority__ = 1000

    def __init__(self, tag, shape):
        self.tag = tag  # the canonical weight's name; None when values were mixed or made up
        self.shape = tuple(int(d) for d in shape)

    # shape arithmetic on a zero-strided stand-in: views of it never allocate
    def _carrier(self):
        return np.broadcast_to(np.empty((), dtype=bool), self.shape)

    def _like(self, arr):
        return _Probe(self.tag, arr.shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=object))

    @property
    def T(self):  # noqa: N802 - numpy's name
        return _Probe(self.tag, self.shape[::-1])

    def reshape(self, *shape):
        return self._like(self._carrier().reshape(*shape))

    def transpose(self, *axes):
        return self._like(self._carrier().transpose(*axes))

    def astype(self, *a, **k):
        return self

    def __getitem__(self, idx):
        if isinstance(idx, (np.ndarray, list)) or (isinstance(idx, tuple) and any(isinstance(i, (np.ndarray, list)) for i in idx)):
            first = np.asarray(idx[0] if isinstance(idx, tuple) else idx)
            return _Probe(self.tag, (*first.shape, *self.shape[1:]))  # a permutation of rows
        return self._like(self._carrier()[idx])

    def _mixed(self, other):
        same = isinstance(other, (int, float)) or (isinstance(other, _Probe) and other.tag == self.tag)
        shape = np.broadcast_shapes(self.shape, other.shape if isinstance(other, _Probe) else ())
        return _Probe(self.tag if same else None, shape)

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _mixed

    def __array_function__(self, func, types, args, kwargs):
        name = func.__name__
        if name in ("transpose", "moveaxis", "swapaxes", "reshape", "ascontiguousarray", "asarray", "squeeze", "expand_dims"):
            a, *rest = args
            if name in ("ascontiguousarray", "asarray"):
                return a
            return a._like(func(a._carrier(), *rest, **kwargs))
        if name in ("split", "array_split"):
            a, *rest = args
            return [a._like(p) for p in func(a._carrier(), *rest, **kwargs)]
        if name in ("concatenate", "stack"):
            parts = list(args[0])
            axis = kwargs.get("axis", args[1] if len(args) > 1 else 0)
            tags = {p.tag for p in parts}
            shapes = [p.shape for p in parts]
            if name == "stack":
                ax = axis % (len(shapes[0]) + 1)
                shape = (*shapes[0][:ax], len(parts), *shapes[0][ax:])
            else:
                ax = axis % len(shapes[0])
                shape = (*shapes[0][:ax], sum(s[ax] for s in shapes), *shapes[0][ax + 1 :])
            return _Probe(tags.pop() if len(tags) == 1 else None, shape)
        if name in ("zeros_like", "ones_like", "full_like", "empty_like"):
            return _Probe(None, args[0].shape)
        raise TypeError(f"weight probes do not support numpy.{name}")  # pragma: no cover - a new converter needs it


def weight_targets(plan: Plan, node) -> dict[str, list[tuple[str, tuple[int, ...]]]]:
    """For each canonical weight of ``node``: the (state-dict key, torch shape) of every
    tensor that holds its values (and only its values) — found without allocating a
    single weight."""
    return node_weight_targets(plan.nodes[node.name], plan.model.node_weights(node))


def node_weight_targets(info, specs) -> dict[str, list[tuple[str, tuple[int, ...]]]]:
    """:func:`weight_targets` for one lowered node (``info``) whose canonical weights are
    ``specs`` (also for a module outside a plan, e.g. a user's port, with ``info.attr = ()``)."""
    probes = {w.name: _Probe(w.name, w.shape) for w in specs}
    out: dict[str, list[tuple[str, tuple[int, ...]]]] = {w.name: [] for w in specs}
    for k, v in TORCH_OPS[info.node.op.kind].to_torch(info, probes).items():
        if isinstance(v, _Probe) and v.tag is not None:
            out[v.tag].append((state_key(info.attr, k), v.shape))
    return out


def weight_keys(plan: Plan, node) -> dict[str, list[str]]:
    """:func:`weight_targets` without the shapes."""
    return {name: [k for k, _ in targets] for name, targets in weight_targets(plan, node).items()}
