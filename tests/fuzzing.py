"""Spec fuzzing: grammar-based generation and mutation, and the oracle every input must pass.

Used by ``tests/test_fuzz.py`` (a few hundred inputs in the test suite) and by ``make fuzz``
(``python tests/fuzzing.py --count 10000``: at least ten thousand inputs through ``check``,
``fmt`` and ``compile``, and each through both parsers: tests/parse_diff.py).  The oracle: every input ends in a valid model or a
:class:`~specc.errors.SpecError` whose diagnostics are all located — never another exception
(what the CLI reports as exit 3, "internal error") — and no input takes more than a few
seconds.  The generator is seeded, so a run is reproducible and a failure is reported with
the seed and the input that caused it.
"""

from __future__ import annotations

import argparse
import io
import random
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FILE = "fuzz.spec"
SEEDS = [p.read_text() for p in sorted((ROOT / "specs").glob("*.spec"))]

# --------------------------------------------------------------------------- generation

ACTS = ["relu", "gelu", "tanh", "sigmoid", "softmax", "linear", "leaky_relu(0.2)", "elu", "swish", "log_softmax"]
INITS = ["glorot_uniform", "he_normal", "zeros", "ones", "orthogonal", "variance_scaling(2.0)", "normal(0.0, 0.05)"]
DTYPES = ["float32", "float32", "float32", "float64", "int32", "int64", "bool", "float16", "bfloat16", "int8"]
PADDINGS = ["same", "valid", '"causal"', '"same"']
HOSTILE_NUMBERS = ["0", "-1", "-0", "1e999", "10**12", "2**63", "2**62", "0.5", "1e-300", "1_000", "10**9", "1e9", "007", "3.", ".5"]


