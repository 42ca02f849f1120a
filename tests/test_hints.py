"""Errors that teach: each habit from Keras, PyTorch or NumPy gets a targeted message
(one test per message, asserting where it points and what it says)."""

from __future__ import annotations

import pytest

import specc
from specc.errors import Diagnostic


def one(src: str) -> Diagnostic:
    with pytest.raises(specc.SpecError) as e:
        specc.loads(src, "f.spec")
    assert len(e.value.diagnostics) == 1, str(e.value)
    return e.value.diagnostics[0]


def at(d: Diagnostic) -> tuple[int, int]:
    return d.span.line, d.span.col


def model(*lines: str, x: str = "float32[8]") -> str:
    return "model m {\n  input x: " + x + "\n" + "".join(f"  {ln}\n" for ln in lines) + "}\n"


def test_tuple_becomes_a_list():
    d = one(model("conv2d(32, (3, 3))", x="float32[8, 8, 1]"))
    assert at(d) == (3, 16) and d.message == "unexpected ','"
    assert d.hint == "specc writes lists with brackets, not tuples: [3, 3]"


def test_grouping_parentheses_and_tensor_tuples_get_no_tuple_hint():
    d = one(model("dense((3 4))"))
    assert "tuple" not in (d.hint or "")
    d = one(model("(x, x -> add"))
    assert "tuple" not in (d.hint or "")


def test_positional_activation_is_named():
    d = one(model("dense(128, relu)"))
    assert at(d) == (3, 14) and d.message == "dense takes 1 positional argument (units)"
    assert d.hint == "pass it by name: dense(…, activation=relu)"


def test_positional_padding_mode_and_initialiser_are_named():
    assert one(model("conv2d(8, 3, same)", x="float32[8, 8, 1]")).hint == "pass it by name: conv2d(…, padding=same)"
    assert one(model("dense(4, leaky_relu(0.2))")).hint == "pass it by name: dense(…, activation=leaky_relu(…))"


def test_names_are_case_sensitive():
    d = one(model("dense(128, activation=Relu)"))
    assert at(d) == (3, 25) and d.message == "unknown activation 'Relu' for dense.activation"
    assert d.hint == "names are case-sensitive: did you mean 'relu'?"
    assert one(model("Dense(3)")).hint == "names are case-sensitive: did you mean 'dense'?"


@pytest.mark.parametrize(
    "written, ours, framework",
    [("learning_rate", "lr", "Keras"), ("beta_1", "beta1", "Keras"), ("clipnorm", "clip_norm", "Keras"), ("eps", "epsilon", "PyTorch")],
)
def test_keras_parameter_names(written, ours, framework):
    d = one(model("dense(1)", f"train {{\n    loss mse\n    optimizer adam({written}=1e-3)\n  }}"))
    assert at(d) == (6, 20) and d.message == f"adam has no parameter '{written}'"
    assert d.hint == f"specc calls it '{ours}' ({framework}: {written})"


def test_keras_layer_parameter_names():
    with pytest.raises(specc.SpecError) as e:
        specc.loads(model("conv2d(8, kernel_size=3, strides=2)", x="float32[8, 8, 1]"))
    hints = [d.hint for d in e.value.diagnostics]
    assert hints[:2] == ["specc calls it 'kernel' (Keras: kernel_size)", "specc calls it 'stride' (Keras: strides)"]


def test_float_means_float32():
    d = one("model m {\n  input x: float[8]\n  dense(1)\n}\n")
    assert at(d) == (2, 12) and d.message == "unknown dtype 'float'"
    assert d.hint == "specc names the width: did you mean 'float32'?"
    assert one("model m {\n  input x: double[8]\n  dense(1)\n}\n").hint == "specc names the width: did you mean 'float64'?"


def test_setting_with_colon():
    d = one(model("dense(1)", "train {\n    loss: mse\n  }"))
    assert at(d) == (5, 9) and d.message == "unexpected ':'"
    assert d.hint == "a setting is a key, a space and a value, without ':': loss mse"
    assert one(model("dense(1)", "train {\n    epochs = 3\n  }")).hint == "a setting is a key, a space and a value, without '=': epochs 3"


def test_none_is_not_a_dimension():
    d = one("model m {\n  input x: float32[None, 3]\n  dense(1)\n}\n")
    assert at(d) == (2, 20) and d.message == "'None' is not a dimension here"
    assert d.hint.startswith("write ? for a size known only at run time")


def test_missing_paren_is_reported_at_the_bracket():
    d = one(model("dense(10, activation=relu", "dense(3)"))
    assert at(d) == (3, 8) and d.message == "this '(' is not closed"
    assert d.hint == "add ')' where its contents end (before line 4)"
    assert d.notes == ["at 4:3 the parser still read inside it: unexpected 'dense'"]


def test_missing_bracket_at_the_end_of_the_file():
    d = one("model m {\n  input x: float32[8\n")
    assert at(d) == (2, 19) and d.message == "this '[' is not closed"


def test_rank_mismatch_in_add():
    d = one("model m {\n  input a: float32[32, 32]\n  input b: float32[32]\n  (a, b) -> add\n}\n")
    assert at(d) == (4, 13) and d.message == "add needs inputs of the same shape, got [batch, 32, 32] and [batch, 32]"
    assert d.hint == (
        "the ranks differ; '+' broadcasts per example as NumPy does (x = a + b adds the [batch, 32] "
        "to every [batch, 32] slice of the [batch, 32, 32]); add needs one shape"
    )
    specc.loads("model m {\n  input a: float32[32, 32]\n  input b: float32[32]\n  a + b\n}\n")


def test_image_channel_mismatch_suggests_a_1x1_convolution():
    d = one(model("f = x -> conv2d(32, 3, padding=same)", "(x, f) -> add", x="float32[8, 8, 16]"))
    assert d.hint == "the channels differ: project the shortcut with a 1×1 convolution, conv2d(32, kernel=1)"


def test_image_size_mismatch_suggests_strides_or_padding():
    d = one(model("f = x -> conv2d(16, 3, stride=2, padding=same)", "(x, f) -> add", x="float32[8, 8, 16]"))
    assert d.hint.startswith("the image sizes differ")


def test_classification_metrics_need_a_classification_loss():
    d = one(model("dense(1)", "train {\n    loss mse\n    metrics [accuracy, f1]\n  }"))
    assert at(d) == (6, 13)
    assert d.message == "metrics accuracy, f1 measure classification, but the loss mse trains a regression (real-valued targets)"
    assert d.hint.startswith("use metrics [mae]")
    specc.loads(model("dense(1)", "train {\n    loss mse\n    metrics [mae]\n  }"))
    specc.loads(model("dense(2, activation=softmax)", "train {\n    loss categorical_crossentropy\n    metrics [accuracy, f1]\n  }"))
