"""The spec language: every construct parses to the AST and elaborates to the IR it means."""

from __future__ import annotations

import pytest

import specc
from specc.ir.types import TensorType
from specc.semantics.evaluate import evaluate
from specc.syntax import ast
from specc.syntax.parser import parse


def stmts(src: str) -> list[ast.Node]:
    """The statements of the (only) model of ``src``."""
    return parse(src, "t.spec").models[0].body.stmts


def value(expr_text: str, **env):
    """Parse ``expr_text`` as a call argument and evaluate it."""
    (_, chain) = stmts(f"model m {{ input x: float32[4]; f({expr_text}) }}")
    (call,) = chain.links
    from specc.ir.spec import ArgValue

    return evaluate(call.args[0].value, {k: ArgValue(v) for k, v in env.items()})


def arg_ast(expr_text: str) -> ast.Expr:
    (_, chain) = stmts(f"model m {{ input x: float32[4]; f({expr_text}) }}")
    return chain.links[0].args[0].value


def shape_str(e: ast.Expr) -> str:
    """The tree of an expression, fully parenthesised: shows precedence and associativity."""
    if isinstance(e, ast.BinOp):
        return f"({shape_str(e.left)} {e.op} {shape_str(e.right)})"
    if isinstance(e, ast.UnaryOp):
        return f"({e.op}{shape_str(e.operand)})"
    if isinstance(e, ast.Num):
        return e.text
    if isinstance(e, ast.Sym):
        return e.name
    raise AssertionError(e)


# --------------------------------------------------------------------------- structure


def test_empty_model_and_comments_everywhere():
    src = "# leading\nmodel m {  # on the brace line\n  # own line\n  input x: float32[4]  # trailing\n  dense(3)\n  # last\n}\n# end\n"
    tree = parse(src, "t.spec")
    (m,) = tree.models
    assert m.name == "m"
    assert m.comments == ["leading"]
    assert m.trailing == "on the brace line"
    inp, chain = m.body.stmts
    assert inp.comments == ["own line"] and inp.trailing == "trailing"
    assert m.body.comments == ["last"]
    assert tree.comments_end == ["end"]
    model = specc.loads(src)
    assert [n.op.describe() for n in model.nodes] == ["dense(3)"]


def test_hash_inside_a_string_is_not_a_comment():
    (_, chain) = stmts('model m { input x: float32[4]; dense(3, name="a#b") }')
    assert chain.links[0].args[1].value.value == "a#b"


def test_typed_inputs_with_unknown_and_symbolic_dims():
    src = "model m {\n  input img: float32[28, 28, 1]\n  input seq: int32[T, ?]\n  input any: float64[?]\n  input s: bool[]\n  img -> flatten\n}"
    inputs = stmts(src)[:4]
    assert [(i.name, i.type.dtype, [d.value for d in i.type.dims]) for i in inputs] == [
        ("img", "float32", [28, 28, 1]),
        ("seq", "int32", ["T", None]),
        ("any", "float64", [None]),
        ("s", "bool", []),
    ]
    model = specc.loads(src)
    assert [(i.name, i.type) for i in model.inputs] == [
        ("img", TensorType(dtype="float32", shape=(28, 28, 1))),
        ("seq", TensorType(dtype="int32", shape=("T", None))),
        ("any", TensorType(dtype="float64", shape=(None,))),
        ("s", TensorType(dtype="bool", shape=())),
    ]
    assert inputs[1].type.dims[0].span.line == 3 and inputs[1].type.dims[0].span.col == 20


def test_sequential_chain_feeds_each_layer_the_previous_output():
    model = specc.loads("model m {\n  input x: float32[8]\n  dense(4)\n  relu\n  dense(2) -> softmax\n}")
    assert [(n.name, n.inputs) for n in model.nodes] == [
        ("dense", ("x",)),
        ("relu", ("dense",)),
        ("dense_1", ("relu",)),
        ("softmax", ("dense_1",)),
    ]
    assert model.outputs == ("softmax",)
    assert model.type_of("softmax") == TensorType(dtype="float32", shape=(2,))
    # each node remembers where it was written
    assert (model.node("dense_1").span.line, model.node("dense_1").span.col) == (5, 3)


