"""batch_norm and layer_norm, by default over the channel/feature (last) axis.

``axis`` counts the batch as axis 0 (negatives from the end), as Keras does:
``batch_norm(axis=a)`` keeps one mean/variance (and one gamma, beta) per index of axis
``a`` and reduces over every other axis; ``layer_norm(axis=a)`` or ``axis=[a, b]``
normalises each example over those axes, with gamma and beta of their shape (the axes in
increasing order).  The batch axis cannot be named.

**batch_norm** (Keras' conventions, for every backend):
training mode normalises with the batch mean and *biased* batch variance and updates
``moving = momentum · moving + (1 − momentum) · batch`` — the moving variance is fed the
biased batch variance too (PyTorch feeds the unbiased one).  Inference mode uses the
moving statistics — and so does a layer with ``trainable=false``, which neither learns nor
updates its statistics (Keras' rule, the usual one for fine-tuning).  ``momentum`` is the weight of the *old* value (0.99; PyTorch's
momentum = 1 − this), ``epsilon`` 1e-3.  Canonical weights: ``gamma``, ``beta``
(trained), ``moving_mean``, ``moving_variance`` (state).

**layer_norm**: per example, over the last axis, biased variance, ``epsilon`` 1e-3
(Keras' default; PyTorch's is 1e-5).  Weights: ``gamma``, ``beta``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from typing import Any

from pydantic import Field, field_validator

from specc.ir.initializers import ONES, ZEROS, Initializer
from specc.ir.ops.base import LAYERS, Op, WeightSpec, known, norm_axis
from specc.ir.regularizers import Regularizer
from specc.ir.types import ShapeError, TensorType


class _Norm(Op):
    family: ClassVar[str] = "norm"
    epsilon: float = Field(1e-3, gt=0, description="added to the variance")
    center: bool = Field(True, description="learn a shift (beta)")
    scale: bool = Field(True, description="learn a scale (gamma)")
    gamma_init: Initializer = Field(ONES, description="initialiser of gamma")
    beta_init: Initializer = Field(ZEROS, description="initialiser of beta")
    gamma_reg: Regularizer | None = Field(None, description="penalty on gamma")
    beta_reg: Regularizer | None = Field(None, description="penalty on beta")

    def axes(self, rank: int) -> tuple[int, ...]:
        """The normalised axes as indices into the shape without the batch, increasing."""
        axis = self.axis  # type: ignore[attr-defined]
        given = axis if isinstance(axis, tuple) else (axis,)
        out = sorted(norm_axis(self.kind, a, rank) for a in given)
        if len(set(out)) != len(out):
            raise ShapeError(f"{self.kind}: axis {list(given)} names one axis twice")
        return tuple(out)

    def param_shape(self, x: TensorType) -> tuple[int, ...]:
        return tuple(x.shape[a] for a in self.axes(x.rank))

    def infer(self, ins: list[TensorType]) -> list[TensorType]:
        (x,) = ins
        if x.rank < 1:
            raise ShapeError(f"{self.kind} needs at least one non-batch axis")
        for a in self.axes(x.rank):
            known(self.kind, f"size of axis {a + 1} (the normalised axis)", x.shape[a])
        return [x]

    def _affine(self, c: tuple[int, ...]) -> list[WeightSpec]:
        ws = []
        if self.scale:
            ws.append(WeightSpec("gamma", c, self.gamma_init, regularizer=self.gamma_reg))
        if self.center:
            ws.append(WeightSpec("beta", c, self.beta_init, regularizer=self.beta_reg))
        return ws


@LAYERS.register
class BatchNorm(_Norm):
    """Normalise each channel with batch statistics (training) or moving ones (inference)."""

    kind: Literal["batch_norm"] = "batch_norm"
    summary: ClassVar[str] = "batch normalisation (per channel: the last axis)"
    axis: int = Field(-1, description="the axis kept (one statistic per index), batch = 0")
    momentum: float = Field(0.99, ge=0, lt=1, description="weight of the old moving statistics")
    moving_mean_init: Initializer = Field(ZEROS, description="initial moving mean")
    moving_variance_init: Initializer = Field(ONES, description="initial moving variance")

    def weights(self, ins: list[TensorType]) -> list[WeightSpec]:
        c = self.param_shape(ins[0])
        return [
            *self._affine(c),
            WeightSpec("moving_mean", c, self.moving_mean_init, trainable=False),
            WeightSpec("moving_variance", c, self.moving_variance_init, trainable=False),
        ]


@LAYERS.register
class LayerNorm(_Norm):
    """Normalise each example over its last axis."""

    kind: Literal["layer_norm"] = "layer_norm"
    summary: ClassVar[str] = "layer normalisation (over the last axis)"
    axis: int | tuple[int, ...] = Field(-1, description="the axis or axes normalised over, batch = 0")

    @field_validator("axis", mode="before")
    @classmethod
    def _axis(cls, v: Any):
        if isinstance(v, list):
            if not v or not all(isinstance(a, int) and not isinstance(a, bool) for a in v):
                raise ValueError("expected an axis or a non-empty list of axes")
            return v[0] if len(v) == 1 else tuple(v)
        return v

    def weights(self, ins: list[TensorType]) -> list[WeightSpec]:
        return self._affine(self.param_shape(ins[0]))
