"""How conversion errors are worded (see :func:`specc.ir.spec.build_spec`): the parameter
names other frameworks use for specc's, and pydantic's bound messages made readable."""

from __future__ import annotations

__all__ = ["KERAS_NAMES", "keras_name_hint", "bound_message", "lower_first"]

#: Keras' (and PyTorch's) names of parameters → specc's
KERAS_NAMES = {
    "learning_rate": "lr",
    "kernel_size": "kernel",
    "strides": "stride",
    "dilation_rate": "dilation",
    "pool_size": "pool",
    "kernel_initializer": "init",
    "embeddings_initializer": "init",
    "depthwise_initializer": "depthwise_init",
    "pointwise_initializer": "pointwise_init",
    "recurrent_initializer": "recurrent_init",
    "bias_initializer": "bias_init",
    "gamma_initializer": "gamma_init",
    "beta_initializer": "beta_init",
    "kernel_regularizer": "reg",
    "embeddings_regularizer": "reg",
    "bias_regularizer": "bias_reg",
    "recurrent_regularizer": "recurrent_reg",
    "num_heads": "heads",
    "input_dim": "vocab",
    "num_embeddings": "vocab",
    "output_dim": "dim",
    "embedding_dim": "dim",
    "beta_1": "beta1",
    "beta_2": "beta2",
    "clipnorm": "clip_norm",
    "global_clipnorm": "clip_norm",
    "clipvalue": "clip_value",
    "merge_mode": "merge",
    "negative_slope": "alpha",
    "batch_size": "batch",
    "eps": "epsilon",
    "bias": "use_bias",
    "out_features": "units",
    "out_channels": "filters",
    "p": "rate",
}


_TORCH_NAMES = {"num_embeddings", "embedding_dim", "eps", "bias", "out_features", "out_channels", "p", "negative_slope"}


def keras_name_hint(key: str, fields: list[str]) -> str | None:
    ours = KERAS_NAMES.get(key)
    if ours is not None and ours in fields:
        framework = "PyTorch" if key in _TORCH_NAMES else "Keras"
        return f"specc calls it '{ours}' ({framework}: {key})"
    return None


def bound_message(e: dict) -> str | None:
    """pydantic's message for a large float bound, written readably (3.4028235e+38)."""
    for key, words in (("le", "less than or equal to"), ("lt", "less than"), ("ge", "greater than or equal to"), ("gt", "greater than")):
        if isinstance(v := (e.get("ctx") or {}).get(key), float) and abs(v) >= 1e16:
            return f"input should be {words} {v:.8g}"
    return None


def lower_first(s: str) -> str:
    return s[:1].lower() + s[1:] if s else s
