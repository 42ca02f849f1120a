"""Backends lower the IR to a framework.  Each lives in its own package and is imported
only when used, so ``specc check`` never imports torch or tensorflow."""

from __future__ import annotations

BACKENDS = ("torch", "keras")

__all__ = ["BACKENDS", "check_backend"]


def check_backend(name: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}")
    return name
