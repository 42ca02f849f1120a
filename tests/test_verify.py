"""`specc verify`: the example specs agree across backends, and the harness fails — at the
right layer — when a lowering has a real semantic bug."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

import specc
from specc.verification import VerifyError, verify

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.spec"))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_example_specs_verify(spec, dtype):
    report = verify(spec, dtype=dtype)
    assert report.ok, report.render_text()
    phases = {r.phase for r in report.rows}
    assert {"forward", "loss", "gradient", "step 1", "step 2", "step 3"} <= phases
    forward = [r for r in report.rows if r.phase == "forward" and r.dtype == dtype]
    assert len(forward) == sum(len(n.outputs) for n in specc.load(spec).nodes)
    assert all(r.why for r in report.rows)  # every bound explains itself
    if dtype == "float64":
        assert report.dtypes == {"torch": ["float64"], "keras": ["float64"]}
        assert max(r.max_rel for r in forward) < 1e-12


# --------------------------------------------------------------------------- planted bugs

CNN = """
model planted {
  input image: float32[7, 7, 2]
  conv2d(4, kernel=2, padding=same, activation=relu)
  batch_norm
  maxpool2d(2, padding=same)
  flatten
  dense(5, activation=leaky_relu(0.2))
  dense(3, activation=softmax)
  train { loss categorical_crossentropy; optimizer adam(lr=0.01) }
}
"""


def _first_failure(spec_text: str):
    report = verify(specc.loads(spec_text), dtype="float64", steps=2)
    assert not report.ok, "the planted bug was not caught"
    return report.first_failure


def test_planted_flatten_order(monkeypatch):
    """Forgetting to permute the dense kernel after a channels-first flatten."""
    from specc.backends.torch.ops import dense

    monkeypatch.setattr(dense.DenseOp, "to_torch", lambda self, info, w: {"weight": w["kernel"].T, "bias": w["bias"]})
    f = _first_failure(CNN)
    assert (f.phase, f.name) == ("forward", "dense")


def test_planted_padding_side(monkeypatch):
    """'same' padding with the extra row/column at the start instead of the end."""
    from specc.backends.torch.ops import conv

    real = conv.conv_padding

    def swapped(op, shape):
        kw, cls = real(op, shape)
        if "pad" in kw:
            p = kw["pad"]
            kw = {"pad": tuple(x for i in range(0, len(p), 2) for x in (p[i + 1], p[i]))}
        return kw, cls

    monkeypatch.setattr(conv, "conv_padding", swapped)
    f = _first_failure(CNN)
    assert (f.phase, f.name) == ("forward", "conv2d")


def test_planted_missing_bias(monkeypatch):
    """A dense lowering that drops the bias."""
    from torch import nn

    from specc.backends.common import Construct
    from specc.backends.torch.ops import dense
    from specc.backends.torch.plan import CANON

    def lower(self, node, ins, ctx):
        (y,) = ctx.module(Construct(nn.Linear, (ctx.in_types[0].shape[-1], node.op.units), {"bias": False}), ins)
        ctx.done([ctx.activation(node.op.activation, y, CANON, 1)], [CANON])

    monkeypatch.setattr(dense.DenseOp, "lower", lower)
    real_to, real_from = dense.DenseOp.to_torch, dense.DenseOp.from_torch
    monkeypatch.setattr(dense.DenseOp, "to_torch", lambda self, info, w: {k: v for k, v in real_to(self, info, w).items() if k != "bias"})
    monkeypatch.setattr(dense.DenseOp, "from_torch", lambda self, info, sd: {**real_from(self, info, sd), "bias": np.zeros(info.node.op.units)})
    f = _first_failure(CNN)
    assert (f.phase, f.name) == ("forward", "dense")


def test_planted_adam_epsilon_inside_root(monkeypatch):
    """Keras' own Adam update (ε added to the raw √v, before the bias correction) instead of
    the IR's: TorchAdam stepping as its Keras base class does."""
    import keras

    from specc.backends.keras.lib import optimizers

    update_step = keras.optimizers.Adam.update_step
    monkeypatch.setattr(optimizers.TorchAdam, "update_step", update_step)
    f = _first_failure(CNN)
    assert f.phase == "step 1"


