"""specc import of PyTorch reference models (pytorch/examples, torchvision, tutorials, as
their authors wrote them), traced with torch.fx: the spec checks, and both backends'
compiled models equal the source module — NCHW inputs and flatten order included."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import specc
from specc.importers import ImportFailure, import_model
from tests.import_support import compiled_outputs, max_rel, torch_reference, torch_source_inputs, torch_source_output

TORCH_REFERENCES = [
    ("torch_mnist_net", "Net"),
    ("torch_gru_tagger", "GRUTagger"),
    ("torch_resnet_block", "projection_block"),
    ("torch_resnet_block", "SmallResNet"),
    ("torch_modulelist", "ResidualMLP"),
    ("torch_modulelist", "MLP"),
    ("torch_lstm_classifier", "LSTMClassifier"),
    ("torch_lstm_classifier", "BiLSTMClassifier"),
]

TOL = {"float64": 1e-10, "float32": 2e-5}


def _randomise(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Non-trivial weights everywhere, batch-norm statistics included (never the defaults)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if t.is_floating_point():
                r = torch.rand(t.shape, generator=g, dtype=torch.float64)
                t.copy_((0.5 + r) if name.endswith("running_var") else (r - 0.5) * 0.6)
    return module


def _canonical_output(result, y):
    """The source's output in the spec's layout (channels-first images move their channels last)."""
    return np.moveaxis(y, 1, -1) if y.ndim >= 3 and any("channels-first" in n for n in result.report.notes) else y


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(("module", "ctor"), TORCH_REFERENCES)
def test_torch_reference_round_trip(module, ctor, dtype, rng):
    make, inputs = torch_reference(module, ctor)
    src = _randomise(make())
    result = import_model(src, inputs)
    assert specc.loads(result.text) == result.model
    xs, xc = torch_source_inputs(result, rng)
    want = _canonical_output(result, torch_source_output(src, xs, dtype))
    yt, yk = compiled_outputs(result, xc, dtype)
    assert max_rel(yt, want) <= TOL[dtype]
    assert max_rel(yk, want) <= TOL[dtype]
    k = next(k for k in result.weights if k.endswith(("kernel", "embeddings")))
    result.weights[k] = result.weights[k] + 0.1 * np.sign(result.weights[k] + 1e-3)
    (yt2,) = compiled_outputs(result, xc, dtype, backends=("torch",))
    assert max_rel(yt2, want) > 100 * TOL[dtype]


def test_nchw_flatten_is_a_permute_then_flatten():
    """The MNIST Net's torch.flatten of an NCHW map: channels-first order, written in the spec."""
    make, inputs = torch_reference("torch_mnist_net", "Net")
    result = import_model(make(), inputs)
    assert "permute([3, 1, 2]" in result.text and "input x: float32[28, 28, 1]" in result.text
    kinds = [n.op.kind for n in result.model.nodes]
    assert kinds[kinds.index("flatten") - 1] == "permute"


def test_repeated_submodules_become_a_repeat():
    make, inputs = torch_reference("torch_modulelist", "ResidualMLP")
    result = import_model(make(), inputs)
    assert "repeat 3 {" in result.text and "block blocks()" in result.text
    assert [n.name for n in result.model.nodes if n.local_name == "fc1"] == ["blocks.0.fc1", "blocks.1.fc1", "blocks.2.fc1"]
    make, inputs = torch_reference("torch_resnet_block", "SmallResNet")
    result = import_model(make(), inputs)
    assert "repeat 3 {" in result.text and "layer1.2.conv2" in [n.name for n in result.model.nodes]


def test_conventions_are_explicit_and_reported():
    make, inputs = torch_reference("torch_resnet_block", "projection_block")
    result = import_model(make(), inputs)
    assert "batch_norm(epsilon=1e-05, momentum=0.9" in result.text  # torch 0.1 → Keras convention 0.9
    assert any("momentum 0.1" in n for n in result.report.notes)
    assert "use_bias=false" in result.text and "padding=[[1, 1], [1, 1]]" in result.text
    make, inputs = torch_reference("torch_gru_tagger", "GRUTagger")
    result = import_model(make(), inputs)
    assert "reset_after=true" in result.text
    rendered = result.report.render()
    assert "gru.weight_ih_l0" in rendered and "r, z, n → z, r, h" in rendered


class _Sliced(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(x)[:, :2]


class _Const(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(x) * 2.0


class _TimeMajor(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = torch.nn.GRU(4, 3)

    def forward(self, x):
        return self.rnn(x)[0]


class _Shared(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 4)

    def forward(self, x):
        return self.fc(self.fc(x))


class _Branchy(torch.nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x
        return -x


@pytest.mark.parametrize(
    ("module", "inputs", "names"),
    [
        (_Sliced(), ["x:float32[4]"], ["getitem", "slicing"]),
        (_Const(), ["x:float32[4]"], ["mul", "constant"]),
        (_TimeMajor(), ["x:float32[5,4]"], ["module 'rnn'", "batch_first"]),
        (_Shared(), ["x:float32[4]"], ["module 'fc'", "shared weights"]),
        (_Branchy(), ["x:float32[4]"], ["torch.fx cannot trace"]),
        (torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.PReLU()), ["x:float32[4]"], ["PReLU"]),
        (torch.nn.Sequential(torch.nn.Embedding(10, 4, padding_idx=0)), ["x:int64[3]"], ["padding_idx"]),
    ],
)
def test_unsupported_calls_are_clean_errors(module, inputs, names):
    with pytest.raises(ImportFailure) as e:
        import_model(module, inputs)
    for n in names:
        assert n in str(e.value), str(e.value)


def test_missing_input_is_explained():
    make, _ = torch_reference("torch_mnist_net", "Net")
    with pytest.raises(ImportFailure, match="--input"):
        import_model(make(), [])


def test_cli_import_torch_file(tmp_path, capsys):
    """`specc import FILE.py:Class` through the CLI, in this process (specc.cli.main; the
    `python -m specc` start is tested by test_train's and test_readme's CLI runs)."""
    from pathlib import Path

    from specc.cli import main

    src = Path(__file__).parent / "reference_models" / "torch_mnist_net.py"
    out = tmp_path / "net.spec"
    rc = main(["import", f"{src}:Net", "--input", "x:float32[1,28,28]", "-o", str(out)])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "NCHW" in err and "fc1.weight" in err
    assert specc.load(out).inputs[0].type.shape == (28, 28, 1)
    rc = main(["import", f"{src}:Net", "--input", "x:float32[1,28]"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and "error" in err
