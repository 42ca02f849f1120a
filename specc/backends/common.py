"""What both backends' plans share: how to describe building a layer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Construct"]


@dataclass
class Construct:
    """How to build a layer/module: its class and literal constructor arguments.

    Arguments are literals (numbers, strings, booleans, tuples, None) or nested Constructs,
    so the same description builds the object in memory and renders as source."""

    cls: type
    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def build(self, **extra: Any):
        def b(v):
            if isinstance(v, Construct):
                return v.build()
            if isinstance(v, (list, tuple)):
                return type(v)(b(i) for i in v)
            return v

        return self.cls(*[b(a) for a in self.args], **{k: b(v) for k, v in self.kwargs.items()}, **extra)