@dataclass
class _Gen:
    rng: random.Random
    blocks: dict[str, list[str]] = field(default_factory=dict)  # name → parameter names
    params: list[str] = field(default_factory=list)  # parameters in scope
    tensors: list[str] = field(default_factory=list)  # tensor names in scope
    depth: int = 0
    counter: int = 0

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def fresh(self, base: str) -> str:
        self.counter += 1
        return f"{base}{self.counter}"

    # ---- expressions
    def small(self) -> str:
        r = self.rng.random()
        if r < 0.08:
            return self.rng.choice(HOSTILE_NUMBERS)
        if r < 0.3 and self.params:
            p = self.rng.choice(self.params)
            return self.rng.choice([p, f"{p} + 1", f"{p} * 2", f"{p} // 2", f"({p} - 1) % 3 + 1", f"-{p}"])
        return str(self.rng.choice([1, 2, 3, 4, 8, 16]))

    def value(self) -> str:
        r = self.rng.random()
        if r < 0.5:
            return self.small()
        if r < 0.6:
            return self.rng.choice(["true", "false", "none", '"same"', '"valid"', '"x"'])
        if r < 0.7:
            return f"[{', '.join(self.small() for _ in range(self.rng.randint(0, 3)))}]"
        if r < 0.8:
            return self.rng.choice(ACTS + INITS)
        return f"{self.small()} {self.rng.choice(['+', '-', '*', '/', '//', '%', '**'])} {self.small()}"

    # ---- layers
    def layer(self) -> str:
        """A layer call, usually with plausible arguments; sometimes a wrong one."""
        s = self.small
        options = [
            lambda: f"dense({s()}{self.kw('activation', ACTS)}{self.kw('use_bias', ['true', 'false'])}{self.kw('kernel_init', INITS)})",
            lambda: f"conv1d({s()}, kernel={s()}{self.kw('padding', PADDINGS)}{self.kw('strides', [s()])})",
            lambda: f"conv2d({s()}, kernel={self.rng.choice([s(), f'[{s()}, {s()}]'])}{self.kw('padding', ['same', 'valid'])}{self.kw('groups', [s()])})",
            lambda: f"conv2d_transpose({s()}, kernel={s()}{self.kw('strides', [s()])})",
            lambda: f"depthwise_conv2d(kernel={s()})",
            lambda: f"separable_conv2d({s()}, kernel={s()})",
            lambda: f"{self.rng.choice(['maxpool1d', 'avgpool1d', 'maxpool2d', 'avgpool2d'])}({s()})",
            lambda: self.rng.choice(["global_avgpool1d", "global_maxpool2d", "global_avgpool2d", "flatten", "layer_norm", "batch_norm"]),
            lambda: f"dropout({self.rng.choice(['0.1', '0.5', s()])})",
            lambda: f"embedding({s()}, {s()})",
            lambda: f"{self.rng.choice(['lstm', 'gru', 'simple_rnn'])}({s()}{self.kw('return_sequences', ['true', 'false'])}{self.kw('return_state', ['true', 'false'])})",
            lambda: f"bidirectional({self.rng.choice(['lstm', 'gru'])}({s()}{self.kw('return_sequences', ['true'])}))",
            lambda: f"multi_head_attention(heads={s()}, key_dim={s()})",
            lambda: f"reshape([{', '.join(s() for _ in range(self.rng.randint(0, 3)))}])",
            lambda: f"permute([{', '.join(s() for _ in range(self.rng.randint(1, 3)))}])",
            lambda: self.rng.choice(["relu", "tanh", "softmax", "gelu", "leaky_relu(0.1)", "activation(relu)"]),
            lambda: self.rng.choice(["add", "multiply", "concat", f"concat(axis={s()})"]),
        ]
        text = self.rng.choice(options)()
        if self.chance(0.05):
            text = text.replace(")", f", {self.rng.choice(['name', 'trainable', 'units', 'bogus'])}={self.value()})", 1) if ")" in text else f"{text}({self.value()})"
        if self.chance(0.04):
            text = text.replace("(", f"(name={self.fresh('l')}, ", 1) if "(" in text else text
        return text

    def kw(self, key: str, values: list[str]) -> str:
        if self.chance(0.3):
            return f", {key}={self.rng.choice(values)}"
        return ""

    def call_block(self) -> str | None:
        if not self.blocks:
            return None
        name = self.rng.choice(list(self.blocks))
        params = self.blocks[name]
        args = []
        for p in params:
            if self.chance(0.8):
                args.append(f"{p}={self.small()}" if self.chance(0.5) else self.small())
        if self.chance(0.05):
            args.append(f"nope={self.small()}")
        return f"{name}({', '.join(args)})"

    def link(self) -> str:
        r = self.rng.random()
        if r < 0.15 and self.depth < 4:
            return self.repeat()
        if r < 0.3:
            b = self.call_block()
            if b:
                return b
        return self.layer()

    def repeat(self) -> str:
        self.depth += 1
        var = self.fresh("i") if self.chance(0.3) else None
        saved = list(self.params)
        if var:
            self.params.append(var)
        count = self.rng.choice(["1", "2", "3", "2", self.small()])
        body = self.body(self.rng.randint(1, 3), allow_input=False)
        self.params = saved
        self.depth -= 1
        head = f"repeat {count}" + (f" as {var}" if var else "")
        return f"{head} {{\n{body}\n}}"

    def chain(self) -> str:
        links = [self.link() for _ in range(self.rng.randint(1, 3))]
        if self.tensors and self.chance(0.4):
            if len(self.tensors) > 1 and self.chance(0.3):
                a, b = self.rng.sample(self.tensors, 2)
                return f"({a}, {b}) -> {self.rng.choice(['add', 'concat', 'multiply'])}" + "".join(f" -> {link}" for link in links[:1])
            links.insert(0, self.rng.choice(self.tensors))
        return " -> ".join(links)

    def stmt(self) -> str:
        r = self.rng.random()
        if r < 0.25:
            name = self.fresh("h")
            text = f"{name} = {self.chain()}"
            self.tensors.append(name)
            return text
        if r < 0.28 and self.tensors:
            return f"output {', '.join(self.rng.sample(self.tensors, min(len(self.tensors), self.rng.randint(1, 2))))}"
        return self.chain()

    def body(self, n: int, allow_input: bool) -> str:
        saved = list(self.tensors)
        lines = [self.stmt() for _ in range(n)]
        self.tensors = saved
        return "\n".join(lines)

    def tensor_type(self) -> str:
        dims = [self.rng.choice(["4", "8", "16", "?", "3", "1", "T"]) for _ in range(self.rng.randint(0, 3))]
        return f"{self.rng.choice(DTYPES)}[{', '.join(dims)}]"

    def block(self) -> str:
        name = self.fresh("blk")
        params = [self.fresh("p") for _ in range(self.rng.randint(0, 3))]
        decl = ", ".join(p if self.chance(0.6) else f"{p}={self.small()}" for p in params)
        self.params = params
        n_inputs = self.rng.choice([1, 1, 1, 2, 0])
        inputs = [self.fresh("x") for _ in range(n_inputs)]
        self.tensors = list(inputs)
        lines = [f"input {x}" + (f": {self.tensor_type()}" if self.chance(0.1) else "") for x in inputs]
        lines += [self.stmt() for _ in range(self.rng.randint(1, 3))]
        self.params, self.tensors = [], []
        self.blocks[name] = params  # only later definitions call it (no recursion, mostly)
        return f"block {name}({decl}) {{\n" + "\n".join(lines) + "\n}"

    def section(self) -> str:
        loss = self.rng.choice(["mse", "categorical_crossentropy", "sparse_categorical_crossentropy", "binary_crossentropy", "sparse_categorical_crossentropy(from_logits=true)", "huber(1.0)", "bogus"])
        opt = self.rng.choice(["adam(lr=1e-3)", "sgd(lr=0.1, momentum=0.9)", "adamw(lr=3e-4, weight_decay=0.01)", "rmsprop", "adam(lr=-1)"])
        lines = [f"loss {loss}", f"optimizer {opt}"]
        if self.chance(0.3):
            lines.append(f"metrics [{self.rng.choice(['accuracy', 'mae', 'accuracy, mae', ''])}]")
        if self.chance(0.3):
            lines.append(f"batch {self.small()}")
        if self.chance(0.3):
            lines.append(f"epochs {self.small()}")
        if self.chance(0.1):
            lines.append(f"schedule {self.rng.choice(['cosine(decay_steps=100)', 'step(step_size=2, gamma=0.5)', 'bogus(1)'])}")
        text = "train {\n" + "\n".join(lines) + "\n}"
        if self.chance(0.15):
            text += "\nverify {\n" + self.rng.choice(["steps 2", "batch 4", "seed 3", "bogus 1"]) + "\n}"
        return text

    def spec(self) -> str:
        parts = [self.block() for _ in range(self.rng.choice([0, 0, 1, 1, 2, 3]))]
        if self.chance(0.05) and self.blocks:  # a block that calls itself
            name = self.rng.choice(list(self.blocks))
            parts.append(f"block r{name}() {{\ninput x\nr{name}()\n}}")
        inputs = [self.fresh("in") for _ in range(self.rng.choice([1, 1, 1, 2]))]
        self.tensors = list(inputs)
        lines = [f"input {x}: {self.tensor_type()}" for x in inputs]
        lines += [self.stmt() for _ in range(self.rng.randint(1, 6))]
        if self.chance(0.4):
            lines.append(self.section())
        parts.append(f"model {self.fresh('m')} {{\n" + "\n".join(lines) + "\n}")
        return "\n\n".join(parts) + "\n"


