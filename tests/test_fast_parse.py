"""The fast parser (specc.syntax.fast_parse) returns exactly Lark's AST, or gives up.

Differential over every example spec, the selftest corpus, the benchmark shapes, hand-picked
edge cases (CRLF, BOM, form feeds, ``;``, tuples/groups/parentheses, unary minus, newlines
next to ``->`` and inside brackets, comments everywhere, literals at their bounds, nesting at
the bounds) and generated and mutated fuzz inputs: when the fast path returns, its AST equals
Lark's (type-strict, spans and comments included); it never returns for an input Lark rejects;
and it does return for every valid input here (so a fast path that always gave up would
fail).  The last tests plant wrong fast paths and show the check catches each.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from parse_diff import compare_parsers

from specc.errors import SpecError
from specc.syntax import fast_parse, parser

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import frontend  # noqa: E402
import frontend_mib  # noqa: E402
from fuzzing import corpus, mutate  # noqa: E402

SPECS = sorted((ROOT / "specs").glob("*.spec")) + sorted((ROOT / "specc" / "selftest" / "corpus").glob("*.spec"))
EXAMPLES = {p.name: p.read_text(encoding="utf-8") for p in SPECS}

M = "model m {{\n  input x: float32[4]\n{}\n}}\n"

#: valid specs the fast path must answer, each aimed at one rule
VALID = {
    "empty": "",
    "only comments": "# a\n\n# b\n",
    "empty model": "model m {}",
    "semicolons": "model m { input x: float32[4]; dense(3); ; dense(2) };\nblock b() { input x }",
    "form feed and cr": "model m {\f\n  input x:\rfloat32[4]\f\n\tdense(3)\r\n}",
    "tuple, group, parens": M.format(
        "  y = x -> dense(4)\n  (x, y) -> add\n  h = (x -> dense(4)) * 0.5 + y\n  k = (x) -> dense((4))\n"
        "  g = ((x -> relu)) -> dense((1 + 3) * 1)\n  q = ((h))\n  (h, k, g,q) -> concat"
    ),
    "unary minus": M.format(
        "  a = -x\n  b = - -x\n  c = x - -a\n  d = -(x - a) * -2 / 3\n  e = x -> -a\n"
        "  dense(-3)\n  dense(- -3)\n  dense(+3)\n  f(-2 ** 2, 2 ** -3 ** 2, -(1), +-1 // 2 % 3)"
    ),
    "expressions": M.format("  f(1 + 2 * 3 - 4 / 5 // 6 % 7 ** 8, [1, [2, 3,], []], (1), ((2 + 3)), a=b, c=\"s\", d=true, e=false,)"),
    "newlines in brackets": M.format("  dense(\n    16,\n    # why\n    activation = relu\n  )\n  f([\n 1,\n 2\n ], (\n 3\n ))"),
    "chains over lines": M.format("  h = x ->\n    dense(3)\n    -> relu  # r\n\n    # own line\n    -> dense(2)\n  x\n->\n\n dense(3)"),
    "numbers": M.format("  f(1_000, 007, 3., .5, 1e-3, 1.e5, 1E+5, 1e999, 9223372036854775807, 0, 1.5_0e10)\n  h = x * 1_0 + .5e1"),
    "strings": M.format('  f("a\\"b\\\\n\\u00e9\\U0001F600\\t\\0", "é ü 中", "", "#not a comment")  # é ✓'),
    "keywords inside names": M.format("  models = x -> inputs(asx, repeat_=trueish, falsey=verify_, trains=1)"),
    "blocks": "block b(n, drop=0.1, act=relu,) {\n  input x\n  x -> dense(n) -> dropout(drop)\n}\n\nblock c() { input x }\n" + M.format("  b(3)\n  c()"),
    "repeat": M.format("  repeat 2 as i {\n    dense(4 + i)  # t\n    repeat 1 { relu }\n  }\n  h = x -> repeat n * 2 { dense(2) } -> dense(3)\n  repeat 2 {  # c\n  }"),
    "sections": M.format(
        "  dense(2)\n  train {\n\n    # the loss\n    loss mse  # m\n    optimizer adam(lr=1e-3, betas=[0.9, 0.99])\n\n    epochs 3; batch -1\n  }\n"
        "  verify { rtol 1e-5 }\n  train {}"
    ),
    "outputs and targets": M.format("  a, b = x -> split(2)\n  output a, b\n  output a"),
    "input types": "model m {\n  input x: float32[?, 4, T,]\n  input y: int32[]\n  input z\n  input w: bool[ 1 , ? ]\n}",
    "comments": (
        "# head\n\n# about m\nmodel m {  # open\n  # lead\n\n  input x: float32[4]  # a\n  a = x; b = a  # on b\n"
        "  h = f(1,  # one\n    2)  # two\n  # end of body\n}\n# tail\n"
    ),
    "definitions": "model a {}\n\n\n;\nmodel b { }\n\r\n# x\nblock c() {}\n",
    "whitespace at the end": "model m { input x: float32[4] } \t\f\r",
    "whitespace only": " \t\f\r\n \r\n\f ",
    "no final newline": "model m { input x: float32[4]\n dense(3) }",
    "long one line": M.format("  h = x" + "".join(f" -> dense({i})" for i in range(300))),
}

#: inputs Lark rejects (the fast path must give up; Lark's error stands)
INVALID = {
    "two statements on a line": M.format("  dense(3) dense(4)"),
    "two models on a line": "model a {} model b {}",
    "integer too large": M.format("  dense(99999999999999999999)"),
    "dim too large": "model m { input x: float32[99999999999999999999] }",
    "bad escape": M.format('  f("\\q")'),
    "bad unicode escape": M.format('  f("\\ud800")'),
    "repeat in parentheses": M.format("  h = (repeat 2 { dense(2) })"),
    "repeat in a group": M.format("  h = (x -> repeat 2 { dense(2) })"),
    "brackets too deep": M.format("  f(" + "(" * 70 + "1" + ")" * 70 + ")"),
    "bodies too deep": M.format("  " + "repeat 1 { " * 40 + "relu" + " }" * 40),
    "string in a chain": M.format('  h = "s"'),
    "bad character": M.format("  dense(3) $"),
    "unicode name": M.format("  dénse(3)"),
    "vertical tab": M.format("  dense(3)\v"),
    "double comma": M.format("  dense(3,,)"),
    "one-tuple": M.format("  (a,) -> add"),
    "call in a tuple": M.format("  (a, f(x)) -> add"),
    "float dim": "model m { input x: float32[1.5] }",
    "keyword as name": "model model {}",
    "keyword as layer": M.format("  x -> input"),
    "newline after =": M.format("  h =\n  dense(3)"),
    "newline before brace": M.format("  repeat 3\n  { dense(2) }"),
    "plus in a chain": M.format("  h = +x"),
    "floor division in a chain": M.format("  h = x // 2"),
    "unclosed": "model m { dense(3)",
    "stray brace": "model m { } }",
    "as without name": M.format("  repeat 2 as { relu }"),
    "list in a chain": M.format("  h = [x]"),
    "setting without value": M.format("  train { loss }"),
    "true in a chain": M.format("  h = true"),
    "1e": M.format("  dense(1e)"),
    "1__0": M.format("  dense(1__0)"),
}


def _deep_sum(n: int) -> str:
    return M.format("  dense(" + " + ".join(["1"] * n) + ")")


def _deep_neg(n: int) -> str:
    return M.format("  h = " + "-" * n + "x")


def _problems(texts, *, require_fast: bool) -> list[str]:
    out = []
    for name, text in texts:
        c = compare_parsers(text)
        if c.problem:
            out.append(f"{name}: {c.problem}")
        elif require_fast and c.lark_valid and not c.fast_used:
            out.append(f"{name}: valid, but the fast path gave up")
    return out


def _valid_corpus():
    yield from EXAMPLES.items()
    for name, text in EXAMPLES.items():
        yield f"{name} (CRLF)", text.replace("\n", "\r\n")
        yield f"{name} (BOM)", b"\xef\xbb\xbf" + text.encode("utf-8")
        yield f"{name} (blanks at the end)", text.rstrip("\n") + " \t\f\r"
    for shape in frontend.SHAPES.values():
        yield f"frontend {shape.__name__}", shape(300)
    for name, shape in frontend_mib.SHAPES.items():
        yield f"frontend_mib {name}", shape(20_000)
    yield from VALID.items()


def test_fast_path_equals_lark_on_valid_specs():
    assert not _problems(_valid_corpus(), require_fast=True)


def test_valid_cases_really_are_valid():
    # the hand-picked valid inputs must be Lark-valid (else they would test nothing)
    for name, text in VALID.items():
        assert compare_parsers(text).lark_valid, name


@pytest.mark.parametrize("name", sorted(INVALID))
def test_fast_path_gives_up_on_what_lark_rejects(name):
    text = INVALID[name]
    c = compare_parsers(text)
    assert not c.lark_valid and not c.fast_used and c.ok, (name, c)
    # and parse() reports Lark's located error, as SPECC_PARSER=lark does
    with pytest.raises(SpecError) as fast_err:
        parser.parse(text, "f.spec")
    with pytest.raises(SpecError) as lark_err:
        parser.parse_lark(text, "f.spec")
    assert fast_err.value.render() == lark_err.value.render()


def test_nesting_beyond_the_fast_paths_bound_goes_to_lark():
    h = fast_parse.MAX_HEIGHT
    for text in (_deep_sum(h - 2), _deep_neg(h - 2)):
        c = compare_parsers(text)
        assert c.ok and c.lark_valid and c.fast_used
    for text in (_deep_sum(h + 5), _deep_neg(h + 5), _deep_sum(3000), _deep_neg(3000)):
        c = compare_parsers(text)
        assert c.ok and not c.fast_used  # Lark decides: a tree or "nested too deeply"
    # the deepest tree the fast path builds (every body and bracket bound reached, the
    # deepest expression inside) is one Lark's tree transformer handles too
    inner = "f(" * 60 + " + ".join(["1"] * 10) + ")" * 60
    text = M.format("  " + "repeat 1 { " * 31 + f"dense({inner})" + " }" * 31)
    c = compare_parsers(text)
    assert c.ok and c.lark_valid, c


def test_fuzz_inputs():
    texts = list(corpus(900, seed=4))
    rng = random.Random(5)
    texts += [("mutated edge case", mutate(rng.choice(list(VALID.values())), rng)) for _ in range(400)]
    problems = _problems(texts, require_fast=True)
    assert not problems, problems[:3]
    used = sum(compare_parsers(t).fast_used for _, t in texts[:150])
    assert used > 30  # the generated third is mostly valid


def test_tokenizer_follows_the_grammar():
    """The tokenizer's terminals are the grammar's: each regex terminal's pattern (groups made
    non-capturing), every keyword, every punctuation string — so a grammar change that the
    fast path does not follow fails here, not only in the differential tests."""
    import re

    from specc.syntax import fast_lex

    grammar = parser.grammar_path().read_text(encoding="utf-8")
    for name in ("NAME", "INT", "FLOAT", "STRING", "COMMENT", "_NL"):
        (pattern,) = re.findall(rf"^{name}(?:\.\d+)?: /(.*)/$", grammar, re.M)
        assert pattern.replace("(", "(?:") in fast_lex._PIECES.pattern, name
    strings = set(re.findall(r'"([^"\s]+)"', re.sub(r"(?m)^(//.*|[A-Z_]+(\.\d)?: .*)$", "", grammar)))
    words = {s for s in strings if re.fullmatch(r"[A-Za-z_]\w*", s)}
    assert words == fast_lex._KEYWORDS
    assert set(fast_lex._PUNCT) == strings - words
    for token in strings:  # each read whole, as one token
        assert fast_lex._PIECES.fullmatch(token).group(2) == token, token
    assert re.search(r"%ignore /\[ \\t\\f\\r\]\+/", grammar)


# ------------------------------------------------------------------ the switch, the wiring


def test_parse_uses_the_fast_path(monkeypatch):
    def no_lark(*a, **k):
        raise AssertionError("Lark ran")

    monkeypatch.setattr(parser, "parse_lark", no_lark)
    for text in EXAMPLES.values():
        parser.parse(text, "f.spec")


def test_specc_parser_lark_forces_the_reference_path(monkeypatch):
    def no_fast(*a, **k):
        raise AssertionError("the fast path ran")

    monkeypatch.setattr(parser, "parse_fast", no_fast)
    monkeypatch.setenv(parser.PARSER_ENV, "lark")
    text = EXAMPLES["mlp_binary.spec"]
    assert parser.parse(text, "f.spec") == parser.parse_lark(text, "f.spec")


def test_the_fast_path_does_not_import_lark():
    code = (
        "import sys\nfrom specc.syntax.parser import parse\n"
        "parse(open(sys.argv[1]).read())\nassert not [m for m in sys.modules if m.startswith('lark')], 'lark imported'"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop(parser.PARSER_ENV, None)
    r = subprocess.run([sys.executable, "-c", code, str(ROOT / "specs" / "mlp_binary.spec")], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


# ------------------------------------------------------------------ the check can fail


def _wrong_corpus():
    return list(EXAMPLES.items()) + list(VALID.items())


def test_check_catches_a_wrong_span(monkeypatch):
    real = fast_parse._Parser.tspan

    def off_by_one(self, i):
        s = real(self, i)
        return type(s)(s.file, s.line, s.col, s.end_line, s.end_col + (self.v[i] == "relu"))

    monkeypatch.setattr(fast_parse._Parser, "tspan", off_by_one)
    assert _problems(_wrong_corpus(), require_fast=True)


def test_check_catches_a_wrong_operator(monkeypatch):
    real = fast_parse._Parser.sum

    def swapped(self):
        node, outer, h = real(self)
        if getattr(node, "op", None) == "-":
            node.op = "+"
        return node, outer, h

    monkeypatch.setattr(fast_parse._Parser, "sum", swapped)
    assert _problems([("minus", M.format("  f(3 - 1)"))], require_fast=False)


def test_check_catches_a_misplaced_comment(monkeypatch):
    real = fast_parse.parse_fast

    def shifted(*a, **k):
        r = real(*a, **k)
        return r and (r[0], [(line + 1, text) for line, text in r[1]])

    monkeypatch.setattr("parse_diff.parse_fast", shifted)
    assert _problems([("comments", VALID["comments"])], require_fast=False)


def test_check_catches_accepting_an_invalid_spec(monkeypatch):
    real = fast_parse._Parser.seps

    def lenient(self):  # as if statements needed no separator
        real(self)
        return True

    monkeypatch.setattr(fast_parse._Parser, "seps", lenient)
    assert _problems([("two", INVALID["two statements on a line"])], require_fast=False)


def test_check_catches_a_fast_path_that_always_gives_up(monkeypatch):
    monkeypatch.setattr("parse_diff.parse_fast", lambda *a, **k: None)
    assert _problems(list(EXAMPLES.items())[:2], require_fast=True)
