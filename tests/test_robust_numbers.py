"""Numbers that pass the grammar but would crash a framework later are refused at `check`,
located, with a readable bound (issue 10: "check catches what would crash later"): an
initializer argument Keras cannot hold (constant(1e308)), a learning
rate or hyperparameter that overflows float32 in torch's update (lr = 3.4e38 was exit 3 in
`train`), a layer argument torch cannot hold (leaky_relu(1e308)), a seed outside what NumPy,
torch and TensorFlow take.  A growing schedule that overflows anyway is a clean error."""

from __future__ import annotations

import math

import pytest

import specc
from specc.ir.schedules import Exponential, Step

BASE = """model m {{
  input x: float32[8, 8, 1]
  flatten
  dense(10, activation={act}, reg={reg}, init={init})
  train {{
    loss {loss}
    optimizer adam(lr={lr})
    seed {seed}
  }}
}}
"""
OK = {"init": "glorot_uniform", "act": "relu", "reg": "l2(1e-4)", "loss": "sparse_categorical_crossentropy", "lr": "1e-3", "seed": "0"}


def spec(**over) -> str:
    return BASE.format(**{**OK, **over})


def test_the_base_spec_is_valid():
    specc.loads(spec(), "m.spec")
    specc.loads(spec(lr="1e6", seed=str(2**32 - 1)), "m.spec")  # the bounds themselves pass


@pytest.mark.parametrize(
    "over, message",
    [
        ({"lr": "3.4e38"}, "adam.lr: input should be less than or equal to 1000000 (got 3.4e+38)"),
        ({"lr": "1e308"}, "adam.lr: input should be less than or equal to"),
        ({"lr": "1e999"}, "not finite"),
        ({"act": "leaky_relu(1e308)"}, "leaky_relu.alpha: input should be less than or equal to"),
        ({"act": "elu(1e30)"}, "elu.alpha: input should be less than or equal to"),
        ({"reg": "l2(1e308)"}, "l2.l2: input should be less than or equal to"),
        ({"loss": "huber(delta=1e300)"}, "huber.delta: input should be less than or equal to"),
        ({"seed": str(2**32)}, "train.seed: input should be less than 4294967296"),
        # constant(1e308) passed check, then Keras refused the weights mid-build: exit 3 in train/verify
        ({"init": "constant(1e308)"}, "constant.value: input should be less than or equal to 1000000"),
        ({"init": "constant(-1e308)"}, "constant.value: input should be greater than or equal to -1000000"),
        ({"init": "random_normal(0.0, 1e300)"}, "random_normal.stddev: input should be less than or equal to"),
        ({"init": "variance_scaling(scale=1e300)"}, "variance_scaling.scale: input should be less than or equal to"),
    ],
)
def test_numbers_that_would_overflow_later_are_refused_at_check(over, message):
    with pytest.raises(specc.SpecError) as e:
        specc.loads(spec(**over), "m.spec")
    d = e.value.diagnostics[0]
    assert message in d.message and d.span is not None and d.span.line >= 4, d


def test_bounds_are_written_readably():
    from specc.ir.wording import bound_message as _bound_message

    assert _bound_message({"ctx": {"le": 3.4028234663852886e38}}) == "input should be less than or equal to 3.4028235e+38"
    assert _bound_message({"ctx": {"le": 1e6}}) is None  # pydantic's own message is fine there


def test_growing_schedules_give_inf_not_overflow_error():
    assert Step(step_size=1, gamma=1e6).factor(10**6) == math.inf
    assert Exponential(decay_steps=1, decay_rate=1e6).factor(10**6) == math.inf
    assert Step(step_size=2, gamma=0.5).factor(4) == 0.25


@pytest.mark.parametrize("backend", ["torch", "keras"])
def test_train_with_an_lr_that_overflows_is_a_clean_error(backend, tmp_path, capsys):
    """Both backends stop at the same step with the same message (Keras trained to NaN and
    exited 0 before; torch failed inside the step)."""
    pytest.importorskip("torch" if backend == "torch" else "tensorflow")
    from specc.cli import main

    p = tmp_path / "m.spec"
    p.write_text(
        spec().replace("    seed 0\n", "    seed 0\n    schedule step(1, 1e6)\n    batch 64\n    epochs 2\n")
    )
    rc = main(["train", str(p), "--backend", backend, "--out", str(tmp_path / "run"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 1 and "overflowed the float range" in err and "internal error" not in err, err
    assert "step " in err and "learning rate" in err, err
