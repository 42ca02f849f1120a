"""Property: any valid spec built from the vocabulary means the same function in both
backends.  Hypothesis drives the generator `specc fuzz` uses (specc/selftest/generate.py:
graphs with branches and merges over the whole vocabulary), a few specs per run, and
`specc verify` must pass in float64 over forward, loss, gradients and optimizer steps."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import specc
from specc.selftest.generate import draw_spec
from specc.verification import verify


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck), print_blob=True)
@given(st.randoms(use_true_random=False))
def test_random_specs_are_equivalent(r):
    text = draw_spec(r).text()
    model = specc.loads(text)
    report = verify(model, dtype="float64", steps=2, batch=3)
    assert report.ok, text + "\n" + report.render_text()
