"""`specc selftest` and `specc fuzz`: the corpus covers the whole vocabulary, the harness
catches bugs planted in itself, shared code matches the frameworks, fuzzing shrinks."""

from __future__ import annotations

import random

import pytest

import specc
from specc.selftest import canary, corpus
from specc.selftest.coverage import missing, used
from specc.selftest.generate import Draft, Stmt, draw_spec, shrink


def test_corpus_covers_every_parameter_of_every_vocabulary_item():
    """Each registered layer, activation, initialiser, regulariser, loss, optimizer,
    schedule and metric appears in the corpus, each parameter with a non-default value
    (new vocabulary fails here until the corpus exercises it)."""
    models = [specc.load(p) for p in corpus()]
    assert len(models) >= 8
    assert missing(models) == []


def test_coverage_sees_a_gap():
    """The coverage rule can fail: a corpus without the recurrent spec misses GRU options."""
    models = [specc.load(p) for p in corpus() if p.stem != "recurrent"]
    gaps = missing(models)
    assert "layer gru.use_bias" in gaps and "optimizer adadelta" in gaps  # the masked spec has a GRU at its defaults
    gaps = missing([specc.load(p) for p in corpus() if p.stem != "shared"])
    assert "node shares (a shared layer applied again)" in gaps and "block shares (a shared block instance applied again)" in gaps
    m = specc.loads("model m { input x: float32[3]\n dense(2, activation=leaky_relu(0.2)) }")
    assert ("leaky_relu", "alpha") in used([m]) and ("dense", "use_bias") not in used([m])


def test_issue_blind_spots_are_in_the_corpus():
    text = "\n".join(p.read_text() for p in corpus())
    for needle in [
        "gru(", "go_backwards=true, reset_after=false", "merge=sum", "merge=mul", "merge=ave", "batch_norm(", "avgpool2d(",
        "kernel=2, padding=same", "depth_multiplier=2", "conv2d_transpose(", "leaky_relu(alpha=0.2)", "hard_sigmoid",
        "gelu(approximate=true)", "softmax(axis=1)", "causal=true", "kl_divergence", "huber(delta=0.3)", "label_smoothing",
        "binary_crossentropy", "dampening=0.2", "centered=true", "lr_decay=0.05, initial_accumulator=0.2", "alpha=0.2, warmup_steps=2",
        "clip_norm=1000.0", "clip_norm=0.05",
    ]:
        assert needle in text, needle


# --------------------------------------------------------------------------- the harness tests itself


def _failing_checks(dtype="float64"):
    return [c for c in canary.harness_checks(dtype) if not c.ok]


def test_canary_passes_on_the_real_harness():
    assert _failing_checks() == []


def _harness():
    from specc.verification import harness

    return harness


def test_self_comparison_is_caught(monkeypatch):
    h = _harness()
    real = h.compare_runs
    monkeypatch.setattr(h, "compare_runs", lambda report, model, expected, dtype, ra, rb, *a, **k: real(report, model, expected, dtype, ra, ra, *a, **k))
    failing = _failing_checks()
    assert any("planted" in c.detail for c in failing), failing


def test_a_skipped_layer_is_caught(monkeypatch):
    h = _harness()
    real = h.expected_keys
    monkeypatch.setattr(h, "expected_keys", lambda model, steps: [k for k in real(model, steps) if k != ("forward", model.nodes[-1].name)])
    assert any("every layer" in c.what for c in _failing_checks())


def test_a_layer_missing_from_a_probe_is_caught(monkeypatch):
    """A probe that fails to return a layer: the row is 'not computed', not silently skipped."""
    from specc.verification import probes

    real = probes.KerasProbe.trace
    monkeypatch.setattr(probes.KerasProbe, "trace", lambda self, x: {k: v for k, v in real(self, x).items() if k != self.model.nodes[0].name})
    report = specc.verify(specc.loads(canary.CANARY), dtype="float64", steps=1)
    assert not report.ok and "not computed by keras" in report.first_failure.why


def test_skipped_gradients_are_caught(monkeypatch):
    h = _harness()
    real = h.expected_keys
    monkeypatch.setattr(h, "expected_keys", lambda model, steps: [k for k in real(model, steps) if k[0] != "gradient"])
    assert any("every layer" in c.what for c in _failing_checks())


def test_skipped_steps_are_caught(monkeypatch):
    h = _harness()
    real = h.run_protocol
    monkeypatch.setattr(h, "run_protocol", lambda backend, model, w, x, y, batches, *rest: real(backend, model, w, x, y, batches[:1], *rest))
    assert _failing_checks()


def test_every_step_trains_on_its_own_batch(monkeypatch):
    """Steps on one repeated batch (or on the gradient check's batch) would hide data-order
    bugs: each backend gets ``steps`` batches, all different, none the gradient batch."""
    import numpy as np

    h = _harness()
    real, seen = h.run_protocol, []

    def spy(backend, model, w, x, y, batches, *rest):
        seen.append((x, batches))
        return real(backend, model, w, x, y, batches, *rest)

    monkeypatch.setattr(h, "run_protocol", spy)
    spec = specc.loads("model m {\n  input x: float32[3]\n  dense(2)\n  train {\n    loss mse\n    optimizer sgd\n  }\n}\n")
    assert h.verify(spec, dtype="float64", steps=3, processes=False).ok
    assert seen
    for x, batches in seen:
        assert len(batches) == 3
        arrays = [np.asarray(xs[0]) for xs, _ in batches] + [np.asarray(x[0])]
        assert all(not np.array_equal(a, b) for i, a in enumerate(arrays) for b in arrays[i + 1 :])


