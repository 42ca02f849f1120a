"""Budgets checked before the work (issue 10): the size of an expansion is computed before
expanding it, parameter and activation sizes at check; errors render in linear time; the
inputs that used to end in "internal error" (exit 3) get located errors; and the fuzz
corpus never reaches exit 3."""

from __future__ import annotations

import io
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

import specc
from specc.errors import MAX_SHOWN, SpecError, UsageError
from specc.semantics.budget import DEFAULT_MAX_NODES, Limits

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import fuzzing  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
BLOCK = "block b(n) {\n  input x\n  dense(n)\n}\n"


def errors(text: str, limits: Limits | None = None) -> list:
    with pytest.raises(SpecError) as e:
        specc.loads(text, "t.spec", limits=limits)
    return e.value.diagnostics


def model(body: str, inputs: str = "input x: float32[4]", blocks: str = "") -> str:
    return f"{blocks}model m {{\n  {inputs}\n{body}\n}}\n"


# --------------------------------------------------------------------------- former exit-3 paths


@pytest.mark.parametrize(
    "body",
    [
        "  dense(-1)\n  repeat 2 { b(3) }",  # the example: no input for a repeat of a block
        "  dense(-1)\n  repeat 2 { dense(2) }",
        "  dense(-1)\n  repeat 2 as i { b(i + 1) }",
        "  dense(-1)\n  b(3)",
        "  h = dense(-1)\n  h -> repeat 3 { repeat 2 { b(2) } }",
        "  dense(-1) -> repeat 2 { b(3) } -> dense(2)",
    ],
)
def test_a_repeat_or_block_after_an_error_reports_the_error(body):
    diags = errors(model(body, blocks=BLOCK))
    assert diags[0].span.line == 7 and "greater than 0" in diags[0].message
    for d in diags:
        assert d.span is not None


def test_errors_inside_a_repeat_without_input_are_still_reported():
    diags = errors(model("  dense(-1)\n  repeat 2 { dense(-2) }"))
    assert [d.span.line for d in diags] == [3, 4]  # once, not once per repetition


# --------------------------------------------------------------------------- expansion budget


def nested(levels: int) -> str:
    return "  " + "repeat 2 { " * levels + "dense(1)" + " }" * levels


def test_nested_repeats_are_sized_before_they_are_expanded():
    (d,) = errors(model(nested(30)))
    assert (d.span.line, d.span.col) == (3, 3)  # the outermost repeat
    assert d.message == f"this repeat expands to {2 * (2**30 - 1) + 2**30:,} layers and repetitions, more than the budget of {DEFAULT_MAX_NODES:,}"
    assert "--max-nodes" in d.hint and "SPECC_MAX_NODES" in d.hint


def test_block_fan_out_is_sized_before_it_is_expanded():
    blocks = "".join(f"block b{i + 1}() {{\n  input x\n  b{i}()\n  b{i}()\n}}\n" for i in range(40)).replace("b0()", "dense(1)")
    (d,) = errors(model("  b40()", blocks=blocks))
    assert d.message.startswith("this call of block 'b40' expands to ")
    assert int(d.message.split("expands to ")[1].split()[0].replace(",", "")) > 2**40


def test_empty_bodies_repeated_count_too():
    (d,) = errors(model("  dense(2)\n  repeat 1000 { repeat 1000 { } }"))
    assert "this repeat expands to 1,001,000 " in d.message


def test_repeats_whose_count_depends_on_the_loop_variable():
    # sum over i of (i + 1) repetitions of 2 units, plus the outer repetitions
    text = model("  repeat 600 as i {\n    repeat i + 1 { dense(1) }\n  }")
    (d,) = errors(text)
    assert d.span.line == 3 and "this repeat expands to" in d.message
    ok = model("  repeat 20 as i {\n    repeat i + 1 { dense(1) }\n  }")
    assert len(specc.loads(ok).nodes) == sum(range(1, 21))


