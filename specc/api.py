"""The front end's public functions: spec text or file → validated IR."""

from __future__ import annotations

import os
from pathlib import Path

from specc._nogc import paused_gc
from specc.errors import Diagnostic, SpecError, Span
from specc.ir.graph import Model
from specc.semantics.budget import Limits
from specc.semantics.elaborate import elaborate
from specc.syntax.parser import MAX_SOURCE_BYTES, parse

__all__ = ["load", "loads", "Limits"]


def loads(text: str | bytes, path: str = "<string>", limits: Limits | None = None) -> Model:
    """Parse and validate spec text; raise :class:`SpecError` listing every problem.

    ``limits`` sets the budgets (expansion size, parameters, activation size); by default
    the environment's (``SPECC_MAX_NODES`` …) or the built-in ones."""
    limits = limits or Limits()  # a bad environment value fails here, before any work
    with paused_gc():
        tree = parse(text, path)
        source = text if isinstance(text, str) else text.decode("utf-8", errors="replace")
        return elaborate(tree, {path: source}, limits)


def load(path: str | os.PathLike, limits: Limits | None = None) -> Model:
    """Parse and validate a ``.spec`` file."""
    p = Path(path)
    try:
        with p.open("rb") as f:  # never more than the parser accepts (/dev/zero, a FIFO of junk)
            data = f.read(MAX_SOURCE_BYTES + 4)
    except FileNotFoundError:
        raise SpecError([Diagnostic(Span(str(path), 1, 1), "no such file")]) from None
    except IsADirectoryError:
        raise SpecError([Diagnostic(Span(str(path), 1, 1), "is a directory, not a spec file")]) from None
    except OSError as e:
        raise SpecError([Diagnostic(Span(str(path), 1, 1), f"cannot read the file: {e.strerror}")]) from None
    return loads(data, str(path), limits)
