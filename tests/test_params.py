"""Parameter counts: the IR's numbers equal counts worked out by hand, and Keras' own
``count_params()`` of the model ``specc.build(..., "keras")`` makes from the same spec.

Conventions of the hand counts (Keras'): a kernel has ``fan_in × fan_out`` entries, a bias
one per output; recurrent layers have an input kernel ``(features, G·units)``, a recurrent
kernel ``(units, G·units)`` and a bias (G = 4 for LSTM, 3 for GRU, 1 for a simple RNN);
batch-norm's moving mean and variance are counted as non-trainable."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

import specc
from specc.ir.graph import Model

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.spec"))

# --------------------------------------------------------------------------- hand counts

EXAMPLES: dict[str, tuple[int, int]] = {  # file → (trainable, non-trainable)
    "mlp_binary.spec": (
        (20 * 64 + 64)  # dense(64) on 20 features: kernel 20×64 + bias 64 = 1,344
        + (64 * 1 + 1),  # dense(1): 64 + 1 = 65
        0,
    ),  # = 1,409
    "cnn_small.spec": (
        (3 * 3 * 3 * 32 + 32)  # conv2d(32, 3×3) on 3 channels: 864 + 32 = 896 → 32×32×32 (same)
        # maxpool2d(2) → 16×16×32, dropout: no weights
        + (3 * 3 * 32 * 64 + 64)  # conv2d(64, 3×3) on 32 channels: 18,432 + 64 = 18,496; maxpool → 8×8×64
        + (8 * 8 * 64 * 128 + 128)  # flatten → 4,096; dense(128): 524,288 + 128 = 524,416
        + (128 * 10 + 10),  # dense(10): 1,280 + 10 = 1,290
        0,
    ),  # = 545,098
    "digits_cnn.spec": (
        (3 * 3 * 1 * 32 + 32)  # conv2d(32, 3×3) on 1 channel: 288 + 32 = 320 → 8×8×32 (same)
        + (3 * 3 * 32 * 32 + 32)  # conv2d(32, 3×3): 9,216 + 32 = 9,248; maxpool2d(2) → 4×4×32
        + (4 * 4 * 32 * 64 + 64)  # flatten → 512; dense(64): 32,768 + 64 = 32,832
        + (64 * 10 + 10),  # dense(10): 650
        0,
    ),  # = 43,050
    "mnist_cnn.spec": (
        (3 * 3 * 1 * 32 + 32)  # conv2d(32, 3×3, valid): 320 → 26×26×32; maxpool → 13×13
        + (3 * 3 * 32 * 64 + 64)  # conv2d(64): 18,496 → 11×11×64; maxpool → 5×5 (floor)
        + (3 * 3 * 64 * 64 + 64)  # conv2d(64): 36,864 + 64 = 36,928 → 3×3×64
        + (3 * 3 * 64 * 64 + 64)  # flatten → 576; dense(64): 36,864 + 64 = 36,928
        + (64 * 10 + 10),  # dense(10): 650
        0,
    ),  # = 93,322
    "rnn_tagger.spec": (
        5000 * 32  # embedding(vocab=5000, dim=32): a 5,000×32 table = 160,000
        + (32 * 64 + 64 * 64 + 64)  # simple_rnn(64) on 32 features: 2,048 + 4,096 + 64 = 6,208
        + (64 * 12 + 12),  # dense(12) on each time step: 768 + 12 = 780
        0,
    ),  # = 166,988
    "text_bilstm.spec": (
        10000 * 64  # embedding: 640,000
        # bidirectional(lstm(64)) on 64 features, per direction: kernel 64×256 = 16,384,
        # recurrent kernel 64×256 = 16,384, one bias of 4·64 = 256 → 33,024; two directions
        + 2 * (64 * 4 * 64 + 64 * 4 * 64 + 4 * 64)  # = 66,048, output 2·64 = 128 (concat)
        + (128 * 64 + 64)  # dense(64): 8,192 + 64 = 8,256
        + (64 * 1 + 1),  # dense(1): 65
        0,
    ),  # = 714,369
    "transformer_classifier.spec": (
        2000 * 64  # embedding: 128,000
        + 2  # two encoder blocks (repeat 2), each:
        * (
            # multi_head_attention(heads=4, key_dim=64 // 4 = 16) on 64 features: query, key and
            # value kernels 64×4×16 = 4,096 with biases 4×16 = 64; output kernel 4×16×64 = 4,096
            # with bias 64 → 4 × 4,160 = 16,640
            4 * (64 * 4 * 16 + 4 * 16)
            + 2 * 64  # layer_norm: gamma 64 + beta 64 = 128
            + (64 * 256 + 256)  # dense(ff = 4·64 = 256): 16,384 + 256 = 16,640
            + (256 * 64 + 64)  # dense(64): 16,384 + 64 = 16,448
            + 2 * 64  # layer_norm: 128
        )  # = 49,984 per block
        + (64 * 4 + 4),  # global_avgpool1d → 64; dense(4): 260
        0,
    ),  # = 228,228
}

# Layers the examples do not use, in small specs of their own.
INLINE: dict[str, tuple[str, tuple[int, int]]] = {
    "batch_norm": (
        """model bn {
  input image: float32[8, 8, 3]
  conv2d(16, kernel=3, padding=same, use_bias=false)
  batch_norm
  relu
  conv2d(8, kernel=1)
  batch_norm(center=false, momentum=0.9)
  global_avgpool2d
  dense(4, trainable=false)
  layer_norm
}""",
        (
            3 * 3 * 3 * 16  # conv2d(16, 3×3) without bias: 432
            + 2 * 16  # batch_norm over 16 channels: gamma 16 + beta 16 trainable …
            + (1 * 1 * 16 * 8 + 8)  # conv2d(8, 1×1): 128 + 8 = 136
            + 8  # batch_norm(center=false): gamma 8 only
            + 2 * 4,  # layer_norm over 4 features: gamma 4 + beta 4
            2 * 16  # … and moving mean 16 + moving variance 16 non-trainable
            + 2 * 8  # the second batch_norm's statistics
            + (8 * 4 + 4),  # dense(4, trainable=false): its 36 weights are frozen
        ),  # = (616, 84)
    ),
    "gru": (
        "model g {\n  input s: float32[T, 5]\n  gru(8, return_sequences=true)\n  gru(3, reset_after=false)\n}",
        (
            # gru(8) on 5 features, reset_after (default): kernel 5×24 = 120, recurrent 8×24 = 192,
            # bias (2, 24) = 48 (input and recurrent biases)
            (5 * 3 * 8 + 8 * 3 * 8 + 2 * 3 * 8)  # = 360
            + (8 * 3 * 3 + 3 * 3 * 3 + 3 * 3),  # gru(3, reset_after=false): 72 + 27 + one bias 9 = 108
            0,
        ),
    ),
    "lstm": (
        "model l {\n  input s: float32[T, 4]\n  out, h, c = lstm(6, return_state=true)\n  (h, c) -> add -> dense(2)\n}",
        (
            (4 * 4 * 6 + 6 * 4 * 6 + 4 * 6)  # lstm(6) on 4 features: 96 + 144 + 24 = 264
            + (6 * 2 + 2),  # dense(2): 14
            0,
        ),
    ),
    "bidirectional_sum": (
        "model b {\n  input s: float32[T, 3]\n  bidirectional(simple_rnn(5), merge=sum)\n}",
        (2 * (3 * 5 + 5 * 5 + 5), 0),  # two simple_rnn(5) on 3 features: 2 × (15 + 25 + 5) = 90
    ),
    "attention": (
        """model a {
  input q: float32[T, 6]
  input v: float32[S, 10]
  (q, v) -> multi_head_attention(2, 3, value_dim=5, output_dim=7)
}""",
        (
            (6 * 2 * 3 + 2 * 3)  # query kernel: 6 query features × 2 heads × key_dim 3 = 36, bias 2×3 = 6
            + (10 * 2 * 3 + 2 * 3)  # key kernel from the 10 value features: 60 + 6
            + (10 * 2 * 5 + 2 * 5)  # value kernel: 10 × 2 heads × value_dim 5 = 100, bias 10
            + (2 * 5 * 7 + 7),  # output kernel (2 heads × 5) × 7 = 70, bias 7
            0,
        ),  # = 295
    ),
    "convolutions": (
        """model c {
  input image: float32[8, 8, 3]
  input seq: float32[T, 5]
  a = image -> depthwise_conv2d(kernel=3, depth_multiplier=2)
  b = image -> separable_conv2d(8, kernel=3)
  c = image -> conv2d_transpose(4, kernel=2, stride=2)
  d = image -> conv2d(6, kernel=3, groups=3)
  e = seq -> conv1d(4, kernel=3)
  output a, b, c, d, e
}""",
        (
            (3 * 3 * 3 * 2 + 3 * 2)  # depthwise: 3×3 window × 3 channels × multiplier 2 = 54, bias 6
            + (3 * 3 * 3 + 3 * 8 + 8)  # separable: depthwise 27 + pointwise 3×8 = 24 + bias 8 = 59
            + (2 * 2 * 3 * 4 + 4)  # conv2d_transpose(4, 2×2) from 3 channels: 48 + 4 = 52
            + (3 * 3 * (3 // 3) * 6 + 6)  # grouped conv: each of 3 groups sees 1 channel: 54 + 6 = 60
            + (3 * 5 * 4 + 4),  # conv1d(4, kernel 3) on 5 features: 60 + 4 = 64
            0,
        ),  # = 295
    ),
    "embedding_frozen": (
        "model e {\n  input ids: int32[12]\n  embedding(100, 8, trainable=false)\n  flatten\n  dense(3)\n}",
        (12 * 8 * 3 + 3, 100 * 8),  # dense on 96 features: 291; the frozen 100×8 table: 800
    ),
}


@functools.cache
def load(name: str) -> Model:
    if name in INLINE:
        return specc.loads(INLINE[name][0], f"{name}.spec")
    return specc.load(ROOT / "specs" / name)


def expected(name: str) -> tuple[int, int]:
    return INLINE[name][1] if name in INLINE else EXAMPLES[name]


def test_examples_are_all_counted():
    # the hand counts above cover the examples this branch ships with
    assert set(EXAMPLES) <= {p.name for p in SPECS}
    assert len(EXAMPLES) >= 7


def test_example_totals_as_written():
    assert {n: sum(expected(n)) for n in EXAMPLES} == {
        "mlp_binary.spec": 1_409,
        "cnn_small.spec": 545_098,
        "digits_cnn.spec": 43_050,
        "mnist_cnn.spec": 93_322,
        "rnn_tagger.spec": 166_988,
        "text_bilstm.spec": 714_369,
        "transformer_classifier.spec": 228_228,
    }
    assert expected("batch_norm") == (616, 84)


@pytest.mark.parametrize("name", [*EXAMPLES, *INLINE])
def test_ir_counts_equal_the_hand_counts(name):
    assert load(name).count_params() == expected(name)


def test_weight_shapes_of_one_layer_of_each_kind():
    bn = load("batch_norm")
    shapes = {f"{n.name}.{w.name}": (w.shape, w.trainable) for n, w in bn.weights()}
    assert shapes["batch_norm.gamma"] == ((16,), True)
    assert shapes["batch_norm.moving_mean"] == ((16,), False)
    assert shapes["batch_norm.moving_variance"] == ((16,), False)
    assert "batch_norm_1.beta" not in shapes  # center=false
    lstm = {w.name: w.shape for _, w in load("text_bilstm.spec").weights() if w.name.startswith("forward")}
    assert lstm == {"forward.kernel": (64, 256), "forward.recurrent_kernel": (64, 256), "forward.bias": (256,)}
    mha = {w.name: w.shape for n, w in load("attention").weights()}
    assert mha == {
        "query_kernel": (6, 2, 3),
        "query_bias": (2, 3),
        "key_kernel": (10, 2, 3),
        "key_bias": (2, 3),
        "value_kernel": (10, 2, 5),
        "value_bias": (2, 5),
        "output_kernel": (2, 5, 7),
        "output_bias": (7,),
    }


# --------------------------------------------------------------------------- against Keras


def keras_lowerable(model: Model) -> bool:
    """Whether the keras backend can build this model today (others are adding layers)."""
    from specc.backends.keras.plan import make_plan

    try:
        make_plan(model)
    except specc.SpecError:
        return False
    return True


@functools.cache
def keras_counts(name: str) -> tuple[int, int, int] | None:
    """(count_params, trainable, non-trainable) of the Keras model; built once per spec."""
    model = load(name)
    if not keras_lowerable(model):
        return None
    km = specc.build(model, "keras")
    trainable = sum(int(np.prod(w.shape)) for w in km.trainable_weights)
    frozen = sum(int(np.prod(w.shape)) for w in km.non_trainable_weights)
    return km.count_params(), trainable, frozen


def test_keras_can_build_the_basic_examples():
    # the comparison below is not vacuous: these lower today
    for name in ("mlp_binary.spec", "cnn_small.spec", "digits_cnn.spec", "mnist_cnn.spec", "batch_norm"):
        assert keras_counts(name) is not None, name


@pytest.mark.parametrize("name", [*(p.name for p in SPECS), *INLINE])
def test_ir_counts_equal_keras_count_params(name):
    counts = keras_counts(name)
    trainable, frozen = load(name).count_params()
    if counts is None:  # a layer the keras backend cannot lower yet: its plan says so
        with pytest.raises(specc.SpecError, match="the keras backend cannot lower layer"):
            from specc.backends.keras.plan import make_plan

            make_plan(load(name))
        return
    assert counts == (trainable + frozen, trainable, frozen)
