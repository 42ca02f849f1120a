"""User-facing errors of ``specc train`` / ``evaluate`` / ``export``: a :class:`SpecError`
without a source location, so the CLI prints one line plus a hint and exits 1."""

from __future__ import annotations

from specc.errors import Diagnostic, SpecError

__all__ = ["TrainError", "fail"]


class TrainError(SpecError):
    """Bad data, a bad checkpoint or an impossible option: one message and a hint."""

    def __init__(self, message: str, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__([Diagnostic(None, message, hint=hint)])


def fail(message: str, hint: str | None = None) -> TrainError:
    """``raise fail("…", hint="…")``."""
    return TrainError(message, hint)
