"""Every class of error is reported as ``FILE:LINE:COL: error: ...`` with the source line, a
caret under the culprit, ``expected:`` where it fits and "did you mean" where one fits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import specc
from specc.errors import Diagnostic

ROOT = Path(__file__).resolve().parent.parent
HEAD = "model m {\n  input x: float32[4]\n"  # line 3 is where a body's test statement goes


def errors(src: str, path: str = "f.spec") -> specc.SpecError:
    with pytest.raises(specc.SpecError) as info:
        specc.loads(src, path)
    err = info.value
    assert err.diagnostics and all(d.span is not None and d.span.file == path for d in err.diagnostics)
    return err


def one(src: str) -> Diagnostic:
    err = errors(src)
    assert len(err.diagnostics) == 1, err.render()
    return err.diagnostics[0]


def body_error(stmt: str, x: str = "float32[4]") -> tuple[Diagnostic, str]:
    """The single error of a model whose third line is ``stmt``, and its rendering."""
    err = errors(f"model m {{\n  input x: {x}\n  {stmt}\n}}\n")
    assert len(err.diagnostics) == 1, err.render()
    return err.diagnostics[0], err.render()


def where(d: Diagnostic) -> tuple[int, int]:
    return d.span.line, d.span.col


# --------------------------------------------------------------------------- the format


def test_rendering_is_file_line_col_source_caret_expected_help():
    err = errors(HEAD + "  dense(3, activaton=relu)\n}\n", "net.spec")
    assert str(err) == (
        "net.spec:3:12: error: dense has no parameter 'activaton'\n"
        "    3 |   dense(3, activaton=relu)\n"
        "      |            ^^^^^^^^^^^^^^\n"
        "  = expected: one of: units, activation, use_bias, init, bias_init, reg, bias_reg\n"
        "  = help: did you mean 'activation'?"
    )


def test_notes_are_rendered_between_expected_and_help():
    err = errors(HEAD + "  a = dense(3)\n  a = dense(2)\n}\n")
    assert err.render() == (
        "f.spec:4:3: error: 'a' is already defined\n"
        "    4 |   a = dense(2)\n"
        "      |   ^\n"
        "  = note: first defined at f.spec:3:3\n"
        "  = help: give the new tensor another name"
    )


def test_diagnostics_serialise_to_json():
    (d,) = errors(HEAD + "  dens(3)\n}\n").diagnostics
    assert d.to_json() == {
        "severity": "error",
        "message": "unknown layer 'dens'",
        "file": "f.spec",
        "line": 3,
        "col": 3,
        "end_line": 3,
        "end_col": 7,
        "expected": "a layer, a block or an activation",
        "hint": "did you mean 'dense'?",
        "notes": [],
    }


# --------------------------------------------------------------------------- syntax


@pytest.mark.parametrize(
    ("src", "line", "col", "message", "expected", "hint"),
    [
        (HEAD + "  dense(3\n}\n", 3, 8, "this '(' is not closed", None, "add ')' where its contents end (before line 4)"),
        (HEAD + "  dense(3)\n", 3, 11, "unexpected end of file", None, "a '{' is not closed"),
        ("model m {\n  input x: float32[4] dense(3)\n}\n", 2, 23, "unexpected 'dense'", "end of line, ';', '}'",
         "put one statement per line, or separate statements with ';'"),
        (HEAD + "  dense(3,, 4)\n}\n", 3, 11, "unexpected ','", "a name, a number, a string, '(', ')', '+', '-', '[', …", None),
        (HEAD + "  dense(3) ->\n}\n", 4, 1, "unexpected '}'", None, None),
        (HEAD + "  reshape([4\n}\n", 3, 11, "this '[' is not closed", None, "add ']' where its contents end (before line 4)"),
        ("model {\n}\n", 1, 7, "unexpected '{'", "a name", None),
        ("modle m {\n}\n", 1, 1, "unexpected 'modle'", "end of file, end of line, ';', 'block', 'model'", "did you mean 'model'?"),
        ("model m {\n  inptu x: float32[4]\n}\n", 2, 9, "unexpected 'x'", None, "'inptu' is not a keyword: did you mean 'input'?"),
        (HEAD + "  // note\n}\n", 3, 3, "unexpected '//'", None, "comments start with '#'"),
        (HEAD + "  dense('a')\n}\n", 3, 9, "unexpected character '''", None, 'strings use double quotes: "text"'),
        (HEAD + '  dense(3, name="abc\n)\n}\n', 3, 17, "unexpected character '\"'", None, "strings end on the line they start on"),
        (HEAD + "  dense(3) @\n}\n", 3, 12, "unexpected character '@'", None, None),
        (HEAD + "  dense(3)\n}\n}\n", 5, 1, "unexpected '}'", "end of file, 'block', 'model'", None),
        (HEAD + '  dense(3, name="a\\qb")\n}\n', 3, 19, "unknown escape '\\q' in a string", None, None),
        (HEAD + "  dense(" + "(" * 70 + "3" + ")" * 70 + ")\n}\n", 3, 72, "brackets are nested more than 64 levels deep", None, None),
    ],
)
def test_syntax_errors(src, line, col, message, expected, hint):
    d = one(src)
    assert (where(d), d.message, d.hint) == ((line, col), message, hint)
    if expected is not None:
        assert d.expected == expected


def test_syntax_error_rendering_shows_the_line_and_caret():
    err = errors("model m {\n  input x: float32[4]\n  dense(3 -> relu\n}\n")
    assert err.render() == (
        "f.spec:3:11: error: unexpected '->'\n"
        "    3 |   dense(3 -> relu\n"
        "      |           ^^\n"
        "  = expected: '%', ')', '*', '**', '+', ',', '-', '/', …"
    )


def test_binary_and_invalid_text_are_located_errors():
    d = errors(b"model m {\n  input x\xff: float32[4]\n}\n").diagnostics[0]
    assert (where(d), d.message) == ((2, 10), "the file is not valid UTF-8 text")
    d = errors("model m {\n  \x00\n}\n").diagnostics[0]
    assert (where(d), d.message) == ((2, 3), "the file contains a NUL byte: this is not a spec file")


# --------------------------------------------------------------------------- unknown names


@pytest.mark.parametrize(
    ("stmt", "col", "message", "expected", "hint"),
    [
        ("dens(3)", 3, "unknown layer 'dens'", "a layer, a block or an activation", "did you mean 'dense'?"),
        ("x -> dense(3) -> flaten", 20, "unknown layer 'flaten'", "a layer, a block or an activation", "did you mean 'flatten'?"),
        ("dense(3, activaton=relu)", 12, "dense has no parameter 'activaton'",
         "one of: units, activation, use_bias, init, bias_init, reg, bias_reg", "did you mean 'activation'?"),
        ("dense(3, activation=rellu)", 23, "unknown activation 'rellu' for dense.activation", None, "did you mean 'relu'?"),
        ("dense(3, init=glorot_unifrom)", 17, "unknown initializer 'glorot_unifrom' for dense.init", None,
         "did you mean 'glorot_uniform'?"),
        ("dense(3, reg=l3(0.1))", 16, "unknown regularizer 'l3' for dense.reg", "one of: l1, l1_l2, l2", None),
        ("dense(3, activation=leaky_relu(alpah=0.1))", 34, "leaky_relu has no parameter 'alpah'", "one of: alpha", "did you mean 'alpha'?"),
        ("y -> dense(3)", 3, "unknown tensor 'y'", None, "tensors defined here: x"),
        ("flaten", 3, "unknown layer or tensor 'flaten'", "a layer, a block, an activation or a tensor", "did you mean 'flatten'?"),
        ("output y", 10, "unknown tensor 'y'", None, "tensors defined here: x"),
        ("(x, z) -> add", 7, "unknown tensor 'z'", None, "tensors defined here: x"),
    ],
)
def test_unknown_names_with_suggestions(stmt, col, message, expected, hint):
    d, _ = body_error(stmt)
    assert (where(d), d.message, d.hint) == ((3, col), message, hint)
    if expected is not None:
        assert d.expected == expected


def test_unknown_activation_lists_the_activations():
    d, text = body_error("dense(3, activation=rellu)")
    assert d.expected.startswith("one of: elu, gelu, hard_sigmoid, leaky_relu, linear, log_softmax, relu, relu6, ")
    assert "    3 |   dense(3, activation=rellu)\n      |                       ^^^^^\n" in text


@pytest.mark.parametrize(
    ("setting", "col", "message", "hint"),
    [
        ("loss categorical_crossentropyy", 10, "unknown loss 'categorical_crossentropyy' for train.loss", "did you mean 'categorical_crossentropy'?"),
        ("optimizer adamm(lr=0.1)", 15, "unknown optimizer 'adamm' for train.optimizer", "did you mean 'adam'?"),
        ("metrics [acuracy]", 14, "unknown metric 'acuracy' for train.metrics", "did you mean 'accuracy'?"),
        ("schedule cosin(100)", 14, "unknown schedule 'cosin' for train.schedule", "did you mean 'cosine'?"),
        ("epoch 3", 5, "train has no setting 'epoch'", "did you mean 'epochs'?"),
    ],
)
def test_unknown_training_vocabulary(setting, col, message, hint):
    loss = "" if setting.startswith("loss") else "    loss mse\n"
    err = errors(f"model m {{\n  input x: float32[4]\n  dense(3)\n  train {{\n{loss}    {setting}\n  }}\n}}\n")
    (d,) = err.diagnostics
    assert (where(d), d.message, d.hint) == ((6 if loss else 5, col), message, hint)


def test_mae_metric_with_class_index_targets_is_refused():
    err = errors("model m {\n  input x: float32[4]\n  dense(3, activation=softmax)\n  train {\n    loss sparse_categorical_crossentropy\n    metrics [accuracy, mae]\n  }\n}\n")
    (d,) = err.diagnostics
    assert where(d) == (6, 13) and "class indices" in d.message and "accuracy" in d.hint


def test_unknown_optimizer_lists_the_optimizers():
    err = errors(HEAD + "  dense(3)\n  train {\n    loss mse\n    optimizer adamm\n  }\n}\n")
    assert err.diagnostics[0].expected == "one of: adadelta, adagrad, adam, adamw, rmsprop, sgd"


def test_unknown_dtype():
    d = one("model m {\n  input x: floot32[4]\n  dense(3)\n}\n")
    assert (where(d), d.message, d.hint) == ((2, 12), "unknown dtype 'floot32'", "did you mean 'float32'?")
    assert d.expected == "one of: float16, bfloat16, float32, float64, int32, int64, bool"


def test_unknown_block_parameter():
    src = "block enc(dim, heads=4) {\n  input x\n  dense(dim)\n}\nmodel m {\n  input x: float32[4]\n  enc(8, head=2)\n}\n"
    d = one(src)
    assert (where(d), d.message, d.expected, d.hint) == ((7, 10), "block 'enc' has no parameter 'head'", "one of: dim, heads", "did you mean 'heads'?")


# --------------------------------------------------------------------------- types and ranges


@pytest.mark.parametrize(
    ("stmt", "col", "message", "expected"),
    [
        ("dense(-3)", 9, "dense.units: input should be greater than 0 (got -3)", "units: an integer > 0 — number of output features"),
        ("dense(0)", 9, "dense.units: input should be greater than 0 (got 0)", "units: an integer > 0 — number of output features"),
        ("dropout(1.5)", 11, "dropout.rate: input should be less than 1 (got 1.5)", "rate: a number ≥ 0 and < 1 — probability of zeroing an element"),
        ("dropout(-0.1)", 11, "dropout.rate: input should be greater than or equal to 0 (got -0.1)", None),
        ("dense(2.5)", 9, "dense.units: input should be a valid integer (got 2.5)", None),
        ("dense(true)", 9, "dense.units: input should be a valid integer (got true)", None),
        ('dense("3")', 9, 'dense.units: input should be a valid integer (got "3")', None),
        ("dense(3, use_bias=1)", 21, "dense.use_bias: input should be a valid boolean (got 1)", "use_bias: true or false — add a learned bias"),
        ("dense(relu)", 9, "dense.units: 'relu' is not a valid value", None),
        ("dense(10**100000)", 9, "integer too large", "a magnitude at most 9223372036854775807"),
        ("dense(1e999)", 9, "number too large (not finite)", None),
        ("dense(3 // 0)", 14, "division by zero", None),
        ("dense(3 % 0)", 13, "modulo by zero", None),
        ("dense(0 ** -1)", 9, "zero cannot be raised to a negative power", None),
        ("dense(true + 1)", 9, "cannot use true/false in arithmetic ('+')", None),
        ("dense(3 * heads)", 13, "unknown name 'heads' in an arithmetic expression", "a number or a parameter of the enclosing block"),
        ("dense(3, 4)", 12, "dense takes 1 positional argument (units)", None),
        ("dense(3, units=4)", 12, "dense: parameter 'units' is given twice", None),
        ("dense", 3, "dense needs parameter 'units'", "units: an integer > 0 — number of output features"),
    ],
)
def test_wrong_types_and_ranges(stmt, col, message, expected):
    d, _ = body_error(stmt)
    assert (where(d), d.message) == ((3, col), message)
    if expected is not None:
        assert d.expected == expected


def test_values_nested_in_a_layer_argument():
    d, _ = body_error("bidirectional(lstm)", x="float32[T, 4]")
    assert (where(d), d.message) == ((3, 3), "lstm needs parameter 'units'")
    d, _ = body_error("bidirectional(dense(3))", x="float32[T, 4]")
    assert (where(d), d.message) == ((3, 17), "bidirectional.layer: bidirectional wraps simple_rnn, lstm or gru, not dense (got dense(…))")
    assert d.expected == "layer: simple_rnn or lstm or gru — the recurrent layer, e.g. lstm(64)"
    d, _ = body_error("bidirectional(5)", x="float32[T, 4]")
    assert d.message == "bidirectional.layer: expected a recurrent layer, e.g. lstm(64) (got 5)"
    d, _ = body_error("bidirectional(lstm(0))", x="float32[T, 4]")
    assert (where(d), d.message) == ((3, 22), "lstm.units: input should be greater than 0 (got 0)")


def test_missing_parameter_shows_usage():
    d, _ = body_error("conv2d(8)", x="float32[8, 8, 1]")
    assert d.message == "conv2d needs parameter 'kernel'"
    assert d.hint == (
        "usage: conv2d(filters, kernel, stride=1, padding=valid, dilation=1, activation=linear, use_bias=true, "
        "bias_init=zeros, bias_reg=none, groups=1, init=glorot_uniform, reg=none)"
    )


def test_float_where_an_integer_is_needed_explains_division():
    d, _ = body_error("dense(8 / 2)")
    assert d.message == "dense.units: input should be a valid integer (got 4.0)"
    assert d.hint == "write an integer: '/' always gives a fraction, '//' divides integers"


def test_training_setting_out_of_range():
    err = errors(HEAD + "  dense(3)\n  train {\n    loss mse\n    batch 0\n    epochs 2.5\n  }\n}\n")
    assert [(where(d), d.message) for d in err.diagnostics] == [
        ((6, 11), "train.batch: input should be greater than 0 (got 0)"),
        ((7, 12), "train.epochs: input should be a valid integer (got 2.5)"),
    ]


def test_dimension_out_of_range():
    d = one("model m {\n  input x: float32[4, 0]\n  dense(3)\n}\n")
    assert (where(d), d.message, d.expected) == ((2, 23), "dimension 0 is out of range", "a positive size, '?' or a name")


# --------------------------------------------------------------------------- shapes


def test_add_of_different_shapes():
    err = errors("model m {\n  input a: float32[4]\n  input b: float32[5]\n  (a, b) -> add\n}\n")
    (d,) = err.diagnostics
    assert (where(d), d.message) == ((4, 13), "add needs inputs of the same shape, got [batch, 4] and [batch, 5]")
    assert d.notes == ["input shapes: [batch, 4], [batch, 5]"]
    assert d.hint == "the features differ: project one side with dense(5)"
    assert "    4 |   (a, b) -> add\n      |             ^^^\n" in err.render()


def test_conv_on_a_vector():
    d, text = body_error("conv2d(8, kernel=3)")
    assert where(d) == (3, 3)
    assert d.message == "conv2d expects an image (height, width, channels) (rank 4 with the batch), got shape [batch, 4]"
    assert d.expected == "an image (height, width, channels)"
    assert d.hint == "reshape the input to add the missing axes, e.g. reshape([..., 1])"
    assert "      |   ^^^^^^^^^^^^^^^^^^^\n" in text


def test_dense_on_an_image_without_flatten():
    d, _ = body_error("conv2d(8, kernel=3) -> dense(10)", x="float32[8, 8, 1]")
    assert (where(d), d.message) == (
        (3, 26),
        "dense expects a vector of features or a sequence of them (rank 2 or 3 with the batch), got shape [batch, 6, 6, 8]",
    )
    assert d.hint == "add flatten (or a global pooling layer) before it; for a per-pixel layer use conv2d(units, kernel=1)"
    assert d.notes == ["input shape: [batch, 6, 6, 8]"]
    # with flatten it is fine
    assert specc.loads("model m {\n  input x: float32[8, 8, 1]\n  conv2d(8, kernel=3) -> flatten -> dense(10)\n}\n").type_of("dense").shape == (10,)


@pytest.mark.parametrize(
    ("x", "stmt", "message"),
    [
        ("float32[4, 4, 3]", "conv2d(8, kernel=5)", "conv2d: the window (5 wide) does not fit the input (4 after padding) on axis 1"),
        ("float32[T]", "dense(3)", "dense needs a known number of input features (last axis), got 'T'"),
        ("int32[10]", "lstm(4)", None),
        ("float32[4]", "embedding(10, 3) -> flatten", None),
    ],
)
def test_other_shape_errors_are_located_at_the_layer(x, stmt, message):
    d, _ = body_error(stmt, x=x)
    assert where(d) == (3, 3)
    if message is not None:
        assert d.message == message


# --------------------------------------------------------------------------- names and structure


def test_rebinding_a_tensor():
    d = one(HEAD + "  a = x -> dense(3)\n  b = a -> dense(3)\n  a = b\n}\n")
    assert (where(d), d.message, d.notes) == ((5, 3), "'a' is already defined", ["first defined at f.spec:3:3"])


def test_duplicate_layer_names():
    d = one(HEAD + "  dense(3, name=enc)\n  dense(3, name=enc)\n}\n")
    assert (where(d), d.message, d.notes) == ((4, 3), "the name 'enc' is already used", ["first used at f.spec:3:3"])


def test_duplicate_input():
    d = one(HEAD + "  input x: float32[4]\n  dense(3)\n}\n")
    assert (where(d), d.message) == ((3, 3), "'x' is already defined")


def test_names_that_are_reserved_or_layers():
    err = errors(HEAD + "  class = dense(3)\n  dense = x -> dense(2)\n}\n")
    assert [(where(d), d.message) for d in err.diagnostics] == [
        ((3, 3), "'class' is reserved and cannot name a tensor"),
        ((4, 3), "'dense' is the name of a layer and cannot name a tensor"),
    ]


def test_block_defined_twice_and_parameter_declared_twice():
    err = errors("block b(n, n) {\n  input x\n  dense(n)\n}\nblock b(n) {\n  input x\n  dense(n)\n}\nmodel m {\n  input x: float32[4]\n  b(3)\n}\n")
    assert [(where(d), d.message) for d in err.diagnostics] == [
        ((1, 12), "block 'b': parameter 'n' is declared twice"),
        ((5, 7), "block 'b' is defined twice"),
    ]


def test_recursive_blocks_report_the_cycle():
    src = "block a(n) {\n  input x\n  b(n)\n}\nblock b(n) {\n  input x\n  a(n)\n}\nmodel m {\n  input x: float32[4]\n  a(3)\n}\n"
    d = one(src)
    assert (where(d), d.message) == ((7, 3), "block 'a' calls itself (a → b → a)")
    assert d.notes == ["in block 'b' called at f.spec:3:3", "in block 'a' called at f.spec:11:3"]
    assert d.hint == "blocks cannot be recursive; use repeat N { ... } to stack layers"


def test_block_arity():
    src = "block pair(n) {\n  input a\n  input b\n  (a, b) -> add\n}\nmodel m {\n  input x: float32[4]\n  pair(3)\n}\n"
    d = one(src)
    assert (where(d), d.message, d.notes) == ((8, 3), "block 'pair' takes 2 inputs, got 1", ["'pair' is defined at f.spec:1:7"])


def test_multi_output_needs_one_name_each():
    d, _ = body_error("a, b = x -> dense(3)")
    assert (where(d), d.message) == ((3, 3), "2 names for 1 tensor")
    d = one("model m {\n  input s: float32[T, 4]\n  a, b = s -> lstm(3, return_state=true)\n}\n")
    assert (d.message, d.hint) == ("2 names for 3 tensors", "name each output, e.g. out, h, c = lstm(32, return_state=true)")


def test_input_inside_repeat():
    d = one(HEAD + "  repeat 2 {\n    input y: float32[4]\n    dense(3)\n  }\n}\n")
    assert (where(d), d.message) == ((4, 5), "an input is declared in the model or in a block, not inside repeat")


def test_missing_model():
    for src in ("", "# only a comment\n", "block b() {\n  input x\n  dense(1)\n}\n"):
        d = one(src)
        assert (where(d), d.message, d.hint) == ((1, 1), "no model in this file", "add: model NAME { input x: float32[...] ... }")


def test_two_models():
    d = one(HEAD + "  dense(1)\n}\nmodel n {\n  input x: float32[4]\n  dense(1)\n}\n")
    assert (where(d), d.message, d.notes) == ((5, 7), "a file holds one model", ["the first is 'm' at f.spec:1:7"])


def test_model_without_input_or_layers():
    d = one("model m {\n}\n")
    assert (where(d), d.message, d.hint) == ((1, 7), "model 'm' has no input", "declare one: input x: float32[16]")
    d = one("model m {\n  dense(3)\n}\n")
    assert (where(d), d.message) == ((2, 3), "this layer has no input")


def test_a_layer_no_output_uses():
    # Keras would drop such a layer from the model (and the backends would disagree)
    err = errors(HEAD + "  a = x -> dense(3) -> relu\n  x -> dense(2)\n}\n")
    (d,) = err.diagnostics  # one error per unused branch, at its last layer
    assert (where(d), d.message, d.hint) == (
        (3, 24),
        "the result of 'relu' is not used by any output",
        "use it, list it in the outputs (output a, b), or remove it",
    )
    d = one(HEAD + "  y = dense(3)\n  repeat 2 {\n    y -> dense(3)\n  }\n}\n")  # the body ignores its input
    assert (where(d), d.message) == ((5, 10), "the result of 'repeat.0.dense' is not used by any output")
    # unused extra outputs of a layer are fine: the layer itself is used
    specc.loads("model m {\n  input s: float32[T, 4]\n  o, h, c = lstm(3, return_state=true)\n  h -> dense(2)\n}\n")


def test_from_logits_on_a_probability_output():
    d = one(HEAD + "  dense(3, activation=softmax)\n  train {\n    loss categorical_crossentropy(from_logits=true)\n  }\n}\n")
    assert where(d) == (5, 10)
    assert d.message == "categorical_crossentropy(from_logits=true), but the output 'dense' is already a probability (it ends in softmax)"


# --------------------------------------------------------------------------- several errors at once


def test_several_errors_in_one_file_are_reported_together():
    src = """model m {
  input x: float32[4]
  dens(3)
  dense(-1)
  conv2d(3) -> foo(2)
  a = x -> dense(2, activation=rellu)
  (a, b) -> add
  train {
    loss mse
    optimizer adamm
  }
}
"""
    err = errors(src)
    assert [(where(d), d.message) for d in err.diagnostics] == [
        ((3, 3), "unknown layer 'dens'"),
        ((4, 9), "dense.units: input should be greater than 0 (got -1)"),
        ((5, 3), "conv2d needs parameter 'kernel'"),
        ((5, 16), "unknown layer 'foo'"),
        ((6, 32), "unknown activation 'rellu' for dense.activation"),
        ((7, 7), "unknown tensor 'b'"),
        ((10, 15), "unknown optimizer 'adamm' for train.optimizer"),
    ]
    text = err.render()
    assert text.count(": error: ") == 7
    assert "\n\nf.spec:4:9: error: dense.units" in text  # one blank line between diagnostics


def test_an_error_does_not_cascade_into_its_users():
    src = HEAD + "  a = x -> dense(-3)\n  b = a -> dense(4)\n  (a, b) -> add\n  output b\n}\n"
    assert [d.message for d in errors(src).diagnostics] == ["dense.units: input should be greater than 0 (got -3)"]


def test_errors_in_block_bodies_say_where_the_block_was_called():
    src = "block enc(n) {\n  input x\n  dense(n - 5)\n}\nmodel m {\n  input x: float32[4]\n  enc(3)\n}\n"
    d = one(src)
    assert (where(d), d.message, d.notes) == ((3, 9), "dense.units: input should be greater than 0 (got -2)", ["in block 'enc' called at f.spec:7:3"])


def test_errors_in_repeat_say_which_repetition():
    d = one(HEAD + "  repeat 3 as i {\n    dense(2 - i)\n  }\n}\n")
    assert (where(d), d.message, d.notes) == ((4, 11), "dense.units: input should be greater than 0 (got 0)", ["in repetition 2 of the repeat at f.spec:3:3"])


# --------------------------------------------------------------------------- `specc check` exit codes


def run_check(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "specc", "check", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


def test_check_exit_codes(tmp_path):
    good = tmp_path / "good.spec"
    good.write_text(HEAD + "  dense(3)\n}\n")
    bad = tmp_path / "bad.spec"
    bad.write_text(HEAD + "  dens(3)\n  dense(-1)\n}\n")

    ok = run_check(str(good))
    assert (ok.returncode, ok.stderr) == (0, "")
    assert "Total params: 15 " in ok.stdout

    failed = run_check(str(bad))
    assert failed.returncode == 1
    assert failed.stdout == ""
    assert failed.stderr.startswith(f"{bad}:3:3: error: unknown layer 'dens'\n    3 |   dens(3)\n      |   ^^^^\n")
    assert f"{bad}:4:9: error: dense.units: input should be greater than 0 (got -1)" in failed.stderr
    assert "Traceback" not in failed.stderr

    both = run_check(str(good), str(bad))
    assert both.returncode == 1
    assert both.stderr.endswith("1 of 2 files have errors\n")
    assert "Model: m" in both.stdout

    missing = run_check(str(tmp_path / "nope.spec"))
    assert missing.returncode == 1
    assert missing.stderr.startswith(f"{tmp_path / 'nope.spec'}:1:1: error: no such file")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "specc check: error: the following arguments are required: FILE\n"),
        (["--no-such-option", "x.spec"], "specc: error: unrecognized arguments: --no-such-option\n"),
    ],
)
def test_check_bad_usage_exits_2(args, message):
    r = run_check(*args)
    assert r.returncode == 2
    assert r.stderr.startswith("usage: specc")
    assert r.stderr.endswith(message)
    assert r.stdout == ""


def test_repeat_after_a_failed_statement_is_an_error_not_a_crash():
    """A repeat whose chain input already failed reports the first error (was exit 3)."""
    e = errors("block b() {\n  input x\n  dense(2)\n}\nmodel m {\n  input x: float32[4]\n  relu = dense(3)\n  repeat 2 { b() }\n}\n")
    assert "is the name of a layer" in e.render()