def test_named_tensors_branch_and_merge():
    src = """model m {
  input x: float32[8]
  a = x -> dense(4)
  b = x -> dense(4, activation=tanh)
  s = (a, b) -> add
  c = (a, b, s) -> concat
  z = a -> dense(1)
  output c, z
}"""
    model = specc.loads(src)
    by = {n.name: n for n in model.nodes}
    assert by["add"].inputs == ("dense", "dense_1")
    assert by["concat"].inputs == ("dense", "dense_1", "add")
    assert model.type_of("concat").shape == (12,)
    assert by["dense_2"].inputs == ("dense",)
    assert model.outputs == ("concat", "dense_2")  # `output` wins over the last statement
    (_, _, _, s, _, _, _) = stmts(src)
    assert isinstance(s.chain.links[0], ast.TupleRef)
    assert [n for n, _ in s.chain.links[0].names] == ["a", "b"]


def test_multi_output_assignment():
    src = "model m {\n  input s: float32[T, 4]\n  out, h, c = s -> lstm(8, return_state=true)\n  y = (h, c) -> add\n  output out, y\n}"
    (_, assign, _, _) = stmts(src)
    assert [n for n, _ in assign.targets] == ["out", "h", "c"]
    model = specc.loads(src)
    assert model.node("lstm").outputs == ("lstm", "lstm:1", "lstm:2")
    assert model.node("add").inputs == ("lstm:1", "lstm:2")
    assert model.outputs == ("lstm", "add")


def test_block_parameters_defaults_may_use_earlier_parameters():
    src = """block ffn(dim, hidden=4 * dim, out=hidden // 2 + dim) {
  input x
  x -> dense(hidden) -> dense(out)
}
model m {
  input x: float32[8]
  ffn(8)
  ffn(2, out=3)
  ffn(dim=1, hidden=6)
}"""
    blk = parse(src, "t.spec").blocks[0]
    assert [p.name for p in blk.params] == ["dim", "hidden", "out"]
    assert blk.params[0].default is None and shape_str(blk.params[1].default) == "(4 * dim)"
    model = specc.loads(src)
    units = [n.op.units for n in model.nodes]
    assert units == [32, 24, 8, 3, 6, 4]  # (32, 32//2+8), (8, 3), (6, 6//2+1)
    assert [n.name for n in model.nodes] == ["ffn.dense", "ffn.dense_1", "ffn_1.dense", "ffn_1.dense_1", "ffn_2.dense", "ffn_2.dense_1"]
    assert [(s.path, s.block, s.args) for s in model.scopes] == [
        ("ffn", "ffn", {"dim": 8, "hidden": 32, "out": 24}),
        ("ffn_1", "ffn", {"dim": 2, "hidden": 8, "out": 3}),
        ("ffn_2", "ffn", {"dim": 1, "hidden": 6, "out": 4}),
    ]


def test_block_with_two_inputs_and_an_output_statement():
    src = """block gate(n) {
  input a
  input b
  g = b -> dense(n, activation=sigmoid)
  p = (a, g) -> multiply
  output p
}
model m {
  input x: float32[4]
  input y: float32[6]
  (x, y) -> gate(4)
}"""
    model = specc.loads(src)
    assert [(n.name, n.inputs) for n in model.nodes] == [("gate.dense", ("y",)), ("gate.multiply", ("x", "gate.dense"))]
    assert model.outputs == ("gate.multiply",)


def test_repeat_with_loop_variable():
    src = "model m {\n  input x: float32[3]\n  repeat 3 as i {\n    dense(2 ** i * 8)\n    dropout(0.1 * i)\n  }\n}"
    (_, rep) = stmts(src)
    if isinstance(rep, ast.Chain):  # where `repeat` is a link of a chain, the statement holds it
        (rep,) = rep.links
    assert isinstance(rep, ast.Repeat) and rep.var == "i" and rep.count.value == 3
    model = specc.loads(src)
    assert [(n.name, n.op.describe()) for n in model.nodes] == [
        ("repeat.0.dense", "dense(8)"),
        ("repeat.0.dropout", "dropout(0.0)"),
        ("repeat.1.dense", "dense(16)"),
        ("repeat.1.dropout", "dropout(0.1)"),
        ("repeat.2.dense", "dense(32)"),
        ("repeat.2.dropout", "dropout(0.2)"),
    ]
    assert [(s.path, s.args) for s in model.scopes] == [("repeat.0", {"i": 0}), ("repeat.1", {"i": 1}), ("repeat.2", {"i": 2})]


