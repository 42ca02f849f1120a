"""The front end computes a layer once per distinct meaning, and the reuse is exact.

The elaborator builds one op per call and argument values (``op_key``: values keyed with
their exact types, not where they were written) and runs a shape rule once per op and
input types; the summary renders an op once and counts a layer's cost once per op and
types.  Each cache must give what computing afresh gives, and must never merge two calls
that differ in meaning (``1`` / ``true`` / ``1.0``, ``0.0`` / ``-0.0``), nor hide an error
at its second place."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import specc
from specc.errors import SpecError
from specc.ir.cost import DTYPE_BYTES, model_cost
from specc.ir.ops import LAYERS
from specc.ir.spec import ArgValue, Symbol, build_spec
from specc.ir.types import fmt_shape
from specc.semantics.context import op_key
from specc.summary import summary_rows, summary_text

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.spec")) + sorted((ROOT / "specc" / "selftest" / "corpus").glob("*.spec"))


def _model(body: str) -> specc.Model:
    return specc.loads(f"model m {{\n  input x: float32[8]\n{body}}}\n", "m.spec")


def _errors(body: str) -> list[tuple[int, str]]:
    with pytest.raises(SpecError) as e:
        _model(body)
    return [(d.span.line, d.message) for d in e.value.diagnostics]


def test_one_op_per_call_and_values_equal_to_one_built_alone():
    m = _model("  repeat 3 { dense(8, activation=leaky_relu(0.2)) }\n  dense(8, activation=leaky_relu(0.2))\n")
    ops = [n.op for n in m.nodes]
    assert all(op is ops[0] for op in ops)
    alone = build_spec(LAYERS.lookup("dense"), [(None, ArgValue(8)), ("activation", ArgValue(specc.loads("model q {\n  input x: float32[2]\n  dense(2, activation=leaky_relu(0.2))\n}\n").nodes[0].op.activation))], None)
    assert ops[0] == alone and ops[0].model_dump() == alone.model_dump()


@pytest.mark.parametrize(
    "first, second, message",
    [
        ("dense(1)", "dense(true)", "dense.units"),  # True == 1 and hash(True) == hash(1)
        ("dense(2)", "dense(2.0)", "dense.units"),  # 2.0 == 2
        ("dense(2, use_bias=true)", "dense(2, use_bias=1)", "dense.use_bias"),
    ],
)
def test_values_equal_in_python_but_not_in_the_language_are_not_merged(first, second, message):
    assert not _errors_or_none(f"  {first}\n")
    got = _errors(f"  {first}\n  {second}\n")
    assert len(got) == 1 and got[0][0] == 4 and message in got[0][1], got


def _errors_or_none(body: str):
    try:
        _model(body)
    except SpecError as e:
        return e.diagnostics
    return None


def test_negative_zero_is_its_own_value():
    m = _model("  dropout(0.0)\n  dropout(-0.0)\n  dropout(0.0)\n")
    rates = [n.op.rate for n in m.nodes]
    assert [math.copysign(1, r) for r in rates] == [1, -1, 1]
    assert m.nodes[0].op is m.nodes[2].op and m.nodes[1].op is not m.nodes[0].op


def test_nested_calls_are_keyed_by_their_arguments():
    m = _model("  dense(8, activation=leaky_relu(0.2))\n  dense(8, activation=leaky_relu(0.3))\n  dense(8, activation=leaky_relu(alpha=0.2))\n")
    a, b, c = (n.op.activation for n in m.nodes)
    assert a != b and a == c


def test_op_key_distinguishes_types_and_ignores_positions():
    from specc.errors import Span

    def key(*values, name=None):
        return op_key("dense", [(name, ArgValue(v, Span("a.spec", 1, i + 1))) for i, v in enumerate(values)])

    assert key(1) != key(True) != key(1.0) != key(1)
    assert key(0.0) != key(-0.0)
    assert key(Symbol("relu")) != key("relu")
    assert key(1, name="units") != key(1)
    assert key([1, 2]) != key([1.0, 2]) and key([1, 2]) == key([1, 2])
    assert op_key("dense", [(None, ArgValue(1, Span("a.spec", 1, 1)))]) == op_key("dense", [(None, ArgValue(1, Span("b.spec", 9, 9)))])
    built = build_spec(LAYERS.lookup("dense"), [(None, ArgValue(2))], None)
    assert op_key("bidirectional", [(None, ArgValue(built))]) is None  # a built value: not keyed


def test_a_failing_call_is_reported_at_every_place():
    got = _errors("  dense(0)\n  dense(0)\n  repeat 2 { dense(0) }\n")
    assert [line for line, _ in got] == [3, 4, 5], got  # (a repeat stops at its first failing repetition)
    assert len({msg for _, msg in got}) == 1


def test_the_shape_rule_runs_for_each_input_type():
    m = specc.loads("model m {\n  input a: float32[8]\n  input b: float64[16]\n  x = a -> dense(4)\n  y = b -> dense(4)\n  z = b -> dense(4)\n  output x, y, z\n}\n")
    x, y, z = m.nodes
    assert x.op is y.op is z.op
    assert [str(n.types[0]) for n in m.nodes] == ["float32[4]", "float64[4]", "float64[4]"]
    assert [sum(w.size for w in m.node_weights(n)) for n in m.nodes] == [36, 68, 68]
    with pytest.raises(SpecError, match="conv1d expects"):
        specc.loads("model m {\n  input a: float32[8, 3]\n  input b: float32[8]\n  x = a -> conv1d(4, kernel=1)\n  y = b -> conv1d(4, kernel=1)\n  output x, y\n}\n")


def _plain_cost(model):
    """Each layer's cost computed afresh, without the memo."""
    out = []
    for n in model.nodes:
        ins = [model.type_of(t) for t in n.inputs]
        sizes = [t.size() for t in n.types]
        values = None if None in sizes else sum(sizes)
        nbytes = None if None in sizes else sum(s * DTYPE_BYTES[t.dtype] for s, t in zip(sizes, n.types, strict=True))
        params = 0 if n.shares else sum(w.size for w in n.op.weights(ins))
        out.append((n.name, n.op.macs(ins, list(n.types)), values, nbytes, params))
    return out