@pytest.mark.parametrize(
    "body, size",
    [
        # a loop variable the body reads: counted repetition by repetition until past the budget
        ("  repeat 100 as i { dense(i + 1) }", 46),
        ("  repeat 30 as i { dense(i + 1); x = relu }", 48),
        ("  repeat 10 as i { repeat 3 { dense(i+1) } }", 49),
        # none read, or no variable: every repetition counted at once
        ("  repeat 100 as i { dense(1) }", 200),
        ("  repeat 100 { dense(1) }", 200),
    ],
)
def test_repeats_of_one_size_count_as_the_loop_does(body, size):
    (d,) = errors(model(body), Limits(max_nodes=45))
    assert d.message == f"this repeat expands to {size} layers and repetitions, more than the budget of 45"
    assert len(specc.loads(model(body)).nodes) > 0


def test_the_budget_is_configurable_by_argument_and_environment(monkeypatch):
    text = model(nested(4))  # 16 layers, 30 repetitions
    assert len(specc.loads(text).nodes) == 16
    assert specc.loads(text, limits=Limits(max_nodes=46)) is not None
    (d,) = errors(text, Limits(max_nodes=45))
    assert d.message == "this repeat expands to 46 layers and repetitions, more than the budget of 45"
    monkeypatch.setenv("SPECC_MAX_NODES", "45")
    assert errors(text)[0].message == d.message
    monkeypatch.setenv("SPECC_MAX_NODES", "lots")
    with pytest.raises(UsageError, match="SPECC_MAX_NODES='lots' is not a positive integer"):
        specc.loads(text)
    with pytest.raises(UsageError):
        Limits(max_nodes=0)


def test_the_size_is_an_exact_count_of_what_is_expanded():
    from specc.semantics.budget import expansion_size
    from specc.semantics.elaborate import _Elaborator
    from specc.syntax.parser import parse

    blocks = "block r(c) {\n  input x\n  y = x -> dense(c)\n  (x, y) -> add\n}\nblock two() {\n  input x\n  r(4)\n  repeat 2 { r(4) }\n}\n"
    text = model("  dense(4)\n  repeat 3 as i { two() }\n  repeat 2 { dense(4); relu }", blocks=blocks)
    tree = parse(text)
    el = _Elaborator(tree)
    size, _ = expansion_size(tree.models[0].body, {b.name: b for b in tree.blocks}, 10**6)
    m = el.run()
    assert m is not None and el.units == size


def test_a_repeat_count_over_the_budget():
    (d,) = errors(model("  repeat 10**12 { dense(1) }"))
    assert d.message.startswith("this repeat expands to 2,000,000,000,000 ")


# --------------------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    ("inputs", "layer", "message"),
    [
        ("input x: float32[4]", "dense(10**12)", "layer 'dense' has 5,000,000,000,000 parameters"),
        ("input x: int32[8]", "embedding(10**9, 1000)", "layer 'embedding' has 1,000,000,000,000 parameters"),
        ("input x: float32[10, 8]", "lstm(10**9)", "layer 'lstm' has 4,000,000,036,000,000,000 parameters"),
        ("input x: float32[8, 8, 3]", "conv2d_transpose(1024, kernel=1, stride=1024)", "the output of layer 'conv2d_transpose' has 68,719,476,736 elements per example ([batch, 8192, 8192, 1024])"),
        ("input x: float32[65536, 65536]", "dense(1)", "input 'x' has 4,294,967,296 elements per example"),
    ],
)
def test_sizes_no_machine_holds_are_errors_at_check(inputs, layer, message):
    (d,) = errors(model(f"  {layer}", inputs=inputs))
    assert d.message.startswith(message), d.message
    assert "more than the budget of" in d.message and "SPECC_MAX_" in d.hint


def test_the_total_parameter_count_has_a_budget_too():
    text = model("  dense(1000)\n  dense(1000)\n  dense(1000)")
    assert specc.loads(text).count_params()[0] == 4 * 1000 + 1000 + 2 * (1000 * 1000 + 1000)
    (d,) = errors(text, Limits(max_params=1_500_000))
    assert d.span.line == 5 and d.message == "layer 'dense_2' has 1,001,000 parameters (the model's total reaches 2,007,000 here), more than the budget of 1,500,000"


# --------------------------------------------------------------------------- error reporting


