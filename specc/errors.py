"""Located diagnostics and the one exception type specc raises for bad specs.

Every problem found in a spec — syntax, names, types, shapes, backend limits — becomes a
:class:`Diagnostic` with a :class:`Span` (file, line, column).  A :class:`SpecError`
carries all diagnostics of a file; its ``str()`` renders them like a compiler::

    digits.spec:4:3: error: unknown layer 'dense2'
        4 |   dense2(10)
          |   ^^^^^^
      = help: did you mean 'dense'?
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = ["Span", "Diagnostic", "SpecError", "UsageError", "suggest", "did_you_mean", "source_lines", "MAX_SHOWN"]


@dataclass(frozen=True)
class Span:
    """A region of a source file: 1-based line and column, end exclusive."""

    file: str
    line: int
    col: int
    end_line: int | None = None
    end_col: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass
class Diagnostic:
    """One located problem."""

    span: Span | None
    message: str
    expected: str | None = None
    hint: str | None = None
    severity: str = "error"
    notes: list[str] = field(default_factory=list)

    def render(self, sources: dict[str, str] | None = None, _lines: dict[str, list[str]] | None = None) -> str:
        head = f"{self.span}: " if self.span else ""
        lines = [f"{head}{self.severity}: {self.message}"]
        text = (sources or {}).get(self.span.file) if self.span else None
        if text is not None and self.span is not None:
            # the file's lines are split once per rendering of a whole error, not per diagnostic
            if _lines is None:
                _lines = {}
            if self.span.file not in _lines:
                _lines[self.span.file] = source_lines(text)
            lines.extend(_excerpt(_lines[self.span.file], self.span))
        if self.expected:
            lines.append(f"  = expected: {self.expected}")
        for note in self.notes:
            lines.append(f"  = note: {note}")
        if self.hint:
            lines.append(f"  = help: {self.hint}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        span = self.span
        return {
            "severity": self.severity,
            "message": self.message,
            "file": span.file if span else None,
            "line": span.line if span else None,
            "col": span.col if span else None,
            "end_line": span.end_line if span else None,
            "end_col": span.end_col if span else None,
            "expected": self.expected,
            "hint": self.hint,
            "notes": list(self.notes),
        }


def source_lines(text: str) -> list[str]:
    """The lines of spec text as the parser counts them: split at "\\n" only (str.splitlines
    also splits at form feeds, U+2028 … which would shift every line number after them)."""
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _excerpt(src_lines: list[str], span: Span) -> list[str]:
    if not 1 <= span.line <= len(src_lines):
        return []
    raw = src_lines[span.line - 1]
    # Show printable text only: a binary file must not garble the terminal.
    shown = "".join(c if c.isprintable() or c == "\t" else "\ufffd" for c in raw)
    shown = shown.replace("\t", " ")
    if len(shown) > 200:  # keep very long lines readable around the column
        start = max(0, span.col - 80)
        shown = ("…" if start else "") + shown[start : start + 160]
        col = span.col - start + (1 if start else 0)
    else:
        col = span.col
    width = 1
    if span.end_line == span.line and span.end_col and span.end_col > span.col:
        width = span.end_col - span.col
    width = max(1, min(width, len(shown) - col + 2))
    gutter = f"{span.line:>5} | "
    return [gutter + shown, " " * (len(gutter) - 2) + "| " + " " * (col - 1) + "^" * width]


#: how many diagnostics an error shows; the rest are counted (all stay in ``.diagnostics``)
MAX_SHOWN = 50


class SpecError(Exception):
    """A spec is invalid.  ``.diagnostics`` lists every located problem found.

    Rendering is lazy and linear: the source is split into lines once per rendering, and only
    the first :data:`MAX_SHOWN` diagnostics are shown, followed by a count of the others."""

    def __init__(self, diagnostics: Sequence[Diagnostic], sources: dict[str, str] | None = None):
        self.diagnostics = list(diagnostics)
        self.sources = dict(sources or {})
        super().__init__()

    def render(self, limit: int | None = MAX_SHOWN) -> str:
        lines: dict[str, list[str]] = {}
        shown = self.diagnostics if limit is None else self.diagnostics[:limit]
        text = "\n\n".join(d.render(self.sources, lines) for d in shown)
        rest = len(self.diagnostics) - len(shown)
        if rest > 0:
            text += f"\n\n… and {rest:,} more error{'s' if rest != 1 else ''} ({len(self.diagnostics):,} in all; the first {len(shown)} are shown)"
        return text

    def __str__(self) -> str:
        return self.render()

    @classmethod
    def single(cls, span: Span | None, message: str, **kw) -> SpecError:
        return cls([Diagnostic(span, message, **kw)])


MAX_CANDIDATES = 500  # "did you mean" compares a word with at most this many names


def suggest(word: str, candidates: Iterable[str], n: int = 1) -> list[str]:
    """Close matches of ``word`` among ``candidates`` (for "did you mean")."""
    cands = sorted(set(candidates))
    same_letters = [c for c in cands if c.lower() == word.lower() and c != word]
    if same_letters:  # `Relu` is `relu`: names are case-sensitive, the spelling was right
        return same_letters[:n]
    if len(cands) > MAX_CANDIDATES:  # bounded cost: only names of about the same length can match
        near = [c for c in cands if abs(len(c) - len(word)) <= max(2, len(word) // 3)]
        cands = near if len(near) <= MAX_CANDIDATES else [c for c in near if c[:1].lower() == word[:1].lower()][:MAX_CANDIDATES]
    out = difflib.get_close_matches(word, cands, n=n, cutoff=0.6)
    if not out:
        low = word.lower()
        # a prefix says little about a short word ('b' is not 'batch_norm')
        out = [c for c in cands if c.lower() == low or (min(len(c), len(word)) >= 3 and (c.startswith(word) or word.startswith(c)))][:n]
    return out


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    best = suggest(word, candidates)
    if best and best[0].lower() == word.lower():
        return f"names are case-sensitive: did you mean '{best[0]}'?"
    return f"did you mean '{best[0]}'?" if best else None


class UsageError(Exception):
    """A bad command-line option or environment setting (not a spec problem): the CLI prints
    the message and exits with status 2."""