def _plain_text(model) -> str:
    """The summary table laid out as before the fast layout (split every cell, ljust/rjust)."""
    header, rows = summary_rows(model)
    split = [[cell.split("\n") for cell in row] for row in rows]
    widths = [max([len(h)] + [len(line) for row in split for line in row[k]]) for k, h in enumerate(header)]
    right = [h in ("Params", "MACs") for h in header]

    def fmt(cells):
        return "   ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right, strict=True)).rstrip()

    out = [fmt(header), "─" * (sum(widths) + 3 * (len(widths) - 1))]
    for row in split:
        for j in range(max(len(lines) for lines in row)):
            out.append(fmt([lines[j] if j < len(lines) else "" for lines in row]))
    return "\n".join(out)


@pytest.mark.parametrize("path", SPECS, ids=[f"{p.parent.name}/{p.stem}" for p in SPECS])
def test_costs_weights_and_summary_equal_plain_computation(path):
    model = specc.load(path)
    got = [(c.name, c.macs, c.activation_values, c.activation_bytes, c.params) for c in model_cost(model).layers]
    assert got == _plain_cost(model)
    for n in model.nodes:
        want = [] if n.shares else n.op.weights(model.input_types(n))
        assert model.node_weights(n) == want
    assert summary_text(model) == _plain_text(model)
    header, rows = summary_rows(model)
    for n, row in zip(model.nodes, rows[len(model.inputs) :], strict=True):
        assert row[1].startswith(n.op.describe()) and row[2] == "\n".join(fmt_shape(t.shape, batch=True) for t in n.types)


def test_summary_layout_of_cells_with_several_lines_and_braces():
    m = specc.loads(
        'model m {\n  input x: float32[5, 3]\n  o, h, c = x -> lstm(4, return_sequences=true, return_state=true)\n  y = o -> dense(2, name=d_x)\n  output y, h, c\n}\n'
    )
    text = summary_text(m)
    assert text == _plain_text(m)
    assert "[batch, 5, 4]" in text and "[batch, 4]" in text
    # a string value with braces renders as itself (cells are format arguments, never the format)
    assert summary_text(m).count("{") == 0


def test_two_models_and_a_model_loaded_twice_are_equal_and_independent():
    text = "model m {\n  input x: float32[8]\n  repeat 4 { dense(8, activation=relu) }\n  dense(2)\n}\n"
    a, b = specc.loads(text), specc.loads(text)
    assert a == b and a.to_json() == b.to_json()
    assert summary_text(a) == summary_text(b)
    other = specc.loads(text.replace("float32[8]", "float32[16]"))
    assert model_cost(other).layers[0].params == 16 * 8 + 8 and model_cost(a).layers[0].params == 8 * 8 + 8


def test_node_of_is_trusted_node_with_every_field():
    from specc.ir.graph import Node
    from specc.semantics.context import NODE_FIELDS, node_of, trusted

    assert NODE_FIELDS == tuple(Node.model_fields)
    m = _model("  dense(2)\n")
    n = m.nodes[0]
    args = {f: getattr(n, f) for f in NODE_FIELDS}
    a, b = node_of(*args.values()), trusted(Node, **args)
    assert type(a) is Node and a.__dict__ == b.__dict__ and list(a.__dict__) == list(b.__dict__)
    assert a.model_fields_set == b.model_fields_set == set(NODE_FIELDS) and a.model_fields_set is not n.model_fields_set
    assert a == Node(**args) and a.model_dump_json() == Node(**args).model_dump_json()


def test_summary_layout_of_a_very_wide_last_column():
    # the Inputs cell of a concat of many inputs is the widest cell by far: the other rows are
    # laid out as if padded to it (and stripped), without padding them (quadratic)
    n = 300
    decl = "".join(f"  input x{i}: float32[2]\n" for i in range(n))
    m = specc.loads("model m {\n" + decl + "  (" + ", ".join(f"x{i}" for i in range(n)) + ") -> concat -> dense(3)\n}\n")
    text = summary_text(m)
    assert text == _plain_text(m)
    lines = text.split("\n")
    assert max(len(line) for line in lines if "concat" not in line and not line.startswith("─")) < 100
