"""Argument types shared by the sub-commands: numbers checked when the command line is
parsed, so an impossible value is a usage error (exit 2) before any work starts."""

from __future__ import annotations

import argparse

__all__ = ["int_range", "SEED", "POSITIVE", "SEED_LIMIT"]

SEED_LIMIT = 2**32  # seeds are 32-bit everywhere (numpy streams, torch, TensorFlow)


def int_range(lo: int, hi: int | None = None, what: str = "a whole number"):
    """An argparse ``type``: an int in [lo, hi)."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if v < lo or (hi is not None and v >= hi):
            bound = f"≥ {lo}" if hi is None else f"in [{lo}, {hi})" if hi - lo > 1000 else f"between {lo} and {hi - 1}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {v}")
        return v

    parse.__name__ = "int"
    return parse


SEED = int_range(0, SEED_LIMIT, "a seed (a whole number)")
POSITIVE = int_range(1)
