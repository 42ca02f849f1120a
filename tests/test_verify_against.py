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


def test_padding_side_is_named(same_conv_spec):
    good = specc.verify(same_conv_spec, against=ports.SameConvTorch, dtype="float64", steps=2)
    assert good.ok, good.render_text(compact=True)
    report = specc.verify(same_conv_spec, against=ports.same_conv_wrong_padding, dtype="float64", steps=1)
    assert not report.ok and _first(report) == ("forward", "conv")


def test_torch_batch_norm_running_var_is_judged_by_torchs_rule(same_conv_spec):
    """torch's BatchNorm updates running_var with the unbiased batch variance (Keras: biased):
    a correct torch port is judged by torch's rule applied to the spec's batch statistics, and
    the report says so and what it means for inference after training."""
    good = specc.verify(same_conv_spec, against=ports.SameConvTorch, dtype="float64", steps=2)
    rows = [r for r in good.rows if r.name.endswith("moving_variance") and r.phase.startswith("step")]
    assert rows and all(r.ok for r in rows) and all("unbiased" in r.op for r in rows)
    assert any("unbiased" in n and "n = " in n for n in good.notes)
    # the rule can fail: judged by the spec's own (biased) rule, the port's running_var differs
    from specc.verification import against

    saved = against._unbiased_running_var
    against._unbiased_running_var = lambda *a, **k: {}
    try:
        plain = specc.verify(same_conv_spec, against=ports.SameConvTorch, dtype="float64", steps=1)
    finally:
        against._unbiased_running_var = saved
    assert [r.name for r in plain.failures()] and all(r.name.endswith("moving_variance") for r in plain.failures())


def test_batch_norm_momentum_convention_is_named(same_conv_spec):
    """torch's momentum weighs the new statistics: 0.99 where Keras had 0.99 is wrong, and
    shows in the moving mean (and variance) after the first step (0.01 is right)."""
    report = specc.verify(same_conv_spec, against=ports.same_conv_wrong_momentum, dtype="float64", steps=1)
    assert not report.ok
    assert [r.ok for r in report.rows if r.name == "bn.moving_mean"] == [False]
    assert [r.ok for r in report.rows if r.name == "bn.moving_variance"] == [False]
    good = specc.verify(same_conv_spec, against=ports.SameConvTorch, dtype="float64", steps=1)
    assert [r.ok for r in good.rows if r.name == "bn.moving_mean"] == [True]


# coefficients that are float32 numbers: Keras' own regularisers round theirs to float32
# (see test_keras_regulariser_coefficients_rounded_to_float32_are_explained)
_REGULARISED = """model regularised {
  input x: float32[7]
  dense(6, activation=tanh, reg=l2(0.0625), bias_reg=l1(0.03125))
  dense(3, reg=l1(0.015625))
  train {
    loss mse
    optimizer sgd(lr=0.1)
    schedule step(step_size=1, gamma=0.5)
  }
}
"""


class _TorchMLP(__import__("torch").nn.Module):
    def __init__(self):
        import torch.nn as nn

        super().__init__()
        self.fc1, self.fc2 = nn.Linear(7, 6), nn.Linear(6, 3)

    def forward(self, x):
        return self.fc2(self.fc1(x).tanh())


def _keras_mlp(l2=0.0625):
    import keras
    from keras import layers, regularizers

    inp = keras.Input((7,))
    h = layers.Dense(6, activation="tanh", kernel_regularizer=regularizers.L2(l2), bias_regularizer=regularizers.L1(0.03125))(inp)
    return keras.Model(inp, layers.Dense(3, kernel_regularizer=regularizers.L1(0.015625))(h))


