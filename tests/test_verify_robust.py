"""Every spec `specc check` accepts verifies or gets a clear error — never an internal
error: integer and bool tensors are refused at check time by layers that compute in
floating point; odd but legal inputs (float16/bfloat16 declarations, ids reaching an
embedding through a flatten, one-pixel images, unknown dimensions) verify; a missing GPU is
a usage error; a multi-file run reports every file."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import specc
from specc.errors import SpecError
from specc.verification import verify

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("decl", "layer"),
    [
        ("int32[8, 8, 1]", "conv2d(4, kernel=3)"),
        ("int64[6]", "dense(3)"),
        ("int32[5, 3]", "lstm(4)"),
        ("int32[5, 4]", "multi_head_attention(heads=2, key_dim=2)"),
        ("int32[5, 4]", "batch_norm"),
        ("int32[4]", "relu"),
        ("int32[4]", "dropout(0.5)"),
        ("bool[4]", "dense(2)"),
        ("bool[6, 6, 2]", "maxpool2d(2)"),
    ],
)
def test_check_refuses_non_float_tensors_into_float_layers(decl, layer):
    src = f"model m {{\n  input x: {decl}\n  {layer}\n}}\n"
    with pytest.raises(SpecError) as e:
        specc.loads(src)
    (d,) = e.value.diagnostics
    assert (d.span.line, d.span.col) == (3, 3)
    assert "computes in floating point" in d.message and decl.split("[")[0] in d.message
    assert d.hint.startswith("declare the input as float32")
    assert ("embedding" in d.hint) == decl.startswith("int")


def test_bool_ids_are_refused_by_embedding():
    with pytest.raises(SpecError, match="embedding needs integer ids, got bool"):
        specc.loads("model m { input x: bool[4]\n embedding(5, 2) }")


ODD = {
    "float16_input": "model m { input x: float16[4]\n dense(3)\n train { loss mse; optimizer sgd } }",
    "bfloat16_conv": "model m { input x: bfloat16[5, 5, 2]\n conv2d(2, kernel=3) -> flatten -> dense(2)\n train { loss mse; optimizer sgd } }",
    "ids_through_flatten": "model m { input x: int32[2, 3]\n flatten -> embedding(10, 4) -> flatten -> dense(2)\n train { loss mse; optimizer sgd } }",
    "one_pixel": "model m { input x: float32[1, 1, 1]\n conv2d(1, kernel=1) -> flatten -> dense(1, activation=sigmoid)\n train { loss binary_crossentropy; optimizer sgd } }",
    "unknown_dims": "model m { input x: float32[?, ?, 3]\n conv2d(2, kernel=3) -> global_maxpool2d -> dense(2)\n train { loss mse; optimizer sgd } }",
    "sequence_of_one": "model m { input x: float32[1, 2]\n bidirectional(gru(2, return_sequences=true)) -> global_avgpool1d -> dense(1)\n train { loss mse; optimizer adam } }",
    "integer_output": "model m { input x: int32[2, 2]\n flatten }",
}


@pytest.mark.parametrize("name", list(ODD))
def test_odd_but_legal_specs_verify(name):
    report = verify(specc.loads(ODD[name]), dtype="float64", steps=1)
    assert report.ok, report.render_text()


def test_ids_reaching_an_embedding_through_flatten_are_in_range():
    from specc.train.validate import vocab_of

    model = specc.loads(ODD["ids_through_flatten"])
    assert model.vocabs("x") == [10] and vocab_of(model, "x") == 10


def test_device_cuda_without_a_gpu_is_a_usage_error(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    from specc.cli import main
    from specc.verification import VerifyError

    assert main(["verify", str(ROOT / "specs" / "mlp_binary.spec"), "--device", "cuda"]) == 2
    assert "sees no GPU" in capsys.readouterr().err
    with pytest.raises(VerifyError, match="sees no GPU"):
        verify(ROOT / "specs" / "mlp_binary.spec", device="cuda")


def test_multi_file_verify_reports_every_file(tmp_path, capsys, monkeypatch):
    from specc.cli import main
    from specc.verification import harness

    good = str(ROOT / "specs" / "mlp_binary.spec")
    bad = tmp_path / "bad.spec"
    bad.write_text("model bad {\n  input x: float32[4]\n  dense(0)\n}\n")
    broken = tmp_path / "broken.spec"
    broken.write_text("model broken {\n  input x: float32[4]\n  dense(2)\n}\n")
    real = harness.make_probe

    def probe(backend, model, *args):
        if model.name == "broken":
            raise RuntimeError("planted crash")
        return real(backend, model, *args)

    monkeypatch.setattr(harness, "make_probe", probe)
    code = main(["verify", str(bad), good, str(broken), good, "--steps", "0", "--dtype", "float64"])
    out, err = capsys.readouterr()
    assert out.count("OK  mlp_binary") == 2  # both good files verified, after and between the others
    assert "bad.spec:3:" in err and "broken.spec: internal error: RuntimeError: planted crash" in err
    assert "2 of 4 specs verified" in err
    assert code == 3  # a crash is reported as one, not hidden
    monkeypatch.setattr(harness, "make_probe", real)
    assert main(["verify", str(bad), good, "--steps", "0"]) == 1


def test_pytest_plugin_failure_shows_the_layer_table(pytester):
    pytester.makefile(
        ".spec",
        strict=textwrap.dedent(
            """
            model strict {
              input x: float32[4]
              dense(3, activation=tanh)
              dense(2)
              train { loss mse; optimizer sgd(lr=0.1) }
              verify { rtol 1e-30; atol 1e-30; steps 1 }
            }
            """
        ),
    )
    pytester.makeini("[pytest]\nspecc_dtypes = float32\n")
    result = pytester.runpytest("--specc", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "max abs err" in text and "FAIL" in text
    assert "tensor(" not in text and "array(" not in text and "Traceback" not in text
