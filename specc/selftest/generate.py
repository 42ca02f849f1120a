"""Random valid specs drawn from the whole vocabulary, and shrinking of failing ones.

A spec is kept as a list of statements ``name = (inputs) -> layer`` (a graph: branches
from any earlier tensor, merged by add, multiply or concat), an input, a head and a train
section, so that shrinking can remove statements and simplify options.  Drawing uses a
``random.Random``: ``specc fuzz`` seeds one, the property test lets Hypothesis drive one.
Candidates that the front end rejects (shapes that do not fit) are redrawn — what remains
is valid by construction of the checker, not of this generator."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

__all__ = ["Draft", "draw_spec", "shrink", "ACTS", "LOSSES", "OPTIMIZERS", "SCHEDULES"]

ACTS = [
    "relu", "tanh", "sigmoid", "gelu", "gelu(approximate=true)", "leaky_relu(0.2)", "elu(alpha=0.7)", "selu", "silu",
    "softplus", "hard_sigmoid", "relu6", "linear",
]
INITS = [
    "glorot_uniform", "glorot_normal", "he_normal", "he_uniform", "lecun_normal", "lecun_uniform", "orthogonal(gain=0.9)",
    "random_normal(stddev=0.3)", "random_uniform(minval=-0.3, maxval=0.3)", "truncated_normal(stddev=0.2)",
    "variance_scaling(scale=2.0, mode=fan_avg, distribution=uniform)", "xavier_normal(gain=1.2)",
    "kaiming_uniform(a=0.1, mode=fan_out)", "kaiming_normal(nonlinearity=relu)",
]
REGS = ["l2(0.01)", "l1(0.01)", "l1_l2(l1=0.01, l2=0.01)"]
# (loss, activation of the last layer, units of the last layer: None = any)
LOSSES = [
    ("mse", "linear", None),
    ("mae", "tanh", None),
    ("huber(delta=0.5)", "linear", None),
    ("categorical_crossentropy(label_smoothing=0.1)", "softmax", None),
    ("categorical_crossentropy(from_logits=true)", "linear", None),
    ("sparse_categorical_crossentropy", "softmax", None),
    ("sparse_categorical_crossentropy(from_logits=true, label_smoothing=0.1)", "linear", None),
    ("binary_crossentropy", "sigmoid", None),
    ("binary_crossentropy(from_logits=true, label_smoothing=0.1)", "linear", None),
    ("kl_divergence", "softmax", None),
]
OPTIMIZERS = [
    "sgd(lr=0.05)",
    "sgd(lr=0.05, momentum=0.9, nesterov=true)",
    "sgd(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)",
    "adam(lr=0.01)",
    "adam(lr=0.01, amsgrad=true, epsilon=0.001, clip_norm=0.5)",
    "adamw(lr=0.01, weight_decay=0.05, clip_value=0.1)",
    "rmsprop(lr=0.01)",
    "rmsprop(lr=0.01, centered=true, momentum=0.3)",
    "adagrad(lr=0.05, initial_accumulator=0.1, lr_decay=0.01)",
    "adadelta(lr=1.0, rho=0.8)",
]
SCHEDULES = ["", "schedule step(step_size=1, gamma=0.5)", "schedule exponential(decay_steps=2, decay_rate=0.5, staircase=true)", "schedule cosine(decay_steps=3, alpha=0.1, warmup_steps=1)"]


@dataclass(frozen=True)
class Stmt:
    name: str
    inputs: tuple[str, ...]
    layer: str


@dataclass(frozen=True)
class Draft:
    """A spec in pieces (see the module docstring); ``text()`` renders it."""

    input: str  # e.g. "float32[6, 7, 2]"
    stmts: tuple[Stmt, ...]
    head: tuple[str, ...]  # layers from the last tensor to the output, e.g. ("flatten", "dense(3, activation=softmax)")
    loss: str
    optimizer: str
    schedule: str = ""
    name: str = "fuzz"

    def text(self) -> str:
        lines = [f"model {self.name} {{", f"  input x: {self.input}"]
        last = "x"
        for s in self.stmts:
            src = s.inputs[0] if len(s.inputs) == 1 else "(" + ", ".join(s.inputs) + ")"
            lines.append(f"  {s.name} = {src} -> {s.layer}")
            last = s.name
        lines.append(f"  {last} -> " + " -> ".join(self.head))
        train = f"loss {self.loss}; optimizer {self.optimizer}" + (f"; {self.schedule}" if self.schedule else "")
        lines.append(f"  train {{ {train} }}")
        lines.append("}")
        return "\n".join(lines) + "\n"


@dataclass
class _Kind:
    name: str
    rank: int  # 1 vector, 2 sequence, 3 image (without batch)
    tensors: list[str] = field(default_factory=list)


def _c(r: random.Random, options):
    return options[r.randrange(len(options))]


def _image_layer(r: random.Random) -> str:
    k = _c(r, [1, 2, 3])
    pad = _c(r, ["same", "valid"])
    act = _c(r, ACTS)
    kind = _c(r, ["conv2d", "conv2d", "depthwise_conv2d", "separable_conv2d", "conv2d_transpose", "maxpool2d", "avgpool2d", "batch_norm", "activation", "dropout"])
    if kind == "conv2d":
        extra = _c(r, ["", ", stride=2", ", dilation=2", ", groups=2", ", use_bias=false", f", init={_c(r, INITS)}", f", reg={_c(r, REGS)}"])
        return f"conv2d({r.randint(2, 4) * 2}, kernel={k}, padding={pad}, activation={act}{extra})"
    if kind == "depthwise_conv2d":
        return f"depthwise_conv2d({k}, depth_multiplier={r.randint(1, 2)}, padding={pad}, activation={act}{_c(r, ['', ', stride=2', ', use_bias=false'])})"
    if kind == "separable_conv2d":
        return f"separable_conv2d({r.randint(2, 4)}, {k}, depth_multiplier={r.randint(1, 2)}, padding={pad}{_c(r, ['', ', stride=2'])})"
    if kind == "conv2d_transpose":
        return f"conv2d_transpose({r.randint(2, 4)}, kernel={k}, stride={_c(r, [1, 2])}, padding={pad}, activation={act})"
    if kind in ("maxpool2d", "avgpool2d"):
        return f"{kind}({_c(r, [2, 3])}, stride={_c(r, [1, 2])}, padding={_c(r, ['same', 'valid'])})"
    if kind == "batch_norm":
        return f"batch_norm(momentum={_c(r, [0.9, 0.99])}, epsilon={_c(r, [0.001, 0.01])}{_c(r, ['', ', center=false', ', scale=false'])})"
    if kind == "dropout":
        return "dropout(0.3)"
    return f"activation({act})"


def _sequence_layer(r: random.Random) -> str:
    kind = _c(r, ["conv1d", "rnn", "rnn", "dense", "layer_norm", "attention", "pool", "activation", "batch_norm"])
    if kind == "conv1d":
        return f"conv1d({r.randint(2, 5)}, kernel={r.randint(1, 3)}, padding={_c(r, ['same', 'causal', 'valid'])}{_c(r, ['', ', dilation=2', ', stride=2'])}, activation={_c(r, ACTS)})"
    if kind == "rnn":
        cell = _c(r, ["lstm", "gru", "gru", "simple_rnn"])
        opts = _c(r, ["", ", go_backwards=true", ", use_bias=false", ", activation=sigmoid", ", reset_after=false" if cell == "gru" else ", unit_forget_bias=false" if cell == "lstm" else ""])
        layer = f"{cell}({r.randint(2, 5)}, return_sequences=true{opts})"
        if r.random() < 0.4 and "go_backwards" not in opts:
            return f"bidirectional({layer}, merge={_c(r, ['concat', 'sum', 'ave', 'mul'])})"
        return layer
    if kind == "dense":
        return f"dense({r.randint(2, 6)}, activation={_c(r, ACTS)})"
    if kind == "attention":
        return f"multi_head_attention({r.randint(1, 2)}, {r.randint(2, 4)}{_c(r, ['', ', causal=true', ', value_dim=3', ', output_dim=4', ', use_bias=false'])})"
    if kind == "pool":
        return f"{_c(r, ['maxpool1d', 'avgpool1d'])}({_c(r, [2, 3])}, stride={_c(r, [1, 2])}, padding={_c(r, ['same', 'valid'])})"
    if kind == "activation":
        return f"activation({_c(r, ACTS + ['softmax(axis=1)', 'log_softmax'])})"
    if kind == "batch_norm":
        return "batch_norm"
    return f"layer_norm(epsilon={_c(r, [0.001, 1e-5])})"


def _vector_layer(r: random.Random) -> str:
    return _c(
        r,
        [
            f"dense({r.randint(2, 8)}, activation={_c(r, ACTS)}, init={_c(r, INITS)})",
            f"dense({r.randint(2, 8)}, activation={_c(r, ACTS)}, reg={_c(r, REGS)}, bias_reg={_c(r, REGS)})",
            f"dense({r.randint(2, 8)}, use_bias=false)",
            "batch_norm",
            "layer_norm",
            "dropout(0.2)",
            f"activation({_c(r, ACTS)})",
        ],
    )


_LAYER = {1: _vector_layer, 2: _sequence_layer, 3: _image_layer}
_HEADS = {
    1: [()],
    2: [("global_avgpool1d",), ("global_maxpool1d",), ("lstm(3)",), ("gru(3, reset_after=false)",), ("simple_rnn(3)",), ("flatten",)],
    3: [("flatten",), ("global_avgpool2d",), ("global_maxpool2d",)],
}


def _draw_once(r: random.Random) -> Draft:
    kind = _c(r, ["image", "sequence", "tokens", "vector"])
    stmts: list[Stmt] = []
    if kind == "image":
        h = r.randint(5, 8)
        inp, rank = f"float32[{h}, {h + r.randint(0, 2)}, {r.randint(1, 3)}]", 3
    elif kind == "sequence":
        inp, rank = f"float32[{r.randint(3, 6)}, {r.randint(2, 5)}]", 2
    elif kind == "tokens":
        inp, rank = f"int32[{_c(r, ['5', '7'])}]", 2
        stmts.append(Stmt("e", ("x",), f"embedding({r.randint(5, 20)}, {r.randint(2, 6)})"))
    else:
        inp, rank = f"float32[{r.randint(2, 8)}]", 1
    tensors = [stmts[-1].name] if stmts else ["x"]
    for i in range(r.randint(1, 5)):
        name = f"t{i}"
        if len(tensors) >= 2 and r.random() < 0.3:
            a, b = r.sample(tensors[-3:], 2) if len(tensors) >= 3 else tensors[-2:]
            merge = _c(r, ["add", "multiply", "concat"])
            stmts.append(Stmt(name, (a, b), merge))
        else:
            src = tensors[-1] if r.random() < 0.7 else _c(r, tensors)
            stmts.append(Stmt(name, (src,), _LAYER[rank](r)))
        tensors.append(name)
    loss, act, _ = _c(r, LOSSES)
    units = r.randint(2, 4) if "binary" not in loss else r.randint(1, 3)
    head = (*_c(r, _HEADS[rank]), f"dense({units}, activation={act})")
    schedule = _c(r, SCHEDULES)
    return Draft(inp, tuple(stmts), head, loss, _c(r, OPTIMIZERS), schedule)


def draw_spec(r: random.Random, tries: int = 100) -> Draft:
    """A random spec the front end accepts (redrawn until it does)."""
    import specc

    for _ in range(tries):
        d = _draw_once(r)
        try:
            specc.loads(d.text())
        except specc.SpecError:
            continue
        return d
    raise RuntimeError("no valid spec drawn in 100 tries")  # pragma: no cover - the generator is broken


# --------------------------------------------------------------------------- shrinking


def _candidates(d: Draft):
    """Smaller or simpler variants of ``d``, smallest first."""
    # remove one statement (its consumers read its first input instead)
    for i, s in enumerate(d.stmts):
        if s.name == "e" and s.layer.startswith("embedding"):
            continue
        rest = []
        for t in d.stmts[:i] + d.stmts[i + 1 :]:
            rest.append(replace(t, inputs=tuple(s.inputs[0] if x == s.name else x for x in t.inputs)))
        yield replace(d, stmts=tuple(rest))
    # simpler training: plain SGD, no schedule
    if d.schedule:
        yield replace(d, schedule="")
    if d.optimizer != "sgd(lr=0.05)":
        yield replace(d, optimizer="sgd(lr=0.05)")
    # drop one keyword option of a layer
    for i, s in enumerate(d.stmts):
        if "(" not in s.layer:
            continue
        name, args = s.layer.split("(", 1)
        parts = _split_args(args[:-1])
        for j, p in enumerate(parts):
            if "=" in p and not p.strip().startswith("return_sequences"):
                rest = parts[:j] + parts[j + 1 :]
                simpler = f"{name}({', '.join(rest)})" if rest else name
                yield replace(d, stmts=d.stmts[:i] + (replace(s, layer=simpler),) + d.stmts[i + 1 :])


def _split_args(text: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        depth += ch in "(["
        depth -= ch in ")]"
        cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def shrink(d: Draft, still_fails, budget: int = 60) -> Draft:
    """Greedy shrinking: take the first smaller variant that is valid and ``still_fails``,
    repeat until none is (or ``budget`` candidates have been tried)."""
    import specc

    tried = 0
    progress = True
    while progress and tried < budget:
        progress = False
        for c in _candidates(d):
            if tried >= budget:
                break
            try:
                specc.loads(c.text())
            except specc.SpecError:
                continue
            tried += 1
            if still_fails(c):
                d, progress = c, True
                break
    return d