def generate(rng: random.Random) -> str:
    """A random spec from the grammar: half of them shape-aware (mostly valid), half wild."""
    if rng.random() < 0.5:
        return _typed(rng)
    return _Gen(rng).spec()


# layers by the rank of their input (without the batch): (text, rank of the output)
_BY_RANK = {
    1: ["dense({u})", "dense({u}, activation={a})", "relu", "dropout(0.1)", "layer_norm", "batch_norm", "{a}", "dense(16) -> reshape([2, {h}])"],
    2: ["dense({u})", "conv1d({u}, kernel=3, padding=same)", "conv1d({u}, kernel=1, activation={a})", "lstm({u}, return_sequences=true)",
        "gru({u}, return_sequences=true)", "simple_rnn({u}, return_sequences=true)", "bidirectional(lstm({u}, return_sequences=true))",
        "multi_head_attention(heads=2, key_dim={u})", "layer_norm", "maxpool1d(1)", "dropout(0.2)", "{a}"],
    3: ["conv2d({u}, kernel=3, padding=same)", "conv2d({u}, kernel=1, activation={a})", "depthwise_conv2d(kernel=3, padding=same)",
        "separable_conv2d({u}, kernel=3, padding=same)", "conv2d_transpose({u}, kernel=1)", "batch_norm", "maxpool2d(1)", "{a}"],
}
_REDUCE = {2: ["global_avgpool1d", "global_maxpool1d", "flatten", "lstm({u})", "gru({u})"], 3: ["global_avgpool2d", "global_maxpool2d", "flatten"]}
_TYPED_INPUTS = [("float32[16]", 1), ("float32[8, 4]", 2), ("float32[6, 6, 3]", 3), ("int32[8]", "ids"), ("float64[4]", 1)]


