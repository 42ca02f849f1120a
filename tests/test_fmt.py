"""``specc fmt``: canonical, idempotent, meaning-preserving, keeps comments; ``--write``
rewrites atomically and ``--check`` reports a diff."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import specc
from specc.cli import main as cli_main
from specc.syntax.format import format_source
from specc.syntax.parser import _lark

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.spec"))
EXTRA = """# everything the language has, for the formatter
block res(c, k=c * 2, drop=0.1) {
  input x
  y = x -> dense(k, activation=leaky_relu(0.2)) -> dense(c) -> dropout(drop)
  (x, y) -> add -> layer_norm
}

block mix(n) {
  input a
  input b
  (a, b) -> concat(axis=-1) -> dense(n, name="out")
}

model everything {
  input x: float32[?, 8]
  input s: float32[T, 8]

  a = x -> dense(8, activation=relu, init=he_normal, reg=l2(1e-4)) -> dense(8)
  b = a -> res(8)
  repeat 3 as i {
    dense(2 ** (i + 1) * 4 // 2)
    dropout(0.1 * (i + 1) / 2)
  }
  r = dense(8)
  c = (a, r) -> mix(-(-8))
  out, h, st = s -> lstm(8, return_state=true)
  o2 = (b, c) -> mix(4)
  output o2, out, h

  train {
    loss mse
    optimizer adam(lr=1e-3, clip_norm=1.0)
    schedule cosine(decay_steps=100, warmup_steps=10)
    metrics [mae]
    batch 16
  }
  verify {
    rtol 1e-3
    steps 2
  }
}
"""
SOURCES = {p.name: p.read_text() for p in SPECS} | {"everything.spec": EXTRA}


def fmt(text: str) -> str:
    return format_source(text, "f.spec")


# --------------------------------------------------------------------------- the example specs


def test_there_are_example_specs():
    assert len(SPECS) >= 7


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_example_specs_are_canonical_and_fmt_is_idempotent(name):
    text = SOURCES[name]
    assert fmt(text) == text
    assert fmt(fmt(text)) == fmt(text)


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_fmt_keeps_every_comment_of_the_examples(name):
    text = SOURCES[name]
    comments = [line.split("#", 1)[1].strip() for line in text.splitlines() if "#" in line]
    out = fmt(text)
    assert comments and all(f"# {c}" in out for c in comments)


def test_canonical_form_of_a_messy_spec():
    messy = (
        "# head\n\n\n"
        "model   m{input x:float32[ ? ,8 ]  # the input\n"
        "a=x->dense( 4 ,activation = relu );b = a\n"
        "      -> dense(2,)\n\n\n\n"
        "   # about the output\n"
        "output b\n"
        "train{loss mse;optimizer sgd(lr = .1)\n"
        "  }\n"
        "}"
    )
    assert fmt(messy) == (
        "# head\n"
        "\n"
        "model m {\n"
        "  input x: float32[?, 8]  # the input\n"
        "  a = x -> dense(4, activation=relu)\n"
        "  b = a -> dense(2)\n"
        "\n"
        "  # about the output\n"
        "  output b\n"
        "  train {\n"
        "    loss mse\n"
        "    optimizer sgd(lr=.1)\n"
        "  }\n"
        "}\n"
    )
    assert specc.loads(fmt(messy)) == specc.loads(messy)


@pytest.mark.parametrize(
    ("src", "want"),
    [
        # an end-of-line comment belongs to what ends the line
        ("model m { input x: float32[4]; dense(3)  # d\n}", "model m {\n  input x: float32[4]\n  dense(3)  # d\n}\n"),
        (
            "model m { input x: float32[4]; repeat 2 {  # r\n dense(3) } }",
            "model m {\n  input x: float32[4]\n  repeat 2 {  # r\n    dense(3)\n  }\n}\n",
        ),
        (
            "model m {\n  input x: float32[4]\n  dense(3,  # a\n    activation=relu  # b\n  )  # c\n}\n",
            "model m {\n  input x: float32[4]\n  # a\n  # b\n  dense(3, activation=relu)  # c\n}\n",
        ),
        (
            "# top\n\n\n# about m\nmodel m {\n  input x: float32[4]\n  # c1\n\n  # c2\n\n\n  dense(3)\n}\n# end\n",
            "# top\n\n# about m\nmodel m {\n  input x: float32[4]\n  # c1\n\n  # c2\n\n  dense(3)\n}\n\n# end\n",
        ),
    ],
)
def test_comment_placement(src, want):
    assert fmt(src) == want
    assert fmt(want) == want


def test_long_chains_are_split_before_each_arrow():
    layers = " -> ".join(f"dense({n}, activation=relu)" for n in (128, 64, 32, 16))
    out = fmt(f"model m {{\n  input x: float32[8]\n  y = x -> {layers}\n}}\n")
    assert out == (
        "model m {\n"
        "  input x: float32[8]\n"
        "  y = x\n"
        "      -> dense(128, activation=relu)\n"
        "      -> dense(64, activation=relu)\n"
        "      -> dense(32, activation=relu)\n"
        "      -> dense(16, activation=relu)\n"
        "}\n"
    )
    assert fmt(out) == out


def test_parentheses_only_where_needed():
    src = "model m {\n  input x: float32[8]\n  dense(((2 * 3)) + (4 // (1 + 1)) - (2 ** (3 ** 1)) + (-1) ** 2 + -(1 - 3) - (-1))\n}\n"
    out = fmt(src)
    assert "dense(2 * 3 + 4 // (1 + 1) - 2 ** 3 ** 1 + (-1) ** 2 + -(1 - 3) - -1)" in out
    assert specc.loads(out) == specc.loads(src)
    assert specc.loads(out).nodes[0].op.units == 4


def test_line_numbers_count_newlines_only():
    # form feeds and U+2028 in comments are not line breaks: errors point at the right line,
    # and fmt keeps blank lines where they are
    src = "model m {\n  input x: float32[4]  # a\x0cb\u2028c\x85d\n\n  dense(3)\n  relu\n}\n"
    assert fmt(src) == src
    with pytest.raises(specc.SpecError) as e:
        specc.loads(src.replace("relu", "rellu"))
    assert e.value.render().splitlines()[:2] == ["<string>:5:3: error: unknown layer or tensor 'rellu'", "    5 |   rellu"]


def test_strings_are_written_back_escaped():
    src = 'model m {\n  input x: float32[8]\n  dense(3, name="a\\"b\\\\c\\t\\u00e9")\n}\n'
    assert 'name="a\\"b\\\\c\\té")' in fmt(src)


# --------------------------------------------------------------------------- generated variations

_WORDY = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.\"")
_SAFE_TIGHT = set("(),[]{};:=")


def _tokens(text: str) -> list:
    """The post-lexed tokens (newlines only where a statement ends; comments dropped)."""
    return list(_lark().lex(text))


@st.composite
def variations(draw, text: str):
    """``text`` rewritten with random layout: spaces/tabs, blank lines, own-line and trailing
    comments, ';' for newlines, multi-line argument lists and chains split before or after
    '->'.  Returns (variant, comments it added)."""
    toks = _tokens(text)
    out: list[str] = []
    comments: list[str] = []
    depth = 0

    def comment() -> str:
        odd = draw(st.sampled_from(["", "x", "a -> b", "}{", ";", "a\x0cb", "\u2028x", "é\tü", '"']))
        c = f"note {len(comments)}: #{odd}."
        comments.append(c)
        return f"# {c}"

    for i, tok in enumerate(toks):
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if tok.type == "_NL":
            choice = draw(st.sampled_from(["nl", "nl", "blank", "semi", "own", "trail"]))
            if choice == "nl":
                out.append("\n")
            elif choice == "blank":
                out.append("\n" * draw(st.integers(2, 4)))
            elif choice == "semi":
                out.append(draw(st.sampled_from([";", "; ", " ; ", ";;"])))
            elif choice == "own":
                out.append("\n" + " " * draw(st.integers(0, 6)) + comment() + "\n")
            else:
                out.append("  " + comment() + "\n")
            out.append(draw(st.sampled_from(["", "  ", "\t", "    "])))
            continue
        out.append(str(tok.value))
        if tok.value in ("(", "["):
            depth += 1
        elif tok.value in (")", "]"):
            depth -= 1
        if nxt is None or nxt.type == "_NL":
            continue
        if tok.value == "->" and draw(st.booleans()):  # a trailing arrow continues the chain
            out.append("\n      " if draw(st.booleans()) else "  " + comment() + "\n    ")
        elif nxt.value == "->" and draw(st.booleans()):  # so does a leading one
            out.append("\n    " if draw(st.booleans()) else "  " + comment() + "\n  ")
        elif depth > 0 and (tok.value in ("(", ",", "[") or nxt.value in (")", "]")) and draw(st.booleans()):
            kind = draw(st.sampled_from(["nl", "comment", "blank"]))
            out.append({"nl": "\n      ", "blank": "\n\n"}.get(kind) or "  " + comment() + "\n  ")
        elif str(tok.value)[-1] in _SAFE_TIGHT or str(nxt.value)[0] in _SAFE_TIGHT:
            out.append(draw(st.sampled_from(["", " ", "  ", "\t"])))
        else:
            out.append(draw(st.sampled_from([" ", "  ", " \t "])))
    return "".join(out), comments


@pytest.mark.parametrize("name", sorted(SOURCES))
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fmt_preserves_meaning_of_layout_variations(name, data):
    text = SOURCES[name]
    variant, added = data.draw(variations(text))
    want = specc.loads(text, name)
    assert specc.loads(variant, name) == want  # the variation means the same …
    out = fmt(variant)
    assert specc.loads(out, name) == want  # … so does its canonical form …
    assert fmt(out) == out  # … which is a fixed point
    assert all(f"# {c}" in out for c in added)  # and every comment survives
    assert all(line == line.rstrip() for line in out.split("\n"))
    assert out.endswith("\n") and not out.endswith("\n\n")


def test_variations_really_vary():
    # the strategy is not a no-op: a fixed draw produces a different text with the same IR
    text = SOURCES["everything.spec"]
    seen = set()

    @settings(max_examples=10, deadline=None, derandomize=True)
    @given(data=st.data())
    def collect(data):
        variant, _ = data.draw(variations(text))
        seen.add(variant)

    collect()
    assert len(seen) >= 5 and any(v != text for v in seen)


def test_ir_equality_ignores_positions_but_not_meaning():
    a = specc.loads("model m {\n  input x: float32[8]\n  dense(4)\n}\n")
    b = specc.loads("\n\nmodel m { input x: float32[8]; dense(4) }")
    c = specc.loads("model m {\n  input x: float32[8]\n  dense(5)\n}\n")
    assert a == b and a.nodes[0].span != b.nodes[0].span
    assert a != c


# --------------------------------------------------------------------------- the command


def run_fmt(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "specc", "fmt", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


MESSY = "model m { input x: float32[4]; dense(3)  # hidden\n}"
CANON = "model m {\n  input x: float32[4]\n  dense(3)  # hidden\n}\n"


def snapshot(folder: Path) -> dict[str, tuple[bytes, int, int, int]]:
    out = {}
    for p in sorted(folder.iterdir()):
        st_ = p.stat()
        out[p.name] = (p.read_bytes(), st_.st_mtime_ns, st_.st_ino, st_.st_mode)
    return out


def test_fmt_prints_the_canonical_form(tmp_path):
    (tmp_path / "a.spec").write_text(MESSY)
    r = run_fmt("a.spec", cwd=tmp_path)
    assert (r.returncode, r.stdout, r.stderr) == (0, CANON, "")
    assert (tmp_path / "a.spec").read_text() == MESSY  # printing does not write


def test_fmt_write_rewrites_atomically_and_touches_nothing_else(tmp_path):
    (tmp_path / "a.spec").write_text(MESSY)
    (tmp_path / "b.spec").write_text(CANON)
    (tmp_path / "notes.txt").write_text("not a spec")
    os.chmod(tmp_path / "a.spec", 0o640)
    before = snapshot(tmp_path)

    r = run_fmt("--write", "a.spec", "b.spec", cwd=tmp_path)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "formatted a.spec\n")
    after = snapshot(tmp_path)
    assert sorted(after) == ["a.spec", "b.spec", "notes.txt"]  # no temporary file left behind
    assert after["a.spec"][0] == CANON.encode()
    assert after["a.spec"][2] != before["a.spec"][2]  # a new inode: written aside, then renamed over
    assert after["a.spec"][3] == before["a.spec"][3]  # permissions kept
    assert after["b.spec"] == before["b.spec"]  # already canonical: not rewritten at all
    assert after["notes.txt"] == before["notes.txt"]

    again = run_fmt("--write", "a.spec", cwd=tmp_path)
    assert (again.returncode, again.stderr) == (0, "")
    assert snapshot(tmp_path) == after


def test_fmt_write_leaves_a_file_with_errors_alone(tmp_path):
    bad = tmp_path / "bad.spec"
    bad.write_text("model m {\n  dense(3\n}\n")
    before = snapshot(tmp_path)
    r = run_fmt("--write", "bad.spec", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.startswith("bad.spec:2:8: error: this '(' is not closed\n")
    assert snapshot(tmp_path) == before


def test_fmt_write_failure_keeps_the_original_and_no_temp_file(tmp_path, monkeypatch, capsys):
    target = tmp_path / "a.spec"
    target.write_text(MESSY)

    def broken_replace(src, dst):  # the disk fills up at the last moment
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    rc = cli_main(["fmt", "--write", str(target)])
    assert rc == 2  # the environment, said plainly: not an internal error
    assert f"cannot write {target}: No space left on device" in capsys.readouterr().err
    assert target.read_text() == MESSY
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.spec"]


def test_fmt_check(tmp_path):
    (tmp_path / "a.spec").write_text(MESSY)
    (tmp_path / "b.spec").write_text(CANON)
    r = run_fmt("--check", "a.spec", "b.spec", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stdout.startswith("--- a.spec\n+++ a.spec (formatted)\n@@ ")
    assert "-model m { input x: float32[4]; dense(3)  # hidden\n" in r.stdout
    assert "-}\n\\ No newline at end of file\n+model m {\n" in r.stdout
    assert "+  input x: float32[4]\n" in r.stdout
    assert "b.spec" not in r.stdout
    assert (tmp_path / "a.spec").read_text() == MESSY  # --check never writes

    ok = run_fmt("--check", "b.spec", cwd=tmp_path)
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "", "")


def test_fmt_check_of_the_example_specs():
    r = run_fmt("--check", *[str(p) for p in SPECS], cwd=ROOT)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


def test_fmt_usage_errors_exit_2(tmp_path):
    r = run_fmt("--check", "--write", "a.spec", cwd=tmp_path)
    assert r.returncode == 2
    assert "not allowed with argument" in r.stderr