def test_float32_tolerance_in_a_float64_run_is_caught(monkeypatch):
    from specc.verification import tolerance as T

    h = _harness()
    monkeypatch.setattr(h, "forward_tolerance", lambda f, d, dt, rtol=None, atol=None: T.forward_tolerance(f, d, "float32", rtol, atol))
    monkeypatch.setattr(h, "gradient_tolerance", lambda d, dt: T.gradient_tolerance(d, "float32"))
    monkeypatch.setattr(h, "step_tolerance", lambda s, dt: T.step_tolerance(s, "float32"))
    failing = _failing_checks()
    assert any("float64 verification" in c.what for c in failing), failing


def test_a_spread_that_is_not_measured_is_caught(monkeypatch):
    """A spread taken from the two backends' disagreement instead of the perturbed run
    would explain away any difference."""
    h = _harness()
    real = h.compare_runs

    def cheat(report, model, expected, dtype, ra, rb, names, rtol, atol, *, spread=None, roundoff=None):
        if spread is not None:
            from specc.verification.tolerance import distance

            spread = {k: distance(ra[k], rb[k]) for k in ra if k in rb}
        return real(report, model, expected, dtype, ra, rb, names, rtol, atol, spread=spread, roundoff=roundoff)

    monkeypatch.setattr(h, "compare_runs", cheat)
    assert any("float64 verification" in c.what for c in _failing_checks())


# --------------------------------------------------------------------------- shared code


def test_shared_code_matches_the_frameworks():
    from specc.selftest.shared import default_checks, dropout_checks, initializer_checks

    bad = [c for c in default_checks() + initializer_checks() + dropout_checks() if not c.ok]
    assert bad == []


def test_dropout_check_sees_a_framework_scaling_by_rate(monkeypatch):
    """The frameworks' dropout kernels verify replaces: a kernel scaling kept values by
    rate (not 1/(1 − rate)) is seen here, where verify cannot see it."""
    import torch.nn.functional as F

    from specc.selftest.shared import dropout_checks

    real = F.dropout
    monkeypatch.setattr(F, "dropout", lambda x, p=0.5, training=True, inplace=False: real(x, p, training) * (1 - p) * p)
    assert [c.what for c in dropout_checks() if not c.ok] == ["dropout torch F.dropout = seeded mask ×1/(1 − rate)"]


def test_initialiser_check_fails_for_a_wrong_truncation(monkeypatch):
    """truncated_normal cut at ±3σ instead of ±2σ (torch's absolute-2 rule, roughly) is seen."""
    from specc.ir import initializers
    from specc.selftest.shared import initializer_checks

    monkeypatch.setattr(initializers, "_TRUNC_STD_CORRECTION", 1.0)  # Keras' rescaling forgotten
    bad = [c.what for c in initializer_checks() if not c.ok]
    assert any("glorot_normal" in w for w in bad), bad


def test_default_check_fails_for_a_wrong_default(monkeypatch):
    from specc.ir import optimizers
    from specc.selftest.shared import default_checks

    field = optimizers.Adam.model_fields["epsilon"]
    monkeypatch.setattr(field, "default", 1e-7)  # Keras' ε
    assert [c.what for c in default_checks() if not c.ok] == ["default adam.epsilon = torch Adam eps"]


# --------------------------------------------------------------------------- fuzz


def test_generated_specs_are_valid_graphs_from_the_whole_vocabulary():
    r = random.Random(5)
    drafts = [draw_spec(r) for _ in range(60)]
    texts = [d.text() for d in drafts]
    for t in texts:
        specc.loads(t)
    joined = "\n".join(texts)
    assert any(len(s.inputs) > 1 for d in drafts for s in d.stmts)  # merges: graphs, not chains
    for needle in ("conv2d_transpose", "bidirectional", "multi_head_attention", "batch_norm", "embedding", "-> add", "concat"):
        assert needle in joined, needle


def test_shrinking_finds_a_minimal_failing_spec():
    d = Draft(
        "float32[6, 6, 2]",
        (
            Stmt("t0", ("x",), "conv2d(4, kernel=3, padding=same, activation=relu, use_bias=false)"),
            Stmt("t1", ("t0",), "batch_norm(momentum=0.9)"),
            Stmt("t2", ("t1",), "maxpool2d(2)"),
            Stmt("t3", ("t2", "t2"), "add"),
        ),
        ("flatten", "dense(3, activation=softmax)"),
        "categorical_crossentropy",
        "adam(lr=0.01)",
        "schedule step(step_size=1, gamma=0.5)",
    )
    small = shrink(d, lambda c: "batch_norm" in c.text())
    assert [s.layer for s in small.stmts] == ["batch_norm"]
    assert small.optimizer == "sgd(lr=0.05)" and small.schedule == ""
    specc.loads(small.text())


def test_fuzz_writes_the_shrunk_failure(tmp_path, monkeypatch):
    from specc.selftest import fuzz as F

    monkeypatch.setattr(F, "_check", lambda d, dtype: ("t0 =" not in d.text(), "FAIL planted"))
    cases = F.fuzz(3, seed=1, out=tmp_path)
    failed = [c for c in cases if not c.ok]
    assert failed and all(c.written and c.written.exists() for c in failed)
    text = failed[0].written.read_text()
    assert text.startswith("# specc fuzz --seed 1") and "model fuzz_1_" in text
    specc.loads(text)


@pytest.mark.parametrize("index", range(3))
def test_a_few_fuzz_cases_verify(index):
    from specc.selftest.fuzz import _check, draft_for

    d = draft_for(2026, index)
    ok, verdict = _check(d, "float64")
    assert ok, d.text() + verdict
