"""Custom Keras layers (a ``Layer`` subclass with a Python ``call``), as keras.io writes
them: traced into their built-in layers and ``keras.ops`` calls, imported under their own
name, checked against the source by `verify --against` (forward, loss, gradients, steps);
a planted difference is named; a call() that cannot be traced is a clean error naming it.
(The full-size keras.io transformer's round trip is in test_import_keras.py.)"""

from __future__ import annotations

import pytest

import specc
from specc.importers import ImportFailure, import_model
from tests.import_support import keras_dtype, reference

keras = pytest.importorskip("keras")
from keras import layers, ops  # noqa: E402

R = reference("keras_transformer_classifier")
# DIM = key_dim = 4: 1/√4 is a float32 number, so Keras' float32-rounded attention scale
# (see test_float64_keras_attention_scale_is_explained) is exact and float64 is bit-tight
MAXLEN, VOCAB, DIM = 12, 40, 4
# lr and momentum float32 numbers: Keras keeps a float64 optimizer's learning rate in float32
TRAIN = "  train {\n    loss sparse_categorical_crossentropy\n    optimizer sgd(lr=0.25, momentum=0.5)\n  }\n"


def small_transformer(block_cls=R.TransformerBlock, emb_cls=R.TokenAndPositionEmbedding, dim=DIM):
    """keras.io's text classifier with its custom layers, at a test's size."""
    inputs = layers.Input(shape=(MAXLEN,))
    x = emb_cls(MAXLEN, VOCAB, dim)(inputs)
    x = block_cls(dim, 2, 8)(x)
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dense(6, activation="relu")(x)
    outputs = layers.Dense(2, activation="softmax")(x)
    return keras.Model(inputs=inputs, outputs=outputs)


class SloppyBlock(R.TransformerBlock):
    """A port with ε = 1e-3 in its first layer norm (the source has 1e-6)."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.layernorm1 = layers.LayerNormalization(epsilon=1e-3)


def _spec(text: str) -> specc.Model:
    body = text.rstrip()
    return specc.loads(body[:-1] + TRAIN + "}\n")


@pytest.fixture(scope="module")
def spec():
    with keras_dtype("float64"):
        src = small_transformer()
    result = import_model(src)
    assert "positions(" in result.text and "block transformer_block" in result.text, result.text
    assert result.model.inputs[0].type.dtype == "int32"  # float ids in the source, read by embeddings only
    return _spec(result.text)


def test_traced_layers_keep_their_scope_and_weights(spec):
    """Layer names are Keras' (numbered across the process: ``embedding_7`` in a long run),
    scoped by the custom layer's name."""
    import re

    from specc.weights import init_weights

    shapes = {k: v.shape for k, v in init_weights(spec, 0).items()}
    tables = {k: s for k, s in shapes.items() if re.fullmatch(r"token_and_position_embedding(_\d+)?\.embedding(_\d+)?\.embeddings", k)}
    assert sorted(tables.values()) == [(MAXLEN, DIM), (VOCAB, DIM)], shapes  # the token and the positional table
    assert any(re.fullmatch(r"transformer_block(_\d+)?\.multi_head_attention(_\d+)?\.query_kernel", k) for k in shapes), shapes
    assert any(re.fullmatch(r"transformer_block(_\d+)?\.sequential(_\d+)?\.dense(_\d+)?\.kernel", k) for k in shapes), shapes


def test_verify_against_the_source_passes_and_a_planted_epsilon_is_named(spec):
    good = specc.verify(spec, against=small_transformer, dtype="float64", steps=2)
    assert good.ok, good.render_text(compact=True)
    assert {"loss", "step 2"} <= {r.phase for r in good.rows}
    bad = specc.verify(spec, against=lambda: small_transformer(block_cls=SloppyBlock), dtype="float64", steps=1)
    assert not bad.ok
    assert "transformer_block" in bad.first_failure.name, bad.render_text(compact=True)


