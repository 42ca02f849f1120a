"""Positions between an LSP client and specc's front end, which count differently:

* **LSP**: a line ends at ``\\n``, ``\\r\\n`` or ``\\r``; a column counts code units of
  the position encoding negotiated at ``initialize`` (``utf-16`` unless the client offers
  ``utf-8`` or ``utf-32``): a character outside the Basic Multilingual Plane (an emoji) is
  two UTF-16 units, up to four UTF-8 bytes;
* **specc** (the lexer, spans, :mod:`specc.lsp.analysis`): a line ends at ``\\n`` only (a
  ``\\r`` is white space), a column counts code points, and a leading byte-order mark is
  not part of the text.

:class:`Positions` maps both ways through offsets into the document, so every position
going in (hover, completion) and out (diagnostics) is right whatever the text holds
before it on its line or on earlier ones.
"""

from __future__ import annotations

import re
from bisect import bisect_right

__all__ = ["Positions", "ENCODINGS"]

ENCODINGS = ("utf-8", "utf-16", "utf-32")
_LSP_BREAK = re.compile(r"\r\n|\r|\n")
_BOM = "\ufeff"


def _units_utf16(c: str) -> int:
    return 2 if ord(c) > 0xFFFF else 1


def _units_utf8(c: str) -> int:
    o = ord(c)  # a lone surrogate (JSON "\ud800") counts as its 3-byte form, never raises
    return 1 if o < 0x80 else 2 if o < 0x800 else 3 if o < 0x10000 else 4


_UNITS = {"utf-8": _units_utf8, "utf-16": _units_utf16, "utf-32": lambda c: 1}


class Positions:
    """One document's text (as the client sent it) and the position encoding in use."""

    def __init__(self, text: str, encoding: str = "utf-16"):
        self.text = text
        self.units = _UNITS.get(str(encoding), _units_utf16)
        self.bom = 1 if text.startswith(_BOM) else 0
        #: the text the front end reads (no byte-order mark)
        self.spec_text = text[self.bom :]
        self._lsp_starts = [0] + [m.end() for m in _LSP_BREAK.finditer(text)]
        self._lsp_ends = [m.start() for m in _LSP_BREAK.finditer(text)] + [len(text)]
        self._spec_starts = [0] + [i + 1 for i, c in enumerate(self.spec_text) if c == "\n"]

    # ------------------------------------------------------------------ client → specc
    def to_spec(self, line: int, character: int) -> tuple[int, int]:
        """An LSP position → (line, column) of the front end, both 0-based."""
        return self._spec_at(self._lsp_offset(line, character) - self.bom)

    def _lsp_offset(self, line: int, character: int) -> int:
        if line >= len(self._lsp_starts):
            return len(self.text)
        i, end = self._lsp_starts[line], self._lsp_ends[line]
        n = 0
        while i < end and n < character:  # past the line's end: the line's end (as LSP says)
            n += self.units(self.text[i])
            i += 1
        return i

    def _spec_at(self, offset: int) -> tuple[int, int]:
        offset = max(0, min(offset, len(self.spec_text)))
        line = bisect_right(self._spec_starts, offset) - 1
        return line, offset - self._spec_starts[line]

    # ------------------------------------------------------------------ specc → client
    def to_lsp(self, line: int, col: int) -> tuple[int, int]:
        """A front-end position, 1-based as spans are → (line, character) of LSP, 0-based."""
        return self._lsp_at(self._spec_offset(line - 1, col - 1) + self.bom)

    def _spec_offset(self, line: int, col: int) -> int:
        if line >= len(self._spec_starts):
            return len(self.spec_text)
        start = self._spec_starts[max(line, 0)]
        end = self._spec_starts[line + 1] - 1 if line + 1 < len(self._spec_starts) else len(self.spec_text)
        return start + max(0, min(col, end - start))

    def _lsp_at(self, offset: int) -> tuple[int, int]:
        line = bisect_right(self._lsp_starts, offset) - 1
        start = self._lsp_starts[line]
        offset = min(offset, self._lsp_ends[line])  # inside a \r\n: the line's end
        return line, sum(self.units(c) for c in self.text[start:offset])
