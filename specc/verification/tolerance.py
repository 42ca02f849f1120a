"""How close two backends must be, and why: the policy, and one function that judges a
compared tensor and says what its bound was made of.

A comparison passes when ``max|a − b| ≤ bound`` over a tensor.  The bound has two parts:

* a **prior**: ``atol + rtol · max|ref|`` — what round-off of a well-conditioned computation
  of this kind can reach.  The scale is the tensor's largest magnitude, so tiny elements
  next to large ones do not make meaningless relative errors.
* a **measured** part: how much round-off-sized differences are amplified by *this*
  computation on *these* numbers.  Batch norm cancels a per-feature shift, so the
  gradient of a bias in front of it is round-off around zero; Adam's ``m / (√v + ε)``
  turns such noise into updates of up to ``lr``; a deep conv/BN stack in float32 is simply
  ill-conditioned.  A fixed rtol either cries wolf on such a correct model or, made large
  enough, misses real bugs everywhere else.  So the harness measures the amplification
  and allows it — nothing more:

  **float64** (ε ≈ 2.2e-16): there is no higher precision to compare with, so the first
  backend is run a second time on inputs and weights perturbed by ``PERTURB64`` (a few
  ulps, relative), and each optimizer step's gradients by PERTURB64 · max|g| of their
  tensor (``Probe.perturb_gradients``: round-off inside the backward pass — a saturated
  tanh's 1 − y² — which perturbed inputs never show, amplified by Adam's lr/ε where
  √v ≪ ε).  Round-off is such a perturbation; how far that run's results move
  (the *spread*) is the sensitivity of each result to round-off.  Two frameworks sum in
  different orders, i.e. they differ by perturbations of the same size, so they may
  disagree by a small multiple of the spread: ``bound = prior + SPREAD_FACTOR · spread``.
  A semantic difference (a wrong ε, a missing term) is not amplified round-off: it is as
  large on a well-conditioned tensor as on an ill-conditioned one, where the spread is
  ~1e-15 and the prior 1e-10 relative.

  **float32** (ε ≈ 1.2e-7): each backend is also run in float64 on the same
  (float32-representable) weights and inputs, and the float64 runs are compared with the
  float64 policy above — that is the semantic check, as sharp as float64 allows.  The
  float32 results are then judged against what float32 can do: ``d_X = max|X₃₂ − X₆₄|``
  is backend X's own round-off on this tensor.  Two correct backends are each within
  their round-off of the float64 value, so ``|a − b| ≤ d_a + d_b`` (plus the float64
  difference, ~0).

  - layer outputs, the loss and gradients: ``bound = prior + (1 + ROUNDOFF_RATIO) ·
    min(d_a, d_b)``, i.e. the backends' round-off may differ by up to ROUNDOFF_RATIO (10:
    frameworks sum in different orders and pick different convolution algorithms; torch's
    float32 conv/BN gradients were measured 3–6× less precise than Keras' on a VGG-style
    stack).  A float32 path that is far less precise than the other backend's and than
    the prior — a lower precision, a dtype-dependent constant — fails.
  - weights after optimizer steps: ``bound = prior + d_a + d_b``.  Adam's ``m / (√v + ε)``
    turns a gradient element within round-off of zero into a full ``±lr`` step whose
    sign is a coin flip, so two correct backends' step round-off is not comparable (the
    VGG stack: torch 2e-3 from its float64 run after one step, Keras 5e-9).  Here the
    float32 disagreement is accounted for by each backend's own round-off; what the
    steps *mean* is checked by the float64 rows, which see the same steps without it.

  (The VGG-style float32 stack of issue 8 failed 117 of 211 comparisons with fixed
  tolerances: first kernel after 3 steps 6.6e-3 from float64 in one backend, 5.9e-3 in
  the other — the problem's conditioning, not a disagreement.)

Priors, float64: forward rtol 1e-10 (round-off of deep models stays below 1e-13, so above
1e-10 is a semantic difference); gradients 1e-10; weights after step s: 1e-10 · s.
float32: per layer family, the measured round-off of one layer (dot products of length K
lose about √K·ε; normalisation and recurrences a little more), times a growth factor for
the layers before it: ``rtol = base · (1 + depth / 4)``; gradients 1e-4 · (1 + depth / 4),
weights 1e-4 per step.  A ``verify { rtol …; atol … }`` section or ``--rtol/--atol`` set the
forward bound exactly (prior only, nothing measured).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "Tolerance",
    "forward_tolerance",
    "gradient_tolerance",
    "step_tolerance",
    "FAMILY_RTOL32",
    "PERTURB64",
    "perturb",
    "SPREAD_FACTOR",
    "ROUNDOFF_RATIO",
    "Judgement",
    "judge",
]

FAMILY_RTOL32 = {
    "elementwise": 2e-6,
    "shape": 1e-7,
    "pool": 2e-6,
    "dense": 1e-5,
    "conv": 1e-5,
    "norm": 2e-5,
    "rnn": 3e-5,
    "attention": 2e-5,
}

#: relative perturbation of inputs and weights for the float64 spread run (16 ulps)
PERTURB64 = 16 * float(np.finfo(np.float64).eps)
#: two frameworks may differ by this multiple of the measured float64 spread
SPREAD_FACTOR = 8.0
#: two correct float32 backends' round-off on a layer output / gradient may differ by this ratio
ROUNDOFF_RATIO = 10.0


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float
    #: the bound was set by the user (verify section / --rtol/--atol): nothing is measured
    fixed: bool = False

    def bound(self, scale: float) -> float:
        return self.atol + self.rtol * scale


def forward_tolerance(family: str, depth: int, dtype: str, rtol: float | None = None, atol: float | None = None) -> Tolerance:
    fixed = rtol is not None or atol is not None
    if dtype == "float64":
        return Tolerance(rtol if rtol is not None else 1e-10, atol if atol is not None else 1e-12, fixed)
    base = FAMILY_RTOL32.get(family, 1e-5)
    return Tolerance(rtol if rtol is not None else base * (1 + depth / 4), atol if atol is not None else 1e-6, fixed)


def gradient_tolerance(depth: int, dtype: str) -> Tolerance:
    if dtype == "float64":
        return Tolerance(1e-10, 1e-12)
    return Tolerance(1e-4 * (1 + depth / 4), 1e-6)


def step_tolerance(step: int, dtype: str) -> Tolerance:
    if dtype == "float64":
        return Tolerance(1e-10 * step, 1e-12)
    return Tolerance(1e-4 * step, 1e-6)


@dataclass(frozen=True)
class Judgement:
    max_abs: float
    max_rel: float
    scale: float
    bound: float
    ok: bool
    why: str


def _maxabs(x) -> float:
    return float(np.max(x)) if np.size(x) else 0.0


def _diff(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, bool]:
    """|a − b| with equal non-finite values counting as equal; False if they differ."""
    diff = np.abs(a - b)
    nonfinite = ~(np.isfinite(a) & np.isfinite(b))
    if nonfinite.any():
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        if not same[nonfinite].all():
            return diff, False
        diff = np.where(nonfinite, 0.0, diff)
    return diff, True


def distance(a, b) -> float:
    """max|a − b| (non-finite values equal on both sides count as 0; otherwise ∞)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return float("inf")
    d, same = _diff(a, b)
    return _maxabs(d) if same else float("inf")