def test_float64_keras_attention_scale_is_explained():
    """Keras' MultiHeadAttention rounds 1/√key_dim to float32 (tf.cast of a Python float):
    with key_dim 8 a float64 port differs from the spec by ~1e-8 relative in its
    gradients — a real difference, named, and the report says why; float32 passes."""
    with keras_dtype("float64"):
        src = small_transformer(dim=8)
    spec8 = _spec(import_model(src).text)
    report = specc.verify(spec8, against=lambda: small_transformer(dim=8), dtype="float64", steps=1)
    assert not report.ok and report.first_failure.phase == "gradient", report.render_text(compact=True)
    assert any("float32 number: for key_dim 8" in n for n in report.notes)
    assert all(r.ok for r in report.rows if r.phase == "forward")
    assert specc.verify(spec8, against=lambda: small_transformer(dim=8), dtype="float32", steps=1).ok


class ConstantPositions(layers.Layer):
    """Positions from a stored maxlen (a constant table, not the input's time axis)."""

    def __init__(self):
        super().__init__()
        self.pos = layers.Embedding(MAXLEN, DIM)
        self.tok = layers.Embedding(VOCAB, DIM)

    def call(self, x):
        return self.tok(x) + self.pos(ops.arange(0, MAXLEN))


class TensorflowInside(layers.Layer):
    """A call() with a TensorFlow function: Keras builds it (its build traces with TF
    tensors), but keras.ops is the language of a trace."""

    def call(self, x):
        import tensorflow as tf

        return x * tf.reduce_sum(x, axis=-1, keepdims=True)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: ConstantPositions(), "constant operand"),
        (lambda: TensorflowInside(), "could not be traced"),
    ],
    ids=["constant-positions", "tensorflow-in-call"],
)
def test_untraceable_calls_are_clean_errors_naming_the_layer(make, message):
    inputs = layers.Input(shape=(MAXLEN,), dtype="int32" if message == "constant operand" else "float32")
    layer = make()
    out = layer(inputs)
    model = keras.Model(inputs, layers.Flatten()(out) if len(out.shape) > 2 else out)
    with pytest.raises(ImportFailure) as e:
        import_model(model)
    msg = str(e.value)
    assert message in msg and type(layer).__name__.lower()[:8] in msg.lower().replace("_", ""), msg


def test_nested_sequential_inside_a_functional_model_verifies_against():
    """The layers of a nested Sequential are not tensors of the outer model: verify probes
    the nested model's output only (was an internal error)."""

    def make():
        inp = layers.Input(shape=(5,))
        inner = keras.Sequential([layers.Dense(4, activation="tanh"), layers.Dense(3)], name="inner")
        return keras.Model(inp, layers.Dense(2)(inner(inp)))

    with keras_dtype("float64"):
        src = make()
    text = import_model(src).text
    spec = specc.loads(text.rstrip()[:-1] + "  train {\n    loss mse\n    optimizer sgd(lr=0.1)\n  }\n}\n")
    report = specc.verify(spec, against=make, dtype="float64", steps=1)
    assert report.ok, report.render_text(compact=True)


def test_float64_keras_momentum_rounding_is_explained():
    """keras.optimizers.SGD casts its momentum with ops.cast of a Python float (float32 first
    in TensorFlow): momentum 0.9 makes a float64 port's second step differ by ~1e-9 relative
    — named, with why; 0.5 (a float32 number) is exact."""

    def make():
        inp = layers.Input(shape=(5,))
        return keras.Model(inp, layers.Dense(2)(layers.Dense(4, activation="tanh")(inp)))

    with keras_dtype("float64"):
        text = import_model(make()).text

    def spec(momentum):
        return specc.loads(text.rstrip()[:-1] + f"  train {{\n    loss mse\n    optimizer sgd(lr=0.25, momentum={momentum})\n  }}\n}}\n")

    bad = specc.verify(spec(0.9), against=make, dtype="float64", steps=2)
    assert not bad.ok and bad.first_failure.phase == "step 2", bad.render_text(compact=True)
    assert any("momentum 0.9 are rounded to float32" in n for n in bad.notes), bad.notes
    good = specc.verify(spec(0.5), against=make, dtype="float64", steps=2)
    assert good.ok and not any("rounded to float32" in n for n in good.notes), good.render_text(compact=True)