def test_planted_unbiased_moving_variance(monkeypatch):
    """PyTorch's running-variance rule (unbiased) in the batch-norm lowering."""
    import torch

    from specc.backends.torch.lib import core

    def forward(self, x):
        if self.training and not self.frozen:
            y = torch.nn.functional.batch_norm(x, None, None, self.weight, self.bias, True, 0.0, self.eps)
            with torch.no_grad():
                var, mean = torch.var_mean(x, dim=[0, 2, 3], correction=1)
                self.moving_mean.mul_(self.momentum).add_(mean, alpha=1 - self.momentum)
                self.moving_var.mul_(self.momentum).add_(var, alpha=1 - self.momentum)
            return y
        return torch.nn.functional.batch_norm(x, self.moving_mean, self.moving_var, self.weight, self.bias, False, 0.0, self.eps)

    monkeypatch.setattr(core.BatchNorm, "forward", forward)
    f = _first_failure(CNN)
    assert (f.phase, f.name) == ("step 1", "batch_norm.moving_variance")


def test_planted_leaky_relu_default_slope(monkeypatch):
    """PyTorch's default slope (0.01) instead of the spec's."""
    from specc.backends.torch import activations

    real = activations.activation_step

    def step(spec, layout, rank):
        fn, kw = real(spec, layout, rank)
        return (fn, {"negative_slope": 0.01}) if spec.kind == "leaky_relu" else (fn, kw)

    monkeypatch.setattr(activations, "activation_step", step)  # the planner calls it through its module
    f = _first_failure(CNN)
    assert (f.phase, f.name) == ("forward", "dense")


def test_planted_gru_gate_order(monkeypatch):
    """PyTorch's GRU gate order (r, z, n) taken for the canonical one (z, r, h)."""
    from specc.backends.torch.ops import recurrent

    monkeypatch.setattr(recurrent, "_GRU_TO_TORCH", (0, 1, 2))
    text = """
    model seq {
      input tokens: int32[6]
      embedding(20, 5)
      gru(4, return_sequences=true)
      global_avgpool1d
      dense(2, activation=softmax)
      train { loss sparse_categorical_crossentropy; optimizer sgd(lr=0.1) }
    }
    """
    f = _first_failure(text)
    assert (f.phase, f.name) == ("forward", "gru")


# --------------------------------------------------------------------------- honesty of the harness


def test_float64_must_really_be_float64(monkeypatch):
    """A backend that silently computes in float32 is refused, not compared."""
    from specc.verification import probes

    real = probes.TorchProbe.__init__

    def float32_init(self, model, weights, dtype, device):
        real(self, model, weights, "float32", device)

    monkeypatch.setattr(probes.TorchProbe, "__init__", float32_init)
    with pytest.raises(VerifyError, match="float32"):
        verify(ROOT / "specs" / "mlp_binary.spec", dtype="float64", steps=1)


@pytest.mark.parametrize("optimizer", ["adagrad(lr=0.05, initial_accumulator=0.1, lr_decay=0.01)", "rmsprop(centered=true, momentum=0.5)", "sgd(momentum=0.9, dampening=0.2)"])
def test_optimizer_state_survives_keras_graph_mode(optimizer):
    """Optimizer state set up in build() must persist across fit's traced steps (an
    accumulator assigned in build() would be reset every step inside tf.function)."""
    text = f"model m {{ input x: float32[5]\n dense(4, activation=tanh)\n dense(2)\n train {{ loss mse; optimizer {optimizer} }} }}"
    report = verify(specc.loads(text), dtype="float64", steps=4)
    assert report.ok, report.render_text()


def test_tolerance_is_live():
    """float32 round-off exists and is measured: a zero tolerance fails, the default passes."""
    spec = ROOT / "specs" / "mnist_cnn.spec"
    strict = verify(spec, dtype="float32", steps=1, rtol=0.0, atol=0.0)
    assert not strict.ok and strict.first_failure.phase == "forward"
    assert verify(spec, dtype="float32", steps=1).ok