def _typed(rng: random.Random) -> str:
    """A spec that tracks the rank of the running tensor, so that most of them are valid."""
    acts = ["relu", "gelu", "tanh", "sigmoid", "swish", "elu", "leaky_relu(0.2)"]

    def fill(t: str, u: int | str | None = None) -> str:
        return t.format(u=u or rng.choice([2, 4, 8]), a=rng.choice(acts), h=8)

    blocks = []
    n_blocks = rng.choice([0, 1, 2])
    for b in range(n_blocks):  # residual blocks: keep the shape
        body = [f"  y = x -> {fill(rng.choice(['relu', 'tanh', 'dropout(p)', 'layer_norm', '{a}']))} -> dropout(p)", "  (x, y) -> add"]
        if b and rng.random() < 0.5:
            body.insert(1, f"  y2 = y -> res0(p=p)")
            body[-1] = "  (x, y2) -> add"
        blocks.append(f"block res{b}(p=0.1) {{\n  input x\n" + "\n".join(body) + "\n}")
    decl, rank = rng.choice(_TYPED_INPUTS)
    lines = [f"  input x: {decl}"]
    if rank == "ids":
        lines.append(f"  embedding({rng.choice([10, 50])}, {rng.choice([4, 8])})")
        rank = 2
    for _ in range(rng.randint(1, 6)):
        r = rng.random()
        if r < 0.15 and n_blocks:
            lines.append(f"  res{rng.randrange(n_blocks)}({rng.choice(['', 'p=0.2', '0.3'])})")
        elif r < 0.3:
            var = rng.random() < 0.5
            inner = [fill(rng.choice(_BY_RANK[rank][:2])) if not var else "dense(4 + i)" if rank != 3 else "conv2d(2 + i, kernel=1)" for _ in range(rng.randint(1, 2))]
            if n_blocks and rng.random() < 0.3:
                inner = [f"res{rng.randrange(n_blocks)}()"]
            lines.append(f"  repeat {rng.randint(1, 3)}{' as i' if var else ''} {{\n" + "\n".join(f"    {t}" for t in inner) + "\n  }")
        elif r < 0.4 and rank in _REDUCE:
            lines.append("  " + fill(rng.choice(_REDUCE[rank])))
            rank = 1
        elif r < 0.5:
            name = f"h{len(lines)}"
            lines.append(f"  {name} = {fill(rng.choice(_BY_RANK[rank]))}")
            lines.append(f"  a{len(lines)} = {name} -> {rng.choice(['relu', 'tanh', 'dropout(0.1)'])}")
            lines.append(f"  ({name}, a{len(lines) - 1}) -> {rng.choice(['add', 'multiply', 'concat'])}")
        else:
            t = rng.choice(_BY_RANK[rank])
            lines.append("  " + fill(t))
            if "reshape" in t:
                rank = 2
    if rank in _REDUCE:
        lines.append("  " + fill(rng.choice(_REDUCE[rank])))
    classes = rng.choice([2, 3, 10])
    lines.append(f"  dense({classes}, activation=softmax)")
    if rng.random() < 0.6:
        loss = rng.choice(["sparse_categorical_crossentropy", "categorical_crossentropy", "mse"])
        opt = rng.choice(["adam(lr=1e-3)", "sgd(lr=0.1, momentum=0.9)", "adamw(lr=3e-4, weight_decay=0.01)", "rmsprop(lr=1e-3)"])
        lines.append(f"  train {{\n    loss {loss}\n    optimizer {opt}\n    batch {rng.choice([8, 32])}\n  }}")
    return "\n\n".join([*blocks, "model m {\n" + "\n".join(lines) + "\n}"]) + "\n"