def test_repeat_of_one_block_names_the_repetitions_after_the_block():
    src = "block enc(n) {\n  input x\n  dense(n)\n}\nmodel m {\n  input x: float32[3]\n  repeat 2 {\n    enc(5)\n  }\n}"
    model = specc.loads(src)
    assert [n.name for n in model.nodes] == ["enc.0.dense", "enc.1.dense"]
    assert model.node("enc.1.dense").inputs == ("enc.0.dense",)


def test_repeat_count_from_a_block_parameter():
    src = "block stack(depth, w) {\n  input x\n  repeat depth as k {\n    dense(w + k)\n  }\n}\nmodel m {\n  input x: float32[3]\n  stack(3, 10)\n}"
    model = specc.loads(src)
    assert [n.op.units for n in model.nodes] == [10, 11, 12]
    assert model.nodes[2].name == "stack.repeat.2.dense"


def test_train_and_verify_sections():
    src = """model m {
  input x: float32[4]
  dense(3, activation=softmax)
  train {
    loss categorical_crossentropy(label_smoothing=0.1)
    optimizer sgd(lr=0.1, momentum=0.9)
    schedule step(10, 0.5)
    metrics [accuracy, f1(average=micro)]
    batch 8
    epochs 2
    seed 7
  }
  verify {
    rtol 1e-4
    steps 5
  }
}"""
    (_, _, train, verify) = stmts(src)
    assert train.kind == "train" and [s.key for s in train.settings] == ["loss", "optimizer", "schedule", "metrics", "batch", "epochs", "seed"]
    assert verify.kind == "verify"
    model = specc.loads(src)
    t = model.train
    assert t.loss.describe() == "categorical_crossentropy(label_smoothing=0.1)"
    assert (t.optimizer.kind, t.optimizer.lr, t.optimizer.momentum) == ("sgd", 0.1, 0.9)
    assert (t.schedule.kind, t.schedule.step_size, t.schedule.gamma) == ("step", 10, 0.5)
    assert [m.describe() for m in t.metrics] == ["accuracy", "f1(average=micro)"]
    assert (t.batch, t.epochs, t.seed) == (8, 2, 7)
    assert (model.verify.rtol, model.verify.steps, model.verify.atol) == (1e-4, 5, None)


def test_semicolons_separate_statements_and_settings():
    one_line = "model m { input x: float32[4]; dense(3); relu;; dense(2); train { loss mse; batch 4 } }"
    lines = "model m {\n  input x: float32[4]\n  dense(3)\n  relu\n  dense(2)\n  train {\n    loss mse\n    batch 4\n  }\n}"
    assert specc.loads(one_line) == specc.loads(lines)
    assert len(specc.loads(one_line).nodes) == 3


def test_multi_line_argument_lists_and_lists():
    src = "model m {\n  input x: float32[8, 8, 1]\n  conv2d(\n    4,\n    kernel=[\n      3,\n      3\n    ],\n    padding=same,\n  )\n}"
    model = specc.loads(src)
    op = model.nodes[0].op
    assert (op.filters, op.kernel, op.padding) == (4, (3, 3), "same")


@pytest.mark.parametrize(
    "chain",
    [
        "a = x -> dense(4) -> dense(2)",
        "a = x ->\n    dense(4) ->\n    dense(2)",
        "a = x\n    -> dense(4)\n    -> dense(2)",
        "a = x  # the input\n    -> dense(4)  # hidden\n\n    -> dense(2)",
        "a = x ->  # trailing arrow, then a comment\n    dense(4)\n    -> dense(2)",
    ],
)
def test_chains_continue_over_lines_with_a_trailing_or_leading_arrow(chain):
    model = specc.loads(f"model m {{\n  input x: float32[8]\n  {chain}\n  output a\n}}")
    assert [(n.name, n.inputs, n.op.units) for n in model.nodes] == [("dense", ("x",), 4), ("dense_1", ("dense",), 2)]
    assert model.outputs == ("dense_1",)


def test_a_newline_without_an_arrow_ends_the_chain():
    model = specc.loads("model m {\n  input x: float32[8]\n  a = x -> dense(4)\n  dense(2)\n}")
    assert model.outputs == ("dense_1",)
    assert model.node("dense_1").inputs == ("dense",)  # the next statement reads the last result


def test_crlf_line_endings_and_tabs():
    src = "model m {\r\n\tinput x: float32[4]\r\n\tdense(2)\r\n}\r\n"
    assert specc.loads(src) == specc.loads(src.replace("\r\n", "\n"))