def perturb(v, rng: np.random.Generator):
    """``v`` (float arrays only) times ``1 + PERTURB64·u``, ``u`` uniform in [−1, 1]: a
    round-off-sized change, for measuring the spread of the float64 policy."""
    v = np.asarray(v)
    if not np.issubdtype(v.dtype, np.floating):
        return v
    return v.astype(np.float64) * (1.0 + PERTURB64 * rng.uniform(-1.0, 1.0, v.shape))


def judge(a, b, prior: Tolerance, dtype: str, *, spread: float | None = None, roundoff: tuple[float, float] | None = None, names=("a", "b"), amplified: bool = False) -> Judgement:
    """Judge backend results ``a`` (the reference side) and ``b`` of one tensor.

    ``spread`` (float64): max change of the first backend's result under the PERTURB64 run.
    ``roundoff`` (float32): each backend's distance from its own float64 result;
    ``amplified``: an optimizer step (round-off of the two backends not comparable)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return Judgement(float("inf"), float("inf"), 0.0, 0.0, False, f"shapes differ: {a.shape} vs {b.shape}")
    if a.size == 0:
        return Judgement(0.0, 0.0, 0.0, prior.atol, True, "empty tensor")
    diff, same = _diff(a, b)
    if not same:
        return Judgement(float("inf"), float("inf"), 0.0, 0.0, False, "non-finite values differ (inf/nan on one side only)")
    scale = _maxabs(np.abs(np.where(np.isfinite(a), a, 0.0)))
    max_abs = _maxabs(diff)
    base = prior.bound(scale)
    if prior.fixed:
        why = f"fixed bound {prior.atol:.3g} + {prior.rtol:.3g}·{scale:.3g} (set by the spec or the command line)"
        bound = base
    elif dtype == "float64":
        s = spread if spread is not None and np.isfinite(spread) else 0.0
        bound = base + SPREAD_FACTOR * s
        why = f"float64 prior {prior.atol:.3g} + {prior.rtol:.3g}·{scale:.3g} = {base:.3g}; spread under a {PERTURB64:.1e} perturbation {s:.3g} (×{SPREAD_FACTOR:g})"
        if SPREAD_FACTOR * s > base:
            why += " — ill-conditioned: the measured spread sets the bound"
    else:
        da, db = (float(v) if np.isfinite(v) else 0.0 for v in (roundoff if roundoff is not None else (0.0, 0.0)))
        own = f"own round-off (distance from its float64 run) {names[0]} {da:.3g}, {names[1]} {db:.3g}"
        if amplified:
            measured = da + db
            rule = "their sum (an optimizer step: round-off is amplified differently in each backend)"
        else:
            measured = (1 + ROUNDOFF_RATIO) * min(da, db)
            rule = f"(1 + {ROUNDOFF_RATIO:g})× the smaller"
        bound = base + measured
        why = f"float32 prior {prior.atol:.3g} + {prior.rtol:.3g}·{scale:.3g} = {base:.3g}; {own}, {rule}"
        if measured > base:
            why += " — ill-conditioned: the measured round-off sets the bound"
    return Judgement(max_abs, max_abs / scale if scale else max_abs, scale, bound, max_abs <= bound, why)
