"""simple_rnn / lstm / gru / bidirectional: specc's torch lowering and keras lowering compute
the IR's function with the same canonical weights (forward, 3 training steps), reproduce
the frameworks' own layers, and the comparisons fail when a conversion is wrong.

Models put many layer variants side by side (one branch each, every output a model
output), so each build and training run covers a whole group of option combinations."""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest
import torch

import specc
from specc.backends.torch import lib as L
from specc.backends.torch import plan as torch_plan
from specc.backends.torch.lib import recurrent as LR

torch_plan._load_ops()  # all lowerings, before importing one (the registry loads only when empty)
from specc.backends.torch.ops import recurrent as TR  # noqa: E402
from specc.backends.torch.weights import from_state_dict
from specc.compiler import as_model
from specc.errors import SpecError
from specc.ir.transforms import without_dropout
from support import build_both, max_rel, random_inputs, train_both

import keras  # noqa: E402  (after torch, as tests/conftest.py arranges)

F64 = 1e-12  # float64 forward, relative to the output's scale
TRAIN64 = 1e-11  # float64 weights after 3 training steps
F32 = 5e-6  # float32 forward (measured ≤ 5e-7)
BAD = 1e-2  # what a wrong conversion must exceed


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """torch's OpenMP threads and TensorFlow's pools contend on a small machine (a float64
    LSTM step: 3 s with 2 threads beside TF, 0.06 s with 1); restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def n_outputs(layer: str) -> int:
    if "return_state=true" not in layer:
        return 1
    states = 2 if "lstm(" in layer else 1
    return 1 + (2 * states if layer.startswith("bidirectional") else states)


def branch_spec(name: str, layers: list[str], features: int = 3, time: str = "T") -> str:
    """A model applying every layer to the same input, all outputs exposed."""
    lines, outs = [], []
    for i, layer in enumerate(layers):
        names = [f"b{i}"] + [f"b{i}_s{j}" for j in range(1, n_outputs(layer))]
        lines.append(f"  {', '.join(names)} = x -> {layer}")
        outs += names
    body = "\n".join(lines)
    return f"""model {name} {{
  input x: float32[{time}, {features}]
{body}
  output {", ".join(outs)}
  train {{
    loss mse
    optimizer sgd(lr=0.1)
  }}
}}"""


def rand_weights(model, seed: int = 7) -> dict[str, np.ndarray]:
    """Non-trivial canonical weights: every entry (biases included) random."""
    rng = np.random.default_rng(seed)
    return {f"{n.name}.{w.name}": rng.uniform(-0.7, 0.7, w.shape) for n, w in model.weights()}


def as_list(y) -> list[np.ndarray]:
    if isinstance(y, (tuple, list)):
        return [np.asarray(v) for v in y]
    return [np.asarray(y)]


def torch_out(tb, xs) -> list[np.ndarray]:
    return as_list(tb.predict(xs))


def keras_out(km, xs, training: bool = False) -> list[np.ndarray]:
    return as_list(km(xs[0] if len(xs) == 1 else xs, training=training))


def worst(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    assert len(a) == len(b)
    for u, v in zip(a, b, strict=True):
        assert u.shape == v.shape, (u.shape, v.shape)
    return max(max_rel(u, v) for u, v in zip(a, b, strict=True))


class Built:
    """A spec built in both backends with random weights, plus inputs and targets."""

    def __init__(self, spec: str, dtype: str = "float64", batch: int = 4, seed: int = 0, no_dropout: bool = True):
        model = as_model(spec)
        if no_dropout:
            model = without_dropout(model)
        self.w = rand_weights(model, seed + 7)
        self.model, self.tb, self.km, _ = build_both(model, dtype=dtype, weights=self.w, no_dropout=False)
        self.dtype = dtype
        rng = np.random.default_rng(seed)
        self.xs = random_inputs(self.model, batch, rng, dtype)
        self.yk = keras_out(self.km, self.xs)
        targets = [rng.standard_normal(y.shape).astype(dtype) for y in self.yk]
        self.targets = targets if len(targets) > 1 else targets[0]

    def torch_with(self, weights=None):
        """A fresh torch build (e.g. under a monkeypatched conversion)."""
        return specc.build(self.model, "torch", dtype=self.dtype, weights=self.w if weights is None else weights)

    def diff(self, tb=None) -> float:
        return worst(torch_out(tb or self.tb, self.xs), self.yk)


def _opts(**flags) -> str:
    return "".join(f", {k}=true" for k, v in flags.items() if v)


def uni_layers(kind: str, pairwise: bool = False) -> list[str]:
    """Every return_sequences × return_state × go_backwards combination (or 4 covering
    every pair of options, for the slower training comparisons)."""
    combos = list(itertools.product((False, True), repeat=3))
    if pairwise:
        combos = [c for c in combos if sum(c) % 2 == 0]
    return [f"{kind}(4{_opts(return_sequences=rs, return_state=st, go_backwards=gb)})" for rs, st, gb in combos]


# the time loop: other activations (slopes exact in float32 — TF's leaky_relu takes its
# slope as a float32 attribute, and TF's exact gelu differs from torch's by ~1e-9 in
# float64: activation matters, not RNN ones), GRU reset_after=false, no bias
MANUAL = [
    "gru(4, reset_after=false)",
    "gru(4, reset_after=false, return_sequences=true, return_state=true, go_backwards=true)",
    "gru(4, reset_after=false, use_bias=false, return_sequences=true, bias_reg=l2(0.1))",
    "lstm(4, activation=elu, recurrent_activation=hard_sigmoid, return_sequences=true, return_state=true)",
    "lstm(4, activation=softplus, go_backwards=true, return_state=true, reg=l2(0.01))",
    "gru(4, activation=silu, recurrent_activation=hard_sigmoid, return_sequences=true, go_backwards=true)",
    "gru(4, activation=relu, return_state=true, bias_reg=l1(0.01))",
    "simple_rnn(4, activation=leaky_relu(0.25), return_sequences=true, go_backwards=true)",
    "simple_rnn(4, activation=softmax, return_state=true)",
    "simple_rnn(4, activation=linear, use_bias=false)",
]

# torch's own modules with other options, and every penalty
FUSED_EXTRA = [
    "lstm(4, use_bias=false, return_sequences=true)",
    "gru(4, use_bias=false, go_backwards=true)",
    "simple_rnn(4, activation=relu, return_sequences=true, go_backwards=true)",
    "lstm(4, unit_forget_bias=false, reg=l2(0.01), recurrent_reg=l1(0.001), bias_reg=l2(0.1))",
    "gru(4, reg=l1(0.01), bias_reg=l2(0.1), return_sequences=true)",
    "simple_rnn(4, recurrent_reg=l2(0.05), bias_reg=l1(0.02), return_state=true)",
]

MERGES = ("concat", "sum", "mul", "ave")


def bi_layers(inner: str, pairwise: bool = False) -> list[str]:
    """Every merge × return_sequences × return_state (or 8 covering every pair)."""
    combos = list(itertools.product(MERGES, (False, True), (False, True)))
    if pairwise:
        combos = [(m, rs, st) for m, rs, st in combos if (MERGES.index(m) + rs + st) % 2 == 0]
    return [f"bidirectional({inner}(4{_opts(return_sequences=rs, return_state=st)}), merge={m})" for m, rs, st in combos]


BI_OTHER = [
    "bidirectional(gru(4, return_sequences=true, return_state=true), merge=mul)",
    "bidirectional(gru(4), merge=ave)",
    "bidirectional(simple_rnn(4, return_sequences=true), merge=sum)",
    "bidirectional(simple_rnn(4, activation=relu, return_state=true))",
    # the time loop in both directions (BiRecurrent)
    "bidirectional(gru(4, reset_after=false, return_sequences=true, return_state=true), merge=ave)",
    "bidirectional(lstm(4, activation=relu, return_sequences=true), merge=concat)",
    "bidirectional(lstm(4, recurrent_activation=hard_sigmoid, return_state=true, reg=l2(0.01)), merge=mul)",
    "bidirectional(simple_rnn(4, activation=elu, return_sequences=true, bias_reg=l2(0.1)), merge=sum)",
]

# forward comparisons: every combination
GROUPS = {
    "lstm": uni_layers("lstm"),
    "gru": uni_layers("gru"),
    "simple_rnn": uni_layers("simple_rnn"),
    "fused_extra": FUSED_EXTRA,
    "loop": MANUAL,
    "bi_lstm": bi_layers("lstm"),
    "bi_other": BI_OTHER,
}

# training comparisons: every option and path, with few layers
TRAIN_GROUPS = {
    "fused": [
        "lstm(4, return_sequences=true, return_state=true, go_backwards=true, reg=l2(0.01), recurrent_reg=l1(0.001), bias_reg=l2(0.1))",
        "gru(4, return_sequences=true, go_backwards=true, bias_reg=l2(0.1))",
        "gru(4, return_state=true, use_bias=false)",
        "simple_rnn(4, return_state=true, go_backwards=true, recurrent_reg=l2(0.05), bias_reg=l1(0.02))",
        "simple_rnn(4, activation=relu, return_sequences=true)",
    ],
    "loop": [
        "gru(4, reset_after=false, return_sequences=true, return_state=true, go_backwards=true)",
        "lstm(4, activation=elu, recurrent_activation=hard_sigmoid, return_sequences=true, return_state=true, reg=l2(0.01))",
        "gru(4, activation=silu, recurrent_activation=hard_sigmoid, go_backwards=true, bias_reg=l1(0.01))",
        "simple_rnn(4, activation=leaky_relu(0.25), return_sequences=true)",
        "simple_rnn(4, activation=softmax, use_bias=false, return_state=true)",
    ],
    "bidirectional": [
        "bidirectional(lstm(4, return_sequences=true, return_state=true), merge=ave)",
        "bidirectional(gru(4), merge=mul)",
        "bidirectional(lstm(4, activation=relu, return_sequences=true, bias_reg=l2(0.1)), merge=concat)",
        "bidirectional(gru(4, reset_after=false, return_state=true), merge=sum)",
    ],
}


def output_index(layers: list[str], i: int) -> int:
    """Index among the model's outputs of layer i's first output."""
    return sum(n_outputs(layer) for layer in layers[:i])


@pytest.fixture(scope="module")
def groups() -> dict[str, Built]:
    return {name: Built(branch_spec(name, layers), seed=i) for i, (name, layers) in enumerate(GROUPS.items())}


# --------------------------------------------------------------------------- 1. equivalence


@pytest.mark.parametrize("group", list(GROUPS))
def test_forward_agrees(groups, group):
    b = groups[group]
    assert b.diff() <= F64


@pytest.mark.parametrize("group", list(TRAIN_GROUPS))
def test_training_agrees(group):
    """3 SGD steps with the spec's loss and penalties.  Keras runs its train step eagerly
    here (tracing it costs ~1 s a recurrent layer); the example specs train compiled."""
    b = Built(branch_spec(f"train_{group}", TRAIN_GROUPS[group]), seed=11)
    assert b.diff() <= F64
    b.km.run_eagerly = True
    diffs = train_both(b.tb, b.km, b.xs, b.targets, steps=3)
    assert max(diffs) <= TRAIN64, diffs
    # every weight really moved (a zero gradient would make the comparison vacuous)
    moved = b.tb.get_weights()
    assert min(max_rel(moved[k], b.w[k]) for k in b.w) > 1e-4


def test_modules_chosen_as_documented(groups):
    def mods(name):
        return [type(m).__name__ for m in groups[name].tb.model.children()]

    assert set(mods("lstm")) == {"LSTMLayer"}
    assert set(mods("gru")) == {"GRULayer"}
    assert set(mods("simple_rnn")) == {"SimpleRNNLayer"}
    assert set(mods("loop")) == {"RecurrentLoop"}
    assert set(mods("bi_lstm")) == {"LSTMLayer"}  # fused bidirectional
    assert all(m.bidirectional for m in groups["bi_lstm"].tb.model.children())
    assert mods("bi_other").count("BiRecurrent") == 4


def test_unknown_sequence_length(groups):
    """int32[T] / float32[T, F] inputs: any length at run time, one built model."""
    for name in ("lstm", "bi_other"):
        b = groups[name]
        for steps in (1, 11):
            xs = [np.random.default_rng(steps).standard_normal((3, steps, 3))]
            assert worst(torch_out(b.tb, xs), keras_out(b.km, xs)) <= F64, (name, steps)


def test_float32():
    b = Built(branch_spec("f32", uni_layers("lstm")[::3] + BI_OTHER[:2] + MANUAL[:2]), dtype="float32")
    assert all(y.dtype == np.float32 for y in b.yk)
    assert b.diff() <= F32


# --------------------------------------------------------------------------- 2. the frameworks' own layers


def _one(layer: str, features: int = 3, seed: int = 3) -> Built:
    return Built(branch_spec("one", [layer], features=features), seed=seed)


def test_keras_gru_reset_after_reference():
    b = _one("gru(5, return_sequences=true, return_state=true)")
    ref = keras.layers.GRU(5, reset_after=True, return_sequences=True, return_state=True, dtype="float64")
    ref.build((None, None, 3))
    w = b.w
    ref.set_weights([w["gru.kernel"], w["gru.recurrent_kernel"], w["gru.bias"]])
    want = as_list(ref(b.xs[0]))
    assert worst(torch_out(b.tb, b.xs), want) <= F64
    assert worst(keras_out(b.km, b.xs), want) == 0.0


def test_keras_bidirectional_lstm_reference():
    for merge, rs in (("ave", True), ("concat", False), ("mul", True)):
        b = _one(f"bidirectional(lstm(5, return_sequences={str(rs).lower()}, return_state=true), merge={merge})")
        inner = keras.layers.LSTM(5, return_sequences=rs, return_state=True, dtype="float64")
        ref = keras.layers.Bidirectional(inner, merge_mode=merge, dtype="float64")
        ref.build((None, None, 3))
        w = b.w
        ref.set_weights([w[f"bidirectional.{d}.{k}"] for d in ("forward", "backward") for k in ("kernel", "recurrent_kernel", "bias")])
        want = as_list(ref(b.xs[0]))
        assert len(want) == 5
        assert worst(torch_out(b.tb, b.xs), want) <= F64
        assert worst(keras_out(b.km, b.xs), want) <= F64


def test_torch_lstm_reference():
    """torch.nn.LSTM given the converted weights; and any nn.LSTM state (two non-zero
    biases) read back as canonical weights reproduces nn.LSTM in Keras."""
    b = _one("lstm(5, return_sequences=true, return_state=true)")
    ref = torch.nn.LSTM(3, 5, batch_first=True).double()
    w = b.w
    with torch.no_grad():
        ref.weight_ih_l0.copy_(torch.from_numpy(w["lstm.kernel"].T))
        ref.weight_hh_l0.copy_(torch.from_numpy(w["lstm.recurrent_kernel"].T))
        ref.bias_ih_l0.copy_(torch.from_numpy(w["lstm.bias"]))
        ref.bias_hh_l0.zero_()
    with torch.no_grad():
        out, (h, c) = ref(torch.from_numpy(b.xs[0]))
    want = [out.numpy(), h[0].numpy(), c[0].numpy()]
    assert worst(torch_out(b.tb, b.xs), want) <= F64

    torch.manual_seed(0)
    plain = torch.nn.LSTM(3, 5, batch_first=True).double()
    assert plain.bias_hh_l0.abs().sum() > 0
    canon = from_state_dict(b.tb.plan, {f"lstm.{k}": v for k, v in plain.state_dict().items()})
    b.km.specc.set_weights(b.km, canon)
    with torch.no_grad():
        out, (h, c) = plain(torch.from_numpy(b.xs[0]))
    assert worst(keras_out(b.km, b.xs), [out.numpy(), h[0].numpy(), c[0].numpy()]) <= F64


def test_torch_gru_reference():
    """A plain nn.GRU (gates r, z, n) read back through from_torch runs the same in Keras."""
    b = _one("gru(5, return_sequences=true)")
    torch.manual_seed(1)
    plain = torch.nn.GRU(3, 5, batch_first=True).double()
    canon = from_state_dict(b.tb.plan, {f"gru.{k}": v for k, v in plain.state_dict().items()})
    b.km.specc.set_weights(b.km, canon)
    with torch.no_grad():
        out, _ = plain(torch.from_numpy(b.xs[0]))
    assert worst(keras_out(b.km, b.xs), [out.numpy()]) <= F64
    b.tb.set_weights(canon)  # and back into specc's torch module
    assert worst(torch_out(b.tb, b.xs), [out.numpy()]) <= F64


def test_go_backwards_output_order():
    """Keras keeps go_backwards outputs in processing order: step 0 has seen only the
    last input, the last step is the final state.  Both backends read it so."""
    b = _one("lstm(5, return_sequences=true, return_state=true, go_backwards=true)")
    last_only = [b.xs[0][:, -1:, :]]
    for run in (torch_out, keras_out):
        seq, h, _ = run(b.tb if run is torch_out else b.km, b.xs)
        alone = run(b.tb if run is torch_out else b.km, last_only)[0][:, 0]
        assert max_rel(seq[:, 0], alone) <= F64
        assert max_rel(seq[:, -1], h) == 0.0


# --------------------------------------------------------------------------- 3. negative controls


def test_swapped_gru_gates_are_caught(groups, monkeypatch):
    b = groups["gru"]
    monkeypatch.setattr(TR, "_GRU_TO_TORCH", (0, 1, 2))
    assert b.diff(b.torch_with()) > BAD


def test_swapped_lstm_gates_are_caught(groups, monkeypatch):
    b = groups["lstm"]
    real = TR.cell_to_torch

    def swap_i_f(op, w, suffix=""):
        out = real(op, w, suffix)
        k = out[f"weight_ih_l0{suffix}"]
        n = k.shape[0] // 4
        out[f"weight_ih_l0{suffix}"] = np.concatenate([k[n : 2 * n], k[:n], k[2 * n :]])
        return out

    monkeypatch.setattr(TR, "cell_to_torch", swap_i_f)
    assert b.diff(b.torch_with()) > BAD


def test_wrong_gru_bias_row_is_caught(groups, monkeypatch):
    b = groups["gru"]
    real = TR.cell_to_torch

    def rows_swapped(op, w, suffix=""):
        return real(op, {**w, "bias": w["bias"][::-1]}, suffix)

    monkeypatch.setattr(TR, "cell_to_torch", rows_swapped)
    assert b.diff(b.torch_with()) > BAD


def test_lstm_bias_in_both_torch_biases_is_caught(groups, monkeypatch):
    """Putting the one canonical bias in bias_ih AND bias_hh (the SEMANTICS trap) doubles it."""
    b = groups["lstm"]
    real = TR.cell_to_torch

    def twice(op, w, suffix=""):
        out = real(op, w, suffix)
        out[f"bias_hh_l0{suffix}"] = out[f"bias_ih_l0{suffix}"]
        return out

    monkeypatch.setattr(TR, "cell_to_torch", twice)
    assert b.diff(b.torch_with()) > BAD


def test_two_trained_torch_biases_drift(monkeypatch):
    """With bias_hh a trained parameter, training moves the summed bias twice as fast:
    forward still agrees, training does not.  (Why bias_hh is a zero buffer.)"""
    real = TR.cell_to_torch

    def zero_hh(op, w, suffix=""):
        return {**real(op, w, suffix), f"bias_hh_l0{suffix}": np.zeros(w["bias"].shape)}

    monkeypatch.setattr(LR, "rnn_zero_recurrent_bias", lambda rnn: None)
    monkeypatch.setattr(TR, "cell_to_torch", zero_hh)
    b = Built(branch_spec("drift", ["lstm(4, return_sequences=true)"]))
    assert "lstm.bias_hh_l0" in dict(b.tb.model.named_parameters())
    assert b.diff() <= F64
    # ~2e-2 after 3 steps (the summed bias moves at twice the rate); ≤ 1e-15 when right
    assert max(train_both(b.tb, b.km, b.xs, b.targets, steps=3)) > 1e-3


def test_backward_sequence_not_reflipped_is_caught(groups, monkeypatch):
    b = groups["bi_other"]
    real = LR.rnn_merge
    monkeypatch.setattr(LR, "rnn_merge", lambda a, c, mode: real(a, c.flip(1) if c.dim() == 3 else c, mode))
    assert b.diff(b.torch_with()) > BAD
    # the fused path: the backward half read in processing order instead of time order
    b = groups["bi_lstm"]
    i = output_index(GROUPS["bi_lstm"], GROUPS["bi_lstm"].index("bidirectional(lstm(4, return_sequences=true), merge=concat)"))
    yt = torch_out(b.tb, b.xs)[i]
    assert yt.shape == (*b.xs[0].shape[:2], 8)
    bad = yt.copy()
    bad[..., 4:] = bad[:, ::-1, 4:]
    assert max_rel(bad, b.yk[i]) > BAD and max_rel(yt, b.yk[i]) <= F64


def test_keras_paths_swapped_are_caught(groups, monkeypatch):
    """The Keras side of the check: forward and backward weights loaded the wrong way round."""
    from specc.backends.keras.ops import recurrent as KR

    b = groups["bi_lstm"]
    real = KR.RecurrentOp.var_path

    def swapped(self, info, name):
        other = {"forward": "backward", "backward": "forward"}
        d, rest = name.split(".", 1)
        return real(self, info, f"{other[d]}.{rest}")

    monkeypatch.setattr(KR.RecurrentOp, "var_path", swapped)
    km = specc.build(b.model, "keras", dtype="float64", weights=b.w)
    assert worst(keras_out(km, b.xs), b.yk) > BAD


# --------------------------------------------------------------------------- 4. parameters


@pytest.mark.parametrize("group", ["lstm", "gru", "simple_rnn", "fused_extra", "loop", "bi_lstm", "bi_other"])
def test_parameter_counts(groups, group):
    b = groups[group]
    torch_count = sum(p.numel() for p in b.tb.model.parameters())
    assert torch_count == b.model.count_params()[0] == b.km.count_params()


@pytest.mark.parametrize("group", ["fused_extra", "loop", "bi_lstm", "bi_other"])
def test_state_dict_complete(groups, group):
    """The converted weights fill every state-dict entry (a strict load works)."""
    from specc.backends.torch.weights import to_state_dict

    b = groups[group]
    sd = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in to_state_dict(b.tb.plan, b.w).items()}
    b.tb.model.load_state_dict(sd, strict=True)
    assert b.diff() <= F64


def test_zero_recurrent_bias_buffer():
    """bias_hh is a zero buffer: not trained, in the state dict under torch's name (a plain
    nn.LSTM loads it), still used by the kernels after .to() / deepcopy."""
    m = L.LSTMLayer(3, 4, bidirectional=True, return_sequences=True)
    names = {n for n, _ in m.named_parameters()}
    assert names == {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse"}
    assert {n for n, _ in m.named_buffers()} == {"bias_hh_l0", "bias_hh_l0_reverse"}
    torch.nn.LSTM(3, 4, batch_first=True, bidirectional=True).load_state_dict(m.state_dict())  # strict
    m = m.double()
    for name, fw in zip(m._flat_weights_names, m._flat_weights, strict=True):
        assert fw is getattr(m, name) and fw.dtype == torch.float64
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    m2 = copy.deepcopy(m)
    assert torch.equal(m(x), m2(x))
    with torch.no_grad():
        m.bias_hh_l0.fill_(1.0)  # the kernels really read the buffer
    assert not torch.equal(m(x), m2(x))


def test_zero_bias_stays_zero_in_training(groups):
    b = groups["lstm"]
    for mod in b.tb.model.children():
        assert not mod.bias_hh_l0.requires_grad
        assert torch.count_nonzero(mod.bias_hh_l0) == 0


# --------------------------------------------------------------------------- 5. example specs


@pytest.mark.parametrize("path", ["specs/text_bilstm.spec", "specs/rnn_tagger.spec"])
def test_example_specs(path):
    model, tb, km, w = build_both(path, dtype="float64")
    w = {k: v + np.random.default_rng(0).uniform(-0.1, 0.1, v.shape) for k, v in w.items()}  # non-zero biases
    tb.set_weights(w)
    km.specc.set_weights(km, w)
    rng = np.random.default_rng(5)
    xs = random_inputs(model, 4, rng)
    yt, yk = torch_out(tb, xs), keras_out(km, xs)
    assert worst(yt, yk) <= F64
    targets = np.asarray(rng.integers(0, 2, yk[0].shape) if "bilstm" in path else rng.integers(0, 12, yk[0].shape[:-1]))
    targets = targets.astype("float64") if "bilstm" in path else targets
    assert max(train_both(tb, km, xs, targets, steps=3)) <= TRAIN64


def test_text_bilstm_with_its_dropout():
    """As written (lstm dropout=0.2): two directions with their own input masks in torch;
    inference equals Keras."""
    b = Built("specs/text_bilstm.spec", no_dropout=False)
    assert type(b.tb.model.bidirectional).__name__ == "BiRecurrent"
    assert b.diff() <= F64


# --------------------------------------------------------------------------- 6. dropout


def _mask_probe(layer: str, features: int = 16, seed: int = 0):
    """A layer whose output IS its input-dropout mask: units = features, kernel = I,
    recurrent kernel = 0, bias = 0, inputs all ones, activation relu/linear."""
    b_model = as_model(branch_spec("probe", [layer], features=features))
    w = {}
    for n, s in b_model.weights():
        local = s.name.split(".")[-1]
        w[f"{n.name}.{s.name}"] = np.eye(features) if local == "kernel" else np.zeros(s.shape)
    tb = specc.build(b_model, "torch", dtype="float64", weights=w)
    km = specc.build(b_model, "keras", dtype="float64", weights=w)
    x = np.ones((64, 6, features))
    return tb, km, x


@pytest.mark.parametrize(
    "layer",
    [
        "simple_rnn(16, activation=relu, dropout=0.5, return_sequences=true)",  # nn.RNN
        "simple_rnn(16, activation=linear, dropout=0.5, recurrent_dropout=0.3, return_sequences=true)",  # time loop
    ],
)
def test_input_dropout_mask_shared_across_time(layer):
    tb, km, x = _mask_probe(layer)
    tb.model.train()
    with torch.no_grad():
        yt = tb.model(torch.from_numpy(x)).numpy()
    yk = np.asarray(km(x, training=True))
    for y in (yt, yk):
        assert np.all(y == y[:, :1])  # one mask per sequence
        assert set(np.unique(y)) <= {0.0, 2.0}  # kept values scaled by 1/(1 - 0.5)
        assert 0.4 < np.mean(y == 0) < 0.6
    tb.model.eval()
    with torch.no_grad():
        assert np.all(tb.model(torch.from_numpy(x)).numpy() == 1.0)


def test_bidirectional_directions_draw_their_own_masks():
    tb, km, x = _mask_probe("bidirectional(simple_rnn(16, activation=relu, dropout=0.5, return_sequences=true))")
    assert type(next(tb.model.children())).__name__ == "BiRecurrent"
    tb.model.train()
    with torch.no_grad():
        y = tb.model(torch.from_numpy(x)).numpy()
    for y in (y, np.asarray(km(x, training=True))):
        fwd, bwd = y[..., :16], y[..., 16:]
        assert np.all(fwd == fwd[:, :1]) and np.all(bwd == bwd[:, :1])
        assert np.mean(fwd != bwd) > 0.2


def test_recurrent_dropout_masks_per_gate(monkeypatch):
    """Keras' lstm/gru cells with recurrent_dropout draw one input and one state mask per
    gate (count 4 / 3); without it, one input mask."""
    shapes = []
    real = LR.rnn_dropout_mask

    def spy(like, rate):
        shapes.append((tuple(like.shape), rate))
        return real(like, rate)

    monkeypatch.setattr(LR, "rnn_dropout_mask", spy)
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    for cell, g in (("lstm", 4), ("gru", 3), ("simple_rnn", 1)):
        shapes.clear()
        m = LR.RecurrentLoop(cell, 3, 6, dropout=0.2, recurrent_dropout=0.4).double().train()
        m(x)
        assert shapes == [((2, 3), 0.2)] * g + [((2, 6), 0.4)] * g, cell
        shapes.clear()
        m.eval()(x)
        assert shapes == []
    shapes.clear()
    L.LSTMLayer(3, 6, input_dropout=0.2).double().train()(x)
    assert shapes == [((2, 3), 0.2)]


@pytest.mark.parametrize(
    "layer",
    [
        "lstm(8, dropout=0.3, return_sequences=true)",
        "gru(8, dropout=0.2, recurrent_dropout=0.3, return_sequences=true)",
        "bidirectional(lstm(8, recurrent_dropout=0.3, return_sequences=true), merge=ave)",
    ],
)
def test_dropout_training_vs_inference(layer):
    b = Built(branch_spec("drop", [layer]), no_dropout=False)
    assert b.diff() <= F64  # inference: no dropout, both backends equal
    tb = b.tb
    tb.model.train()
    with torch.no_grad():
        yt = tb.model(torch.from_numpy(b.xs[0])).numpy()
    yk = keras_out(b.km, b.xs, training=True)[0]
    for y in (yt, yk):
        assert np.all(np.isfinite(y))
        assert max_rel(y, b.yk[0]) > 1e-3


@pytest.mark.parametrize("group", ["loop", "bi_lstm", "bi_other"])
def test_rate_zero_training_equals_inference(groups, group):
    b = groups[group]
    tb = b.tb
    tb.model.train()
    with torch.no_grad():
        yt = as_list(tb.model(torch.from_numpy(b.xs[0])))
    assert worst(yt, torch_out(tb, b.xs)) == 0.0
    assert worst(keras_out(b.km, b.xs, training=True), b.yk) == 0.0


# --------------------------------------------------------------------------- errors


def test_softmax_over_another_axis_is_refused():
    spec = branch_spec("bad", ["simple_rnn(4, activation=softmax(axis=2))"])
    model = as_model(spec)
    for backend in ("torch", "keras"):
        with pytest.raises(SpecError, match="last axis"):
            specc.build(model, backend, dtype="float64")