def test_torch_port_gets_the_specs_penalties_and_schedule(monkeypatch):
    """A torch module has no regularisers: the spec's penalties join the port's loss (the
    training loop is specc's), and the spec's schedule drives its optimizer."""
    from specc.verification import user_probes

    spec = specc.loads(_REGULARISED)
    report = specc.verify(spec, against=_TorchMLP, dtype="float64", steps=3, inputs=["x:float32[7]"])
    assert report.ok, report.render_text(compact=True)
    monkeypatch.setattr(user_probes.UserTorchProbe, "_penalty_terms", lambda self: [])
    bad = specc.verify(spec, against=_TorchMLP, dtype="float64", steps=1, inputs=["x:float32[7]"])
    assert not bad.ok and bad.first_failure.phase == "loss"


def test_keras_port_gets_the_specs_schedule(monkeypatch):
    """The spec's schedule reaches the Keras port's optimizer (here the rate halves after the
    first step); its regularisers are the port's own (Keras keeps them in the model)."""
    from specc.verification import user_probes

    spec = specc.loads(_REGULARISED)
    report = specc.verify(spec, against=_keras_mlp, dtype="float64", steps=3)
    assert report.ok, report.render_text(compact=True)
    assert {"step 2", "step 3"} <= {r.phase for r in report.rows}
    monkeypatch.setattr(user_probes, "_keras_schedule", lambda keras, lr, schedule: lr)
    bad = specc.verify(spec, against=_keras_mlp, dtype="float64", steps=2)
    assert not bad.ok and bad.first_failure.phase == "step 2"


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


def test_cli_verify_against(tmp_path, capsys):
    """`specc verify --against FILE:NAME` through the CLI (in this process: the `python -m
    specc` start is tested elsewhere, e.g. test_train's CLI run): a correct port exits 0, a
    planted bug exits 1 naming the layer, a missing name exits 2 without a traceback."""
    from pathlib import Path

    from specc.cli import main

    spec = tmp_path / "tagger.spec"
    make, inputs = reference("torch_gru_tagger").GRUTagger, reference("torch_gru_tagger").INPUTS
    text = import_model(make(), inputs).text.rstrip()
    spec.write_text(text[:-1] + "  train {\n    loss mse\n    optimizer sgd(lr=0.1)\n  }\n}\n")
    port = Path(ports.__file__)
    ok = main(["verify", str(spec), "--against", f"{port}:gru_tagger_keras", "--dtype", "float64", "--steps", "1"])
    out = capsys.readouterr()
    assert ok == 0, out.out + out.err
    bad = main(["verify", str(spec), "--against", f"{port}:gru_tagger_keras_reset_before", "--steps", "1"])
    out = capsys.readouterr()
    assert bad == 1 and "gru" in out.out, out.out + out.err
    missing = main(["verify", str(spec), "--against", f"{port}:nothing"])
    out = capsys.readouterr()
    assert missing == 2 and "Traceback" not in out.err, out.err


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


def test_keras_regulariser_coefficients_rounded_to_float32_are_explained():
    """Keras casts a regulariser's Python-float coefficient through float32: 0.05 becomes
    0.0500000007.  In float64 that is a real (tiny) difference: flagged, and explained."""
    spec = specc.loads(_REGULARISED.replace("l2(0.0625)", "l2(0.05)"))
    report = specc.verify(spec, against=lambda: _keras_mlp(l2=0.05), dtype="float64", steps=1)
    assert not report.ok and report.first_failure.phase == "loss"
    assert any("float32 constant" in n and "0.05" in n for n in report.notes)
    assert specc.verify(spec, against=lambda: _keras_mlp(l2=0.05), dtype="float32", steps=1).ok


def test_keras_sgd_momentum_under_a_schedule_is_named():
    """keras.optimizers.SGD keeps lr inside its velocity: once the schedule changes the rate,
    a Keras port's momentum steps differ from the spec's (PyTorch's) — failed and explained."""
    spec = specc.loads(_REGULARISED.replace("sgd(lr=0.1)", "sgd(lr=0.1, momentum=0.9)"))
    report = specc.verify(spec, against=_keras_mlp, dtype="float64", steps=3)
    assert not report.ok and report.first_failure.phase == "step 2"  # the first step at the halved rate
    assert any("folds the learning rate into its velocity" in n for n in report.notes)
