"""specc verify --against: a user's own port checked against a spec, both directions
(Keras source → PyTorch port, PyTorch source → Keras port).  Correct ports pass; ports
with the classic mistakes planted fail, naming the layer."""

from __future__ import annotations

import pytest

import specc
from specc.importers import import_model
from tests.import_support import keras_dtype, reference
from tests.reference_models import ports


def _with_train(text: str, loss: str, optimizer: str) -> specc.Model:
    body = text.rstrip()
    assert body.endswith("}")
    return specc.loads(body[:-1] + f"  train {{\n    loss {loss}\n    optimizer {optimizer}\n  }}\n}}\n")


@pytest.fixture(scope="module")
def mnist_spec():
    with keras_dtype("float64"):
        src = reference("keras_mnist_convnet").build()
    return _with_train(import_model(src).text, "sparse_categorical_crossentropy", "sgd(lr=0.1, momentum=0.9)")


@pytest.fixture(scope="module")
def same_conv_spec():
    with keras_dtype("float64"):
        src = ports.keras_same_conv()
    return _with_train(import_model(src).text, "sparse_categorical_crossentropy", "sgd(lr=0.1)")


@pytest.fixture(scope="module")
def gru_spec():
    make, inputs = reference("torch_gru_tagger").GRUTagger, reference("torch_gru_tagger").INPUTS
    return _with_train(import_model(make(), inputs).text, "mse", "sgd(lr=0.1)")


def _first(report):
    row = report.first_failure
    return (row.phase, row.name) if row else None


def test_keras_source_torch_port_passes(mnist_spec):
    report = specc.verify(mnist_spec, against=ports.MnistConvnetTorch, dtype="float64", steps=2)
    assert report.ok, report.render_text(compact=True)
    phases = {r.phase for r in report.rows}
    assert {"forward", "loss", "gradient", "step 1", "step 2"} <= phases


def test_flatten_order_is_named(mnist_spec):
    report = specc.verify(mnist_spec, against=ports.mnist_wrong_flatten, dtype="float64", steps=1)
    phase, name = _first(report)
    assert not report.ok and phase == "forward" and name.startswith("flatten")  # Keras numbers its auto-names per process


def _only_bn_variance(report) -> bool:
    """torch's BatchNorm updates running_var with the unbiased variance (Keras: biased): the
    one difference a torch port of a Keras batch norm cannot avoid, stated in the report."""
    return all(r.name.endswith("moving_variance") and r.phase.startswith("step") for r in report.failures()) and any(
        "unbiased" in n for n in report.notes
    )


def test_padding_side_is_named(same_conv_spec):
    good = specc.verify(same_conv_spec, against=ports.SameConvTorch, dtype="float64", steps=2)
    assert _only_bn_variance(good), good.render_text(compact=True)
    report = specc.verify(same_conv_spec, against=ports.same_conv_wrong_padding, dtype="float64", steps=1)
    assert not report.ok and _first(report) == ("forward", "conv")


def test_batch_norm_momentum_convention_is_named(same_conv_spec):
    """torch's momentum weighs the new statistics: 0.99 where Keras had 0.99 is wrong, and
    shows in the moving mean after the first step (0.01 is right)."""
    report = specc.verify(same_conv_spec, against=ports.same_conv_wrong_momentum, dtype="float64", steps=1)
    assert not report.ok
    assert [r.ok for r in report.rows if r.name == "bn.moving_mean"] == [False]
    good = specc.verify(same_conv_spec, against=ports.SameConvTorch, dtype="float64", steps=1)
    assert [r.ok for r in good.rows if r.name == "bn.moving_mean"] == [True]


def test_torch_source_keras_port_passes(gru_spec):
    report = specc.verify(gru_spec, against=ports.gru_tagger_keras, dtype="float64", steps=2)
    assert report.ok, report.render_text(compact=True)


def test_gru_gate_convention_is_named(gru_spec):
    report = specc.verify(gru_spec, against=ports.gru_tagger_keras_reset_before, dtype="float64", steps=1)
    assert not report.ok
    assert report.first_failure.phase == "structure" and "gru" in report.first_failure.op


def test_adam_epsilon_placement_is_named_and_explained(gru_spec):
    """The spec's Adam is PyTorch's; keras.optimizers.Adam places ε elsewhere: the steps
    differ, and the report says why."""
    spec = specc.loads(_adam())
    report = specc.verify(spec, against=ports.gru_tagger_keras, dtype="float64", steps=2)
    assert not report.ok and report.first_failure.phase.startswith("step")
    assert any("ε̂" in n for n in report.notes)
    assert specc.verify(spec, against=reference("torch_gru_tagger").GRUTagger, dtype="float64", steps=2, inputs=["sentence:int64[15]"]).ok


def _adam() -> str:
    make, inputs = reference("torch_gru_tagger").GRUTagger, reference("torch_gru_tagger").INPUTS
    text = import_model(make(), inputs).text.rstrip()
    return text[:-1] + "  train {\n    loss mse\n    optimizer adam(lr=0.01, epsilon=1e-3)\n  }\n}\n"


def test_assert_equivalent_against(mnist_spec):
    from specc.testing import SpecEquivalenceError, assert_equivalent

    assert_equivalent(mnist_spec, against=ports.MnistConvnetTorch, steps=1)
    with pytest.raises(SpecEquivalenceError, match="flatten"):
        assert_equivalent(mnist_spec, against=ports.mnist_wrong_flatten, steps=1)


def test_cli_verify_against(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    spec = tmp_path / "tagger.spec"
    make, inputs = reference("torch_gru_tagger").GRUTagger, reference("torch_gru_tagger").INPUTS
    text = import_model(make(), inputs).text.rstrip()
    spec.write_text(text[:-1] + "  train {\n    loss mse\n    optimizer sgd(lr=0.1)\n  }\n}\n")
    port = Path(ports.__file__)
    ok = subprocess.run([sys.executable, "-m", "specc", "verify", str(spec), "--against", f"{port}:gru_tagger_keras", "--dtype", "float64", "--steps", "1"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = subprocess.run([sys.executable, "-m", "specc", "verify", str(spec), "--against", f"{port}:gru_tagger_keras_reset_before", "--steps", "1"], capture_output=True, text=True)
    assert bad.returncode == 1 and "gru" in bad.stdout, bad.stdout + bad.stderr
    missing = subprocess.run([sys.executable, "-m", "specc", "verify", str(spec), "--against", f"{port}:nothing"], capture_output=True, text=True)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


def test_gru_gate_order_in_the_users_weight_conversion_is_named():
    """The port keeps the weights the user converted (port_weights='own'); the spec runs with
    the source's imported weights.  A conversion that forgets torch's r, z, n → z, r, h order
    fails at the GRU."""
    import torch

    from tests.import_support import keras_dtype

    mod = reference("torch_gru_tagger")
    src = mod.GRUTagger().double()
    with torch.no_grad():
        for p in src.parameters():
            p.uniform_(-0.4, 0.4)
    result = import_model(src, mod.INPUTS)
    spec = _with_train(result.text, "mse", "sgd(lr=0.1)")
    reports = {}
    for reorder in (True, False):
        with keras_dtype("float64"):
            port = ports.gru_tagger_keras_from_torch(src, reorder_gates=reorder)
        reports[reorder] = specc.verify(spec, against=port, weights=result.weights, port_weights="own", dtype="float64", steps=1)
    assert reports[True].ok, reports[True].render_text(compact=True)
    assert not reports[False].ok and _first(reports[False]) == ("forward", "gru")
