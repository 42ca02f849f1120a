"""What every layer of the IR declares.

A layer (an :class:`Op`) is a frozen pydantic model of its parameters plus:

* :meth:`Op.infer` — the shape rule: input tensor types → output tensor types, raising
  :class:`~specc.ir.types.ShapeError` with a readable message when the inputs do not fit;
* :meth:`Op.weights` — its canonical weights (:class:`WeightSpec`): name, shape in the
  canonical layout, initialiser, regulariser, and whether it is trained or is state
  (batch-norm statistics).  Backends convert these to their own layouts;
* :meth:`Op.macs` — multiply-accumulates of one example (``specc check``'s cost columns,
  see :mod:`specc.ir.cost`);
* class attributes: how many inputs it takes (``arity``), its ``family`` (used to pick
  comparison tolerances), whether it is ``stochastic`` (dropout).

Axes in parameters count the batch dimension as axis 0, so ``-1`` is the last axis and
``concat(axis=1)`` joins the first non-batch axis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from specc.ir.initializers import InitializerBase
from specc.ir.regularizers import RegularizerBase
from specc.ir.spec import Family, Spec
from specc.ir.types import ShapeError, TensorType, dims_equal, fmt_shape

__all__ = ["Op", "LAYERS", "WeightSpec", "ShapeError", "mul_known", "require_rank", "known", "float_dtype", "norm_axis"]

LAYERS = Family("layer")


@dataclass(frozen=True)
class WeightSpec:
    """One canonical weight of a layer."""

    name: str  # local name: "kernel", "bias", "moving_mean", "forward.kernel"
    shape: tuple[int, ...]
    init: InitializerBase
    trainable: bool = True  # False: state updated by the layer itself (moving statistics)
    regularizer: RegularizerBase | None = None
    fans: tuple[float, float] | None = None  # override of the initialiser's fan rule

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


class Op(Spec):
    """Base class of all layers."""

    #: (min, max) number of input tensors; max None = any number
    arity: ClassVar[tuple[int, int | None]] = (1, 1)
    #: comparison family for tolerances: elementwise, dense, conv, pool, norm, rnn, attention, shape
    family: ClassVar[str] = "elementwise"
    #: randomness in training mode (dropout); verify gives both backends the same seeded masks
    stochastic: ClassVar[bool] = False
    #: the op's one-line description for `specc check` and the docs
    summary: ClassVar[str] = ""
    #: takes integer / bool tensors (embedding: ids; flatten, reshape, permute: move values);
    #: every other layer computes in floating point and refuses them at check time
    integer_inputs: ClassVar[bool] = False
    #: its output carries its input's values (ids pass through flatten/reshape to an
    #: embedding); False for ops that read only the input's shape (positions)
    passes_values: ClassVar[bool] = True

    def infer(self, ins: list[TensorType]) -> list[TensorType]:  # pragma: no cover - abstract
        raise NotImplementedError

    def weights(self, ins: list[TensorType]) -> list[WeightSpec]:
        return []

    def macs(self, ins: list[TensorType], outs: list[TensorType]) -> int | None:
        """Multiply-accumulates of one example (None when a dimension is unknown).

        The rule torchinfo applies to dense and conv layers: every learned weight (the
        moving statistics of batch norm excluded) is used once per position of the first
        output, a position being every axis but the last (``[h, w, c]`` has h·w).  Layers
        without weights count 0 (pooling, activations, merges, reshapes).  Layers whose
        weights are used elsewhere override it (recurrences: once per time step;
        transposed convolutions: once per input position; embeddings: a lookup, 0;
        attention: the projections and both products)."""
        learned = sum(w.size for w in self.weights(ins) if w.trainable)
        if not learned:
            return 0
        return mul_known(learned, *outs[0].shape[:-1])

    def n_outputs(self) -> int:
        return 1

    def activation_spec(self):
        """The activation applied at the end of this layer, if any (for loss-from-logits)."""
        return getattr(self, "activation", None)

    def sublayers(self) -> list[Op]:
        """Layers nested in this one (bidirectional's RNN)."""
        return []


# --------------------------------------------------------------------------- shape helpers


def mul_known(*factors) -> int | None:
    """The product of ``factors``, or None when one of them is not a known number."""
    n = 1
    for f in factors:
        if not isinstance(f, int):
            return None
        n *= f
    return n


def spatial_what(spatial: int) -> str:
    """How a rank error names the input a layer over ``spatial`` axes (plus channels) wants."""
    return "a sequence (time, channels)" if spatial == 1 else "an image (height, width, channels)"


def require_rank(op: str, t: TensorType, ranks: tuple[int, ...], what: str) -> None:
    """Raise unless ``t`` (without batch) has one of ``ranks``."""
    if t.rank not in ranks:
        want = " or ".join(str(r + 1) for r in ranks)
        raise ShapeError(
            f"{op} expects {what} (rank {want} with the batch), got shape {fmt_shape(t.shape, batch=True)}",
            expected=what,
            hint=_rank_hint(op, t, ranks),
        )


def _rank_hint(op: str, t: TensorType, ranks: tuple[int, ...]) -> str | None:
    if t.rank > max(ranks) and op in ("dense",):
        return "add flatten (or a global pooling layer) before it; for a per-pixel layer use conv2d(units, kernel=1)"
    if t.rank > max(ranks):
        return "flatten or reshape the input first"
    if t.rank < min(ranks):
        return "reshape the input to add the missing axes, e.g. reshape([..., 1])"
    return None


def known(op: str, what: str, d) -> int:
    """A dimension the layer's weights depend on must be known."""
    if not isinstance(d, int):
        raise ShapeError(
            f"{op} needs a known {what}, got '{'?' if d is None else d}'",
            hint="declare that dimension of the input with a number",
        )
    return d


def float_dtype(ins: list[TensorType]) -> str:
    for t in ins:
        if t.is_float:
            return t.dtype
    return "float32"


def norm_axis(op: str, axis: int, rank: int) -> int:
    """An axis (batch = 0, negatives from the end) → index into the shape without batch."""
    full = rank + 1
    a = axis + full if axis < 0 else axis
    if not 1 <= a < full:
        raise ShapeError(
            f"{op}: axis {axis} is out of range for a tensor of rank {full} (batch is axis 0)",
            expected=f"an axis in 1..{full - 1} or -{full - 1}..-1",
        )
    return a - 1


def _merge_hint(a: tuple, b: tuple) -> str:
    """What fixes two shapes that an elementwise merge cannot join."""
    if len(a) != len(b):
        small, big = (a, b) if len(a) < len(b) else (b, a)
        return (
            f"the ranks differ; '+' broadcasts per example as NumPy does (x = a + b adds the "
            f"{fmt_shape(small, batch=True)} to every {fmt_shape(big[len(big) - len(small):], batch=True)} slice of the "
            f"{fmt_shape(big, batch=True)}); add needs one shape"
        )
    differ = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if dims_equal(x, y) is False]
    last = len(a) - 1
    if differ == [last]:
        c = max(d for d in (a[last], b[last]) if isinstance(d, int))
        if len(a) == 3:
            return f"the channels differ: project the shortcut with a 1×1 convolution, conv2d({c}, kernel=1)"
        if len(a) == 2:
            return f"the features differ: project one side with conv1d({c}, kernel=1) or dense({c})"
        return f"the features differ: project one side with dense({c})"
    if len(a) in (2, 3) and last not in differ:
        what = "lengths" if len(a) == 2 else "image sizes"
        return (
            f"the {what} differ: give the shortcut the same stride as the other path "
            "(a strided 1×1 convolution), or pad / crop one side (zero_padding, cropping, padding=same)"
        )
    return "reshape or project one side so the shapes agree"


def check_same_shapes(op: str, ins: list[TensorType]) -> tuple:
    """Shapes of elementwise-merge inputs must match (unknown dims are compatible)."""
    first = ins[0].shape
    for t in ins[1:]:
        if len(t.shape) != len(first) or any(dims_equal(a, b) is False for a, b in zip(t.shape, first, strict=False)):
            raise ShapeError(
                f"{op} needs inputs of the same shape, got "
                + " and ".join(fmt_shape(i.shape, batch=True) for i in ins),
                hint=_merge_hint(first, t.shape),
            )
    from specc.ir.types import merge_dims

    out = list(first)
    for t in ins[1:]:
        out = [merge_dims(a, b) for a, b in zip(out, t.shape, strict=False)]
    return tuple(out)
