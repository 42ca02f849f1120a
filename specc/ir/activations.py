"""Activation functions.

Where frameworks disagree the IR states one meaning (see ``../shared/SEMANTICS.md``):

* ``leaky_relu`` slope defaults to 0.01 (PyTorch's and the original paper's value; Keras'
  layer uses 0.3 and its string 0.2) — always stored explicitly;
* ``gelu`` is exact (erf) unless ``approximate=true`` (tanh form);
* ``hard_sigmoid`` is ``relu6(x + 3) / 6`` (Keras 3 and ``torch.nn.Hardsigmoid``);
* ``softmax``/``log_softmax`` take an explicit axis, default −1 (the last).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from specc.ir.spec import Family, Spec

ACTIVATIONS = Family("activation")


class _Act(Spec):
    #: applies to each element independently (softmax and log_softmax do not)
    elementwise: ClassVar[bool] = True


@ACTIVATIONS.register
class Linear(_Act):
    """Identity."""

    kind: Literal["linear"] = "linear"
    aliases = ("identity",)


@ACTIVATIONS.register
class Relu(_Act):
    """max(x, 0)."""

    kind: Literal["relu"] = "relu"


@ACTIVATIONS.register
class Relu6(_Act):
    """min(max(x, 0), 6)."""

    kind: Literal["relu6"] = "relu6"


@ACTIVATIONS.register
class Sigmoid(_Act):
    """1 / (1 + exp(-x))."""

    kind: Literal["sigmoid"] = "sigmoid"


@ACTIVATIONS.register
class Tanh(_Act):
    kind: Literal["tanh"] = "tanh"


@ACTIVATIONS.register
class Softmax(_Act):
    """exp(x) / sum(exp(x)) along ``axis``."""

    kind: Literal["softmax"] = "softmax"
    axis: int = Field(-1, description="axis to normalise over (batch is axis 0; -1 is the last)")
    positional = ("axis",)
    elementwise = False


@ACTIVATIONS.register
class LogSoftmax(_Act):
    """x - log(sum(exp(x))) along ``axis``."""

    kind: Literal["log_softmax"] = "log_softmax"
    axis: int = Field(-1, description="axis to normalise over (batch is axis 0; -1 is the last)")
    positional = ("axis",)
    elementwise = False


@ACTIVATIONS.register
class LeakyRelu(_Act):
    """x if x > 0 else alpha * x."""

    kind: Literal["leaky_relu"] = "leaky_relu"
    alpha: float = Field(0.01, ge=0, le=1e6, description="slope for x < 0")
    positional = ("alpha",)


@ACTIVATIONS.register
class Elu(_Act):
    """x if x > 0 else alpha * (exp(x) - 1)."""

    kind: Literal["elu"] = "elu"
    alpha: float = Field(1.0, gt=0, le=1e6, description="scale of the negative part")
    positional = ("alpha",)


@ACTIVATIONS.register
class Selu(_Act):
    """scale * elu(x, alpha) with the self-normalising constants."""

    kind: Literal["selu"] = "selu"


@ACTIVATIONS.register
class Gelu(_Act):
    """x * Φ(x); exact (erf) unless ``approximate`` (tanh form)."""

    kind: Literal["gelu"] = "gelu"
    approximate: bool = Field(False, description="use the tanh approximation instead of erf")
    positional = ("approximate",)


@ACTIVATIONS.register
class Silu(_Act):
    """x * sigmoid(x)."""

    kind: Literal["silu"] = "silu"
    aliases = ("swish",)


@ACTIVATIONS.register
class Softplus(_Act):
    """log(1 + exp(x))."""

    kind: Literal["softplus"] = "softplus"


@ACTIVATIONS.register
class HardSigmoid(_Act):
    """relu6(x + 3) / 6."""

    kind: Literal["hard_sigmoid"] = "hard_sigmoid"


Activation = ACTIVATIONS.field_type()
LINEAR = Linear.model_construct()
