"""Draw a model's initial canonical weights from its initialisers.

Every weight gets its own random stream, derived from the seed and the weight's name, so
the numbers of one layer do not change when another layer is added or removed, and the
same spec and seed always give the same weights, on any machine.
"""

from __future__ import annotations

import hashlib

import numpy as np

from specc.ir.graph import Model

__all__ = ["init_weights", "weight_rng"]


def weight_rng(seed: int, name: str) -> np.random.Generator:
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    words = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]
    return np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, *words]))


def init_weights(model: Model, seed: int | None = None) -> dict[str, np.ndarray]:
    """``{canonical name: float64 array}`` for every weight (trained or state) of ``model``.

    ``seed`` defaults to the spec's ``train { seed }`` (0 without a train section)."""
    if seed is None:
        seed = model.train.seed if model.train is not None else 0
    out: dict[str, np.ndarray] = {}
    for node, w in model.weights():
        name = f"{node.name}.{w.name}"
        value = np.asarray(w.init.sample(tuple(w.shape), weight_rng(seed, name), w.fans), dtype=np.float64)
        if value.shape != tuple(w.shape):  # pragma: no cover - an initialiser bug
            raise AssertionError(f"initialiser of {name} returned shape {value.shape}, expected {w.shape}")
        out[name] = value
    return out
