"""Positions over the protocol: LSP columns count UTF-16 code units (or the encoding the
client negotiated) and LSP lines end at \\n, \\r\\n or \\r, while specc counts code points
and lines at \\n.  Text before a position — a non-BMP character (two UTF-16 units, four
UTF-8 bytes), BMP non-ASCII (one unit, two or three bytes), a lone \\r, a byte-order mark —
on its line or on earlier ones must not move diagnostics, hover or completion."""

from __future__ import annotations

import random
import re

import pytest

pytest.importorskip("pygls")

from tests.lsp_client import start  # noqa: E402

# line 0 and 1: non-BMP and BMP non-ASCII text in comments (earlier lines); line 2: a
# comment holding a lone \r, which LSP counts as a line break (specc: white space in a
# comment), so everything after it is one LSP line further down; line 4: a string with
# non-BMP and BMP characters before the positions on the same line.
TEXT = (
    "model m {  # ünïcödé 😀 中文 𝔁\n"
    "  input x: float32[8]  # 😀😀 é\n"
    "  # an old Mac line break:\r here\n"
    "  h = x -> dense(16)\n"
    '  y = h -> dense(4, name="😀𝔁é") -> dense(3, activaton=relu) -> dense(2)\n'
    "}\n"
)


def units(s: str, encoding: str) -> int:
    return {"utf-16": len(s.encode("utf-16-le")) // 2, "utf-8": len(s.encode()), "utf-32": len(s)}[encoding]


def lsp_position(text: str, needle: str, encoding: str, nth: int = 0, after: int = 0) -> tuple[int, int]:
    """Where the ``nth`` ``needle`` (+ ``after`` characters) is, as LSP counts it: lines
    split at \\n, \\r\\n, \\r; the column in ``encoding``'s code units."""
    offset = [m.start() for m in re.finditer(re.escape(needle), text)][nth] + after
    lines = re.split(r"\r\n|\r|\n", text[:offset])
    return len(lines) - 1, units(lines[-1], encoding)


@pytest.fixture(scope="module", params=["utf-16", "utf-8", "utf-32"])
def session(request):
    """A client offering no encoding (so UTF-16, LSP's default), and clients negotiating
    UTF-8 and UTF-32 (code points)."""
    caps = {} if request.param == "utf-16" else {"general": {"positionEncodings": [request.param, "utf-16"]}}
    c, server_caps = start(caps)
    assert server_caps.get("positionEncoding", "utf-16") == request.param
    yield c, request.param
    c.close()


#: the text with and without its lone \r: each shift is tested on its own
VARIANTS = {"lone-cr": TEXT, "newlines": TEXT.replace("\r", "")}


@pytest.mark.parametrize("variant", VARIANTS)
def test_diagnostics_are_where_check_says_in_client_units(session, variant):
    c, enc = session
    TEXT = VARIANTS[variant]
    uri = f"file:///tmp/specc-lsp-test/positions-{enc}-{variant}.spec"
    diags = c.open(uri, TEXT)
    by_message = {d["message"].split("\n")[0]: d["range"] for d in diags}
    name = next(r for m, r in by_message.items() if "is not a valid layer" in m)
    assert (name["start"]["line"], name["start"]["character"]) == lsp_position(TEXT, '"😀𝔁é"', enc)
    assert (name["end"]["line"], name["end"]["character"]) == lsp_position(TEXT, '"😀𝔁é"', enc, after=len('"😀𝔁é"'))
    typo = by_message["dense has no parameter 'activaton'"]
    assert (typo["start"]["line"], typo["start"]["character"]) == lsp_position(TEXT, "activaton", enc)
    assert (typo["end"]["line"], typo["end"]["character"]) == lsp_position(TEXT, "activaton=relu", enc, after=len("activaton=relu"))


@pytest.mark.parametrize("variant", VARIANTS)
def test_hover_and_completion_at_client_positions(session, variant):
    c, enc = session
    TEXT = VARIANTS[variant]
    uri = f"file:///tmp/specc-lsp-test/positions-{enc}-{variant}-2.spec"
    good = TEXT.replace(', name="😀𝔁é"', "").replace("activaton", "activation")
    assert c.open(uri, good) == []
    # a layer after earlier lines with non-BMP text and a lone \r: its shape
    line, col = lsp_position(good, "dense(16)", enc, after=4)
    assert "[batch, 16]" in c.hover(uri, line, col)
    line, col = lsp_position(good, "dense(2)", enc, after=len("dense(2)") - 1)  # at its ')'
    assert "[batch, 2]" in c.hover(uri, line, col)


@pytest.mark.parametrize("variant", VARIANTS)
def test_hover_and_completion_after_a_string_on_the_same_line(session, variant):
    c, enc = session
    uri = f"file:///tmp/specc-lsp-test/positions-{enc}-{variant}-3.spec"
    # after a string with non-BMP characters (the text does not check: the vocabulary
    # word's parameters); its last letter and the arrow before it
    bad = VARIANTS[variant].replace("activaton", "activation")
    c.open(uri, bad)
    line, col = lsp_position(bad, "dense(3", enc, after=4)
    assert "**dense** (layer)" in c.hover(uri, line, col)
    # the reply's range: the word, in the client's units
    h = c.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": line, "character": col}})
    start, end = lsp_position(bad, "dense(3", enc), lsp_position(bad, "dense(3", enc, after=5)
    assert h["range"] == {"start": {"line": start[0], "character": start[1]}, "end": {"line": end[0], "character": end[1]}}
    line, col = lsp_position(bad, "> dense(3", enc)  # the arrow: nothing to say
    assert c.hover(uri, line, col) is None
    # completion inside the call after the string: the activations after `activation=`
    typing = bad.replace("activation=relu", "activation=")
    c.change(uri, typing, 2)
    line, col = lsp_position(typing, "=) -> dense(2)", enc, after=1)
    labels = c.completion(uri, line, col)
    assert {"relu", "gelu"} <= labels and "dense" not in labels


def test_a_byte_order_mark_counts_for_the_client_not_for_specc(session):
    c, enc = session
    uri = f"file:///tmp/specc-lsp-test/positions-{enc}-bom.spec"
    # a byte-order mark (some editors keep it in the text): one UTF-16 unit, three UTF-8
    # bytes before line 0's text, which specc does not count
    bom = "\ufeffmodel m { input x: float32[4]; dense(3, activaton=relu) }\n"
    (d,) = c.open(uri, bom)
    assert (d["range"]["start"]["line"], d["range"]["start"]["character"]) == lsp_position(bom, "activaton", enc)
    line, col = lsp_position(bom, "dense", enc, after=4)
    assert "**dense** (layer)" in c.hover(uri, line, col)


def test_positions_map_both_ways_on_any_text():
    """:class:`Positions` against an independent count: for every code-point offset of
    random texts mixing ASCII, BMP, non-BMP characters and every line break."""
    from specc.lsp.positions import Positions

    rng = random.Random(7)
    alphabet = ["a", " ", "é", "中", "😀", "𝔁", "\n", "\r\n", "\r", "\u2028", "\t"]
    for _ in range(200):
        text = ("\ufeff" if rng.random() < 0.2 else "") + "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 30)))
        bom = 1 if text.startswith("\ufeff") else 0
        spec = text[bom:]
        for enc in ("utf-16", "utf-8", "utf-32"):
            p = Positions(text, enc)
            assert p.spec_text == spec
            for off in range(len(spec) + 1):
                if spec[off - 1 : off + 1] == "\r\n":
                    continue  # between \r and \n: no LSP position there
                spec_lines = spec[:off].split("\n")
                sl, sc = len(spec_lines) - 1, len(spec_lines[-1])
                lsp_lines = re.split(r"\r\n|\r|\n", text[: off + bom])
                expected = (len(lsp_lines) - 1, units(lsp_lines[-1], enc))
                assert p.to_lsp(sl + 1, sc + 1) == expected, (text, enc, off)
                assert p.to_spec(*expected) == (sl, sc), (text, enc, off)
            # past a line's end: the line's end; past the last line: the text's end
            first = re.split(r"\r\n|\r|\n", text)[0]
            assert p.to_spec(0, 10_000) == (0, max(len(first) - bom, 0))
            assert p.to_spec(10_000, 0) == (spec.count("\n"), len(spec.split("\n")[-1]))
