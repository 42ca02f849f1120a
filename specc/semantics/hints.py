"""Targeted advice for habits people bring from Keras, PyTorch and NumPy, used by the
elaborator where a generic "did you mean" would mislead (``float`` is closer to
``float64`` by spelling, but means ``float32`` to everyone who writes it)."""

from __future__ import annotations

from specc.errors import Diagnostic, Span, did_you_mean

__all__ = ["dtype_hint", "dim_problem", "metric_problems", "CLASSIFICATION_METRICS"]

#: dtype spellings of other tools → specc's
DTYPE_ALIASES = {
    "float": "float32",
    "single": "float32",
    "f32": "float32",
    "double": "float64",
    "f64": "float64",
    "half": "float16",
    "f16": "float16",
    "bf16": "bfloat16",
    "int": "int32",
    "i32": "int32",
    "long": "int64",
    "i64": "int64",
    "boolean": "bool",
    "bool_": "bool",
}


def dtype_hint(name: str, dtypes) -> str | None:
    ours = DTYPE_ALIASES.get(name) or DTYPE_ALIASES.get(name.lower())
    if ours is not None:
        return f"specc names the width: did you mean '{ours}'?"
    return did_you_mean(name, dtypes)


_NONE_WORDS = ("None", "none", "null", "Null", "NULL", "nil", "_")


def dim_problem(name: str, span: Span) -> Diagnostic | None:
    """`float32[None, 3]`: Keras' unknown size is not a dimension name."""
    if name in _NONE_WORDS:
        return Diagnostic(
            span,
            f"'{name}' is not a dimension here",
            expected="a size, '?' (unknown) or a name (unknown, the same name means the same size)",
            hint="write ? for a size known only at run time, e.g. float32[?, 3] (the batch is implied)",
        )
    return None


CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1")
_CLASSIFICATION_LOSSES = ("binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy", "kl_divergence")


def metric_problems(train, span: Span | None) -> list[Diagnostic]:
    """Metrics that do not fit the loss: a classification metric on a regression loss
    would report a meaningless number (accuracy 0.0000 on real-valued targets)."""
    loss = train.loss.kind
    if loss in _CLASSIFICATION_LOSSES:
        return []
    bad = [m.kind for m in train.metrics if m.kind in CLASSIFICATION_METRICS]
    if not bad:
        return []
    names = ", ".join(bad)
    return [
        Diagnostic(
            span,
            f"metric{'s' if len(bad) > 1 else ''} {names} measure{'' if len(bad) > 1 else 's'} classification, but the loss {loss} "
            "trains a regression (real-valued targets)",
            expected=f"with {loss}: mae",
            hint="use metrics [mae], or a crossentropy loss for a classifier "
            "(binary_crossentropy, categorical_crossentropy, sparse_categorical_crossentropy)",
        )
    ]