# --------------------------------------------------------------------------- mutation

TOKENS = [
    "model", "block", "input", "output", "repeat", "as", "train", "verify", "true", "false", "none",
    "->", "(", ")", "[", "]", "{", "}", ",", ";", ":", "=", "?", "\n", "#", '"', "\\", "+", "-", "*", "/", "//",
    "%", "**", "0", "1", "-1", "3", "0.5", "1e-3", "1e999", "10**12", "9" * 40, "x", "a", "T", "float32[4]",
    "int32[?]", "dense(3)", "conv2d(4, kernel=3)", "lstm(4, return_state=true)", "(x, x) -> add", "a, b = ",
    "name=foo", "trainable=false", "repeat 2 as i { dense(i + 1) }", "repeat 2 {", "block b(n=2) { input x; dense(n) }",
    "b()", "flatten", "dense(-1)", "bidirectional(lstm)", "multi_head_attention(2, 4)", "activation=leaky_relu(",
    "[1, 2]", '"same"', "output", "embedding(10**9, 1000)", "dense(10**12)",
]


def mutate(text: str, rng: random.Random) -> str:
    """A few random edits of ``text``: characters, grammar tokens, lines."""
    for _ in range(rng.randint(1, 5)):
        n = len(text)
        i = rng.randint(0, n)
        kind = rng.choice(["insert", "token", "token", "delete", "replace", "duplicate", "swap_lines", "number", "truncate"])
        if kind == "insert":
            text = text[:i] + "".join(chr(rng.choice([rng.randint(32, 126), rng.randint(0, 0x2FFF)])) for _ in range(rng.randint(1, 4))) + text[i:]
        elif kind == "token":
            text = text[:i] + rng.choice(TOKENS) + text[i:]
        elif kind == "delete":
            text = text[:i] + text[i + rng.randint(1, 30) :]
        elif kind == "replace" and n:
            text = text[: min(i, n - 1)] + chr(rng.randint(32, 126)) + text[min(i, n - 1) + 1 :]
        elif kind == "duplicate":
            j = min(n, i + rng.randint(1, 200))
            text = text[:j] + text[i:j] + text[j:]
        elif kind == "swap_lines":
            lines = text.split("\n")
            a, b = rng.randrange(len(lines)), rng.randrange(len(lines))
            lines[a], lines[b] = lines[b], lines[a]
            text = "\n".join(lines)
        elif kind == "number":
            digits = [k for k, c in enumerate(text) if c.isdigit()]
            if digits:
                k = rng.choice(digits)
                text = text[:k] + rng.choice(HOSTILE_NUMBERS) + text[k + 1 :]
        elif kind == "truncate" and rng.random() < 0.3:
            text = text[:i]
    return text


def corpus(count: int, seed: int = 0):
    """``count`` inputs: a third generated, a third mutated generated, a third mutated examples."""
    rng = random.Random(seed)
    for k in range(count):
        kind = k % 3
        if kind == 0:
            yield "generated", generate(rng)
        elif kind == 1:
            yield "mutated-generated", mutate(generate(rng), rng)
        else:
            yield "mutated-example", mutate(rng.choice(SEEDS), rng)


# --------------------------------------------------------------------------- the oracle


class Hang(Exception):
    pass


def _alarm(signum, frame):  # pragma: no cover - only on a hang
    raise Hang()


@dataclass
class Outcome:
    valid: bool
    seconds: float  # CPU seconds
    failure: str | None = None  # a traceback: the input broke the promise


