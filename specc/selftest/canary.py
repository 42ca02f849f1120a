"""The harness checks itself: differences planted in one backend's results must be reported.

A harness that compared a gradient with itself, skipped a layer, a gradient or a step, or
judged a float64 run with float32's tolerance would pass every correct model too — only
a known difference shows it.  A small well-conditioned model is verified twice:

* untouched — it must pass (no false alarm);
* with every result of the second backend changed by a relative ``PLANT[dtype]`` — 1e-7
  in a float64 verification (a thousand times float64's prior, a hundred times below
  float32's: a harness applying float32's tolerance misses it), 1e-2 in a float32 one
  (above float32's priors) — every row must fail, and the rows must be exactly one per
  layer output, the loss, one per trainable weight's gradient, and one per weight per
  step, counted here from the IR independently of the harness."""

from __future__ import annotations

from collections import Counter

import numpy as np

from .shared import Check

__all__ = ["harness_checks", "CANARY", "PLANT"]

CANARY = """
model selftest_canary {
  input x: float32[5]
  a = x -> dense(4, activation=tanh)
  b = x -> dense(4, activation=sigmoid)
  (a, b) -> add -> layer_norm -> dense(3, activation=softmax)
  train { loss categorical_crossentropy; optimizer sgd(lr=0.1, momentum=0.5) }
}
"""

PLANT = {"float64": 1e-7, "float32": 1e-2}
STEPS = 2


def _plant(backend_to_change: str, relative: float):
    """Add ``relative · max|v|`` to every result of one backend, in every precision alike —
    as a semantic difference would (it is in both the float32 and the float64 run)."""

    def tamper(backend, dtype, results):
        if backend != backend_to_change:
            return
        for key, v in results.items():
            v = np.asarray(v, dtype=np.float64)
            results[key] = v + relative * max(float(np.max(np.abs(v))) if v.size else 0.0, 1e-2)

    return tamper


def expected_counts(model, dtype: str) -> Counter:
    dtypes = ("float64", "float32") if dtype == "float32" else ("float64",)
    weights = list(model.weights())
    trainable = [w for n, w in weights if w.trainable and n.trainable]
    c: Counter = Counter()
    for d in dtypes:
        c[(d, "forward")] = sum(len(n.outputs) for n in model.nodes)
        c[(d, "loss")] = 1
        c[(d, "gradient")] = len(trainable)
        for s in range(1, STEPS + 1):
            c[(d, f"step {s}")] = len(weights)
    return c


def harness_checks(dtype: str) -> list[Check]:
    import specc
    from specc.verification import verify

    model = specc.loads(CANARY, "selftest_canary.spec")
    expected = expected_counts(model, dtype)
    out = []
    clean = verify(model, dtype=dtype, steps=STEPS)
    counts = Counter((r.dtype, r.phase) for r in clean.rows)
    out.append(Check("harness: a correct model passes", clean.ok, clean.verdict()))
    out.append(Check("harness: every layer, the loss, every gradient and every weight after every step is compared", counts == expected, f"rows {dict(counts)}, expected {dict(expected)}"))
    for d in ("float64", "float32") if dtype == "float32" else ("float64",):
        planted = verify(model, dtype=d, steps=STEPS, tamper=_plant("keras", PLANT[d]))
        want = expected_counts(model, d)
        missed = [f"{r.dtype} {r.phase} {r.name}" for r in planted.rows if r.ok]
        counts = Counter((r.dtype, r.phase) for r in planted.rows)
        ok = not missed and counts == want
        detail = f"{len(planted.rows) - len(missed)} of {len(planted.rows)} planted differences reported"
        if missed:
            detail += "; missed: " + ", ".join(missed[:6]) + (" …" if len(missed) > 6 else "")
        out.append(Check(f"harness: a relative difference of {PLANT[d]:g} in every keras result is reported by a {d} verification", ok, detail))
    return out