def test_many_errors_are_collected_and_shown_fifty_then_counted(monkeypatch):
    import specc.errors as errs

    calls = []
    real = errs.source_lines
    monkeypatch.setattr(errs, "source_lines", lambda text: calls.append(1) or real(text))
    text = model("  dense(-1)\n" * 4000)
    with pytest.raises(SpecError) as e:
        specc.loads(text, "t.spec")
    assert len(e.value.diagnostics) == 4000
    out = e.value.render()
    assert out.count("error: dense.units") == MAX_SHOWN
    assert out.endswith(f"… and {4000 - MAX_SHOWN:,} more errors (4,000 in all; the first {MAX_SHOWN} are shown)")
    assert len(calls) == 1  # the source is split once, not once per diagnostic
    assert e.value.render(limit=None).count("error: dense.units") == 4000


def test_cli_budget_options_and_exit_codes(tmp_path):
    p = tmp_path / "deep.spec"
    p.write_text(model(nested(4)))
    run = lambda *a, **env: subprocess.run([sys.executable, "-m", "specc", "check", "-q", *a], capture_output=True, text=True, env={**ENV, **env}, timeout=300)  # noqa: E731
    assert run(str(p)).returncode == 0
    r = run("--max-nodes", "45", str(p))
    assert r.returncode == 1 and "more than the budget of 45" in r.stderr
    r = run(str(p), SPECC_MAX_NODES="-3")
    assert r.returncode == 2 and "SPECC_MAX_NODES" in r.stderr and "internal error" not in r.stderr
    r = run("--max-params", "nope", str(p))
    assert r.returncode == 2 and "--max-params" in r.stderr


def test_summary_is_plain_text_with_aligned_columns():
    m = specc.loads(model("  a = dense(3)\n  b = x -> dense(3)\n  (a, b) -> add"))
    out = io.StringIO()
    from specc.summary import print_summary

    print_summary(m, out)
    lines = out.getvalue().splitlines()
    assert lines[1].split() == ["Layer", "Op", "Output", "shape", "Params", "MACs", "Inputs"]
    assert set(lines[2]) == {"─"}
    assert lines[5].split() == ["dense_1", "dense(3)", "[batch,", "3]", "15", "15", "x"]
    assert lines[6].split() == ["add", "add", "[batch,", "3]", "0", "0", "dense,", "dense_1"]
    for head in ("Params", "MACs"):
        col = lines[1].index(head) + len(head)
        assert all(line[col - 1].isdigit() for line in lines[3:7])  # right-aligned counts


# --------------------------------------------------------------------------- the fuzz corpus


def test_the_fuzz_corpus_never_reaches_an_internal_error():
    """300 generated and mutated specs through check, fmt and compile (both backends'
    source): each ends in a model or located errors (``make fuzz`` runs 10,000)."""
    failures, valid = [], 0
    for kind, text in fuzzing.corpus(300, seed=7):
        out = fuzzing.run_one(text, emit=True, limit_s=30)
        valid += out.valid
        if out.failure:
            failures.append((kind, text, out.failure))
    assert not failures, failures[0]
    assert 30 <= valid <= 270  # the corpus holds both valid and invalid specs


def test_the_cli_never_exits_3_on_the_fuzz_corpus(tmp_path):
    paths = []
    for k, (_, text) in enumerate(fuzzing.corpus(60, seed=11)):
        paths.append(tmp_path / f"f{k}.spec")
        paths[-1].write_text(text)
    for cmd in (["check"], ["fmt", "--check"]):
        r = subprocess.run([sys.executable, "-m", "specc", *cmd, *map(str, paths)], capture_output=True, text=True, env=ENV, timeout=300)
        assert r.returncode in (0, 1), r.stderr[-2000:]
        assert "internal error" not in r.stderr and "Traceback" not in r.stderr


def test_the_generator_is_reproducible():
    a = [t for _, t in fuzzing.corpus(20, seed=3)]
    b = [t for _, t in fuzzing.corpus(20, seed=3)]
    assert a == b and len(set(a)) > 15
    assert fuzzing.generate(random.Random(1)) == fuzzing.generate(random.Random(1))