def test_randomised_constants_and_notes():
    report = verify(ROOT / "specs" / "cnn_small.spec", dtype="float64", steps=1)
    assert any(n.startswith("dropout compared, not switched off") for n in report.notes)
    assert any("randomised" in n for n in report.notes)


def test_no_train_section_compares_forward_only():
    report = verify(specc.loads("model m { input x: float32[3]\n dense(2, activation=tanh) }"), dtype="float64")
    assert report.ok and {r.phase for r in report.rows} == {"forward"}
    assert any("no train section" in n for n in report.notes)


def test_assert_equivalent_message_has_the_layer_table(monkeypatch):
    from specc.backends.torch.ops import dense
    from specc.testing import SpecEquivalenceError, assert_equivalent

    monkeypatch.setattr(dense.DenseOp, "to_torch", lambda self, info, w: {"weight": w["kernel"].T * 1.001, "bias": w["bias"]})
    with pytest.raises(SpecEquivalenceError) as e:
        assert_equivalent(ROOT / "specs" / "mlp_binary.spec", steps=1)
    text = str(e.value)
    assert "FAIL" in text and "dense" in text and "max abs err" in text


# --------------------------------------------------------------------------- CLI and pytest plugin


def test_cli_json_and_exit_codes(tmp_path, capsys):
    from specc.cli import main

    spec = str(ROOT / "specs" / "mlp_binary.spec")
    assert main(["verify", spec, "--dtype", "float64", "--steps", "1", "--json"]) == 0
    (result,) = json.loads(capsys.readouterr().out)  # a list: one result per file
    assert (result["file"], result["ok"], result["diagnostics"]) == (spec, True, [])
    data = result["report"]
    assert data["ok"] and data["dtype"] == "float64" and data["rows"]
    assert {"phase", "name", "shape", "max_abs", "max_rel", "tol", "ok"} <= set(data["rows"][0])
    out = tmp_path / "report.json"
    assert main(["verify", spec, "--steps", "0", "--rtol", "0", "--atol", "0", "--json", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "FAIL" in printed and "max abs err" in printed
    (result,) = json.loads(out.read_text())
    assert result["ok"] is False and result["report"]["first_failure"]["phase"] == "forward"
    # outside a terminal the verdict is one line, however long
    verdict = [line for line in printed.splitlines() if line.startswith("FAIL mlp_binary")]
    assert len(verdict) == 1 and verdict[0].endswith(f"> {result['report']['first_failure']['tol']:.3g}")
    assert main(["verify", spec, "--backends", "torch"]) == 2


def test_pytest_plugin_collects_specs(pytester):
    pytester.makefile(
        ".spec",
        tiny=textwrap.dedent(
            """
            model tiny {
              input x: float32[4]
              dense(3, activation=relu)
              dense(2)
              train { loss mse; optimizer sgd(lr=0.1) }
            }
            """
        ),
    )
    pytester.runpytest("--specc", "-p", "no:cacheprovider").assert_outcomes(passed=2)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes()


def test_verify_rejects_bad_usage():
    with pytest.raises(ValueError):
        verify(ROOT / "specs" / "mlp_binary.spec", backends=("torch",))
    assert np.isfinite(verify(ROOT / "specs" / "mlp_binary.spec", steps=0, dtype="float64").rows[0].max_abs)


def test_frozen_layers_verify():
    """A trainable=false layer has no gradient in either backend (Keras leaves it out of its
    trainable variables: converting them must not look for it)."""
    text = "model m { input x: float32[5]\n dense(4, activation=relu, trainable=false)\n dense(2)\n train { loss mse; optimizer sgd(lr=0.1) } }"
    report = verify(specc.loads(text), dtype="float64", steps=1)
    assert report.ok, report.render_text()
    assert {r.name for r in report.rows if r.phase == "gradient"} == {"dense_1.kernel", "dense_1.bias"}
