"""Property: any valid spec built from the vocabulary means the same function in both
backends.  Hypothesis draws random specs (a few per run, different each run) and
`specc verify` must pass in float64 over forward, loss, gradients and optimizer steps."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import specc
from specc.verification import verify

ACTS = ["relu", "tanh", "sigmoid", "gelu", "gelu(approximate=true)", "leaky_relu(0.1)", "elu", "selu", "silu", "softplus", "hard_sigmoid", "linear"]


@st.composite
def image_layer(draw):
    kind = draw(st.sampled_from(["conv2d", "depthwise_conv2d", "separable_conv2d", "pool", "batch_norm", "act"]))
    act = draw(st.sampled_from(ACTS))
    pad = draw(st.sampled_from(["same", "valid", "1"]))
    stride = draw(st.sampled_from([1, 1, 2]))
    k = draw(st.sampled_from([1, 2, 3]))
    if kind == "conv2d":
        return f"conv2d({draw(st.integers(2, 5))}, kernel={k}, stride={stride}, padding={pad}, activation={act})"
    if kind == "depthwise_conv2d":
        return f"depthwise_conv2d({k}, depth_multiplier={draw(st.integers(1, 2))}, padding={pad}, activation={act})"
    if kind == "separable_conv2d":
        return f"separable_conv2d({draw(st.integers(2, 4))}, {k}, stride={stride}, padding={pad})"
    if kind == "pool":
        layer = draw(st.sampled_from(["maxpool2d", "avgpool2d"]))
        return f"{layer}(2, padding={draw(st.sampled_from(['same', 'valid']))})"
    if kind == "batch_norm":
        return f"batch_norm(momentum={draw(st.sampled_from([0.9, 0.99]))})"
    return act


@st.composite
def sequence_layer(draw):
    kind = draw(st.sampled_from(["conv1d", "rnn", "dense", "layer_norm", "attention", "pool"]))
    if kind == "conv1d":
        return f"conv1d({draw(st.integers(2, 5))}, kernel={draw(st.integers(1, 3))}, padding={draw(st.sampled_from(['same', 'causal']))}, activation={draw(st.sampled_from(ACTS))})"
    if kind == "rnn":
        cell = draw(st.sampled_from(["lstm", "gru", "simple_rnn"]))
        layer = f"{cell}({draw(st.integers(2, 5))}, return_sequences=true)"
        return f"bidirectional({layer}, merge={draw(st.sampled_from(['concat', 'sum', 'ave', 'mul']))})" if draw(st.booleans()) else layer
    if kind == "dense":
        return f"dense({draw(st.integers(2, 6))}, activation={draw(st.sampled_from(ACTS))})"
    if kind == "attention":
        return f"multi_head_attention({draw(st.integers(1, 2))}, {draw(st.integers(2, 4))}, causal={draw(st.sampled_from(['true', 'false']))})"
    if kind == "pool":
        return "maxpool1d(2, padding=same)"
    return "layer_norm"


LOSSES = [
    ("mse", "linear", 3),
    ("huber(0.5)", "linear", 2),
    ("categorical_crossentropy(label_smoothing=0.1)", "softmax", 3),
    ("sparse_categorical_crossentropy", "softmax", 4),
    ("sparse_categorical_crossentropy(from_logits=true)", "linear", 3),
    ("binary_crossentropy", "sigmoid", 1),
    ("kl_divergence", "softmax", 3),
]
OPTIMIZERS = [
    "sgd(lr=0.05, momentum=0.9, nesterov=true)",
    "adam(lr=0.01, amsgrad=true)",
    "adamw(lr=0.01, weight_decay=0.05, clip_norm=0.5)",
    "rmsprop(lr=0.01, centered=true, momentum=0.3)",
    "adagrad(lr=0.05, initial_accumulator=0.1)",
    "adadelta(lr=1.0, clip_value=0.2)",
]


@st.composite
def specs(draw):
    kind = draw(st.sampled_from(["image", "sequence", "tokens", "vector"]))
    lines = []
    if kind == "image":
        h = draw(st.integers(5, 8))
        lines.append(f"input x: float32[{h}, {h + 1}, {draw(st.integers(1, 3))}]")
        lines += [draw(image_layer()) for _ in range(draw(st.integers(1, 3)))]
        lines.append(draw(st.sampled_from(["flatten", "global_avgpool2d", "global_maxpool2d"])))
    elif kind in ("sequence", "tokens"):
        if kind == "tokens":
            lines.append(f"input x: int32[{draw(st.sampled_from(['5', 'T']))}]")
            lines.append(f"embedding({draw(st.integers(5, 20))}, {draw(st.integers(2, 6))})")
        else:
            lines.append(f"input x: float32[{draw(st.integers(3, 6))}, {draw(st.integers(2, 5))}]")
        lines += [draw(sequence_layer()) for _ in range(draw(st.integers(1, 3)))]
        lines.append(draw(st.sampled_from(["global_avgpool1d", "global_maxpool1d", "lstm(3)", "gru(3, reset_after=false)"])))
    else:
        lines.append(f"input x: float32[{draw(st.integers(2, 8))}]")
        for _ in range(draw(st.integers(1, 3))):
            lines.append(draw(st.sampled_from([f"dense({draw(st.integers(2, 6))}, activation={draw(st.sampled_from(ACTS))}, reg=l2(0.01))", "batch_norm", "layer_norm", "dropout(0.3)"])))
    loss, act, units = draw(st.sampled_from(LOSSES))
    lines.append(f"dense({units}, activation={act})")
    lines.append(f"train {{ loss {loss}; optimizer {draw(st.sampled_from(OPTIMIZERS))} }}")
    return "model random_spec {\n  " + "\n  ".join(lines) + "\n}\n"


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck), print_blob=True)
@given(specs())
def test_random_specs_are_equivalent(text):
    model = specc.loads(text)
    report = verify(model, dtype="float64", steps=2, batch=3)
    assert report.ok, text + "\n" + report.render_text()