def run_one(text: str, emit: bool = True, limit_s: float = 5.0) -> Outcome:
    """check, fmt and (for valid specs) compile to both backends' source, as the CLI would."""
    import specc
    from rich.console import Console

    from specc.summary import print_summary
    from specc.syntax.format import format_source

    # the limit is on CPU time (ITIMER_PROF): on a shared machine the wall clock measures the
    # neighbours, and a hang is work, not waiting
    use_alarm = hasattr(signal, "setitimer") and hasattr(signal, "SIGPROF")
    if use_alarm:
        old = signal.signal(signal.SIGPROF, _alarm)
        signal.setitimer(signal.ITIMER_PROF, limit_s)
    t = time.process_time()
    valid = False
    try:
        try:
            model = specc.loads(text, FILE)
        except specc.SpecError as e:
            assert e.diagnostics, "a SpecError without diagnostics"
            for d in e.diagnostics:
                assert d.span is not None and d.span.file == FILE and d.span.line >= 1 and d.span.col >= 1, d
            e.render()
            model = None
        else:
            valid = True
            print_summary(model, Console(file=io.StringIO(), width=120))
            assert specc.Model.from_json(model.to_json()) == model
        try:
            formatted = format_source(text, FILE)
        except specc.SpecError as e:
            assert all(d.span is not None for d in e.diagnostics)
            assert model is None, "fmt refuses what check accepts"
        else:
            if model is not None:
                assert specc.loads(formatted, FILE) == model, "fmt changed the model"
        if model is not None and emit:
            from specc.backends.keras.emit import emit_keras
            from specc.backends.torch.emit import emit_torch

            for fn in (emit_torch, emit_keras):
                try:
                    source = fn(model)
                except specc.SpecError as e:  # a located refusal (a backend limit) is fine
                    assert all(d.span is not None for d in e.diagnostics)
                else:
                    compile(source, "<generated>", "exec")  # the source is valid Python
    except Hang:
        return Outcome(valid, time.process_time() - t, f"took more than {limit_s} s of CPU time")
    except BaseException:  # noqa: BLE001 - what we are looking for
        return Outcome(valid, time.process_time() - t, traceback.format_exc())
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.signal(signal.SIGPROF, old)
    return Outcome(valid, time.process_time() - t)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="fuzz specc's check, fmt and compile")
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-emit", dest="emit", action="store_false", help="skip compile (no torch/keras import)")
    ap.add_argument("--limit", type=float, default=5.0, help="CPU seconds an input may take")
    ap.add_argument("--save", metavar="DIR", help="write failing inputs here")
    args = ap.parse_args(argv)
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if args.emit:  # import the frameworks once, outside any input's time limit
        import specc.backends.keras.emit  # noqa: F401
        import specc.backends.torch.emit  # noqa: F401

        for seed in SEEDS:  # and warm them up (first layer builds, lazy imports inside them)
            run_one(seed, emit=True, limit_s=600)
    from parse_diff import compare_parsers

    failures = []
    n = valid = fast_used = lark_valid = 0
    slowest = (0.0, "")
    t0 = time.perf_counter()
    for kind, text in corpus(args.count, args.seed):
        out = run_one(text, emit=args.emit, limit_s=args.limit)
        # and the differential check of the parsers: the fast path's AST is Lark's, or it gave up
        compared = compare_parsers(text, FILE)
        fast_used += compared.fast_used
        lark_valid += compared.lark_valid
        if compared.problem:
            out.failure = (out.failure or "") + f"parsers differ: {compared.problem}\n"
        elif compared.lark_valid and not compared.fast_used:
            out.failure = (out.failure or "") + "parsers: Lark accepts it, the fast path gave up\n"
        n += 1
        valid += out.valid
        if out.seconds > slowest[0]:
            slowest = (out.seconds, text)
        if n % 1000 == 0:
            print(f"… {n} inputs, {valid} valid, {len(failures)} failures, slowest {slowest[0] * 1000:.0f} ms CPU", flush=True)
        if out.failure:
            failures.append((kind, text, out.failure))
            print(f"FAIL #{n} ({kind}):\n{text}\n{out.failure}", file=sys.stderr)
            if args.save:
                Path(args.save).mkdir(parents=True, exist_ok=True)
                (Path(args.save) / f"fail_{n}.spec").write_text(text)
    total = time.perf_counter() - t0
    print(f"fuzz: {n} inputs (seed {args.seed}), {valid} valid, {len(failures)} failures, {total:.1f} s")
    print(f"slowest input: {slowest[0] * 1000:.1f} ms of CPU time ({len(slowest[1])} characters)")
    print(f"parsers: Lark accepted {lark_valid} inputs, the fast path answered {fast_used} of them, same ASTs")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
