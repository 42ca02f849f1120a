"""What the commands print, where it is read.

**Consoles.**  On a terminal, tables fit the window.  Anywhere else (a pipe, a file, a CI
log) nothing is hard-wrapped: each table row and each message is one line, so names are
never cut in two and a log can be searched with grep.

**``--json``.**  Every command that takes ``--json`` prints one shape: a list with one
result per file given, in order::

    [{"file": "a.spec", "ok": true, "diagnostics": [], ...the command's own fields...}]

``ok`` is the command's verdict for that file; ``diagnostics`` lists every problem found
(``severity``, ``message``, ``file``, ``line``, ``col``, ``end_line``, ``end_col``,
``expected``, ``hint``, ``notes``), empty when there is none.  The command's fields:

* ``check``: ``model`` (the IR, as ``specc schema`` describes it; null on errors) and
  ``summary`` (parameters, MACs, FLOPs, activation memory per example and per layer);
* ``verify``: ``report`` (tolerances, every compared tensor, the first failure);
* ``evaluate``: ``weights``, ``split``, ``examples``, ``backend``, ``metrics``.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # rich is imported where a console is made: `specc check` prints none
    from rich.console import Console

__all__ = ["stdout_console", "file_result", "dumps", "NO_WRAP_WIDTH"]

NO_WRAP_WIDTH = 100_000  # rich needs a width; this one never wraps a line


def stdout_console(min_width: int = 100, **kw) -> Console:
    """A console for stdout: the terminal's width (at least ``min_width``) on a terminal,
    no wrapping anywhere else."""
    from rich.console import Console

    if sys.stdout.isatty():
        width = max(Console().width, min_width)
        return Console(highlight=False, width=width, **kw)
    return Console(highlight=False, width=NO_WRAP_WIDTH, soft_wrap=True, **kw)


def file_result(file: str, ok: bool, diagnostics=(), **fields) -> dict:
    return {"file": str(file), "ok": bool(ok), "diagnostics": [d if isinstance(d, dict) else d.to_json() for d in diagnostics], **fields}


def dumps(results: list[dict]) -> str:
    return json.dumps(results, indent=2)