def test_layer_options_name_and_trainable():
    model = specc.loads("model m {\n  input x: float32[4]\n  dense(3, name=hidden, trainable=false)\n  batch_norm(name=bn)\n}")
    assert [(n.name, n.trainable) for n in model.nodes] == [("hidden", False), ("bn", True)]


def test_call_values_as_arguments():
    model = specc.loads(
        "model m {\n  input x: float32[T, 4]\n"
        "  bidirectional(lstm(3, return_sequences=true), merge=sum)\n"
        "  dense(2, activation=leaky_relu(0.3), init=variance_scaling(scale=2.0), reg=l1_l2(0.1, 0.2))\n}"
    )
    bi, dense = model.nodes
    assert (bi.op.layer.kind, bi.op.layer.units, bi.op.layer.return_sequences, bi.op.merge) == ("lstm", 3, True, "sum")
    assert dense.op.activation.describe() == "leaky_relu(0.3)"
    assert dense.op.init.describe() == "variance_scaling(scale=2.0)"
    assert (dense.op.reg.l1, dense.op.reg.l2) == (0.1, 0.2)


def test_strings_and_escapes():
    (_, chain) = stmts(r'model m { input x: float32[4]; f("a\"b\\c\n\t\u00e9\U0001F600é") }')
    assert chain.links[0].args[0].value.value == 'a"b\\c\n\té\U0001f600é'


# --------------------------------------------------------------------------- arithmetic


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("1 + 2 * 3", "(1 + (2 * 3))"),
        ("(1 + 2) * 3", "((1 + 2) * 3)"),
        ("1 - 2 - 3", "((1 - 2) - 3)"),
        ("8 / 4 / 2", "((8 / 4) / 2)"),
        ("2 ** 3 ** 2", "(2 ** (3 ** 2))"),
        ("-2 ** 2", "(-(2 ** 2))"),
        ("2 ** -1", "(2 ** (-1))"),
        ("dim // heads", "(dim // heads)"),
        ("a * b % c", "((a * b) % c)"),
        ("- -3", "(-(-3))"),
        ("-a * b", "((-a) * b)"),
        ("+a", "(+a)"),
    ],
)
def test_operator_precedence_and_associativity(text, tree):
    assert shape_str(arg_ast(text)) == tree


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("2 ** 3 ** 2", 512),
        ("-2 ** 2", -4),
        ("(-2) ** 2", 4),
        ("7 // 2", 3),
        ("-7 // 2", -4),  # floor division, like Python
        ("7 % 3", 1),
        ("-7 % 3", 2),
        ("1_000 * 2", 2000),
        ("10 - 2 - 3", 5),
        ("- -3", 3),
        ("2 ** 62", 2**62),
    ],
)
def test_integer_arithmetic(text, expected):
    got = value(text)
    assert got == expected and type(got) is int


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7 / 2", 3.5),
        ("6 / 2", 3.0),  # '/' is always true division: a float even when exact
        ("1e-3", 0.001),
        (".5 * 2", 1.0),
        ("1. + 1", 2.0),
        ("2 ** -1", 0.5),
        ("2.0 ** 2", 4.0),
        ("1.5e2 // 1", 150.0),
        ("-2.5", -2.5),
    ],
)
def test_float_arithmetic(text, expected):
    got = value(text)
    assert got == expected and type(got) is float


def test_arithmetic_on_parameters():
    assert value("dim // heads", dim=64, heads=4) == 16
    assert value("2 ** i", i=5) == 32
    assert value("4 * dim + 1", dim=3) == 13


def test_division_kind_reaches_the_ir():
    ok = specc.loads("block b(dim, heads) {\n  input x\n  dense(dim // heads)\n}\nmodel m {\n  input x: float32[4]\n  b(64, 4)\n}")
    assert ok.nodes[0].op.units == 16
    with pytest.raises(specc.SpecError) as e:
        specc.loads("block b(dim, heads) {\n  input x\n  dense(dim / heads)\n}\nmodel m {\n  input x: float32[4]\n  b(64, 4)\n}")
    assert e.value.diagnostics[0].message == "dense.units: input should be a valid integer (got 16.0)"
    assert e.value.diagnostics[0].hint == "write an integer: '/' always gives a fraction, '//' divides integers"


def test_number_literals_keep_their_text():
    for text in ("1e-3", "1_000", "0.50", "3"):
        assert arg_ast(text).text == text
