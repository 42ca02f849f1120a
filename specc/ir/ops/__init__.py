"""The layer vocabulary.  Every module in this package registers its layers in
:data:`LAYERS` when imported.

Importing this package imports none of them: :data:`MANIFEST` says which module defines
which layer, and :data:`LAYERS` imports a module the first time one of its layers is looked
up (``specc check`` of a small spec defines the few layer classes it uses, not all ~50).
Whatever needs the whole vocabulary — ``LAYERS.classes``, the discriminated union
:data:`AnyOp` (a Node's ``op`` field, the IR's JSON schema), the layer list of the docs —
imports every module first.  ``tests/test_layer_manifest.py`` keeps the manifest equal to
what the modules register.
"""

from __future__ import annotations

from specc.ir.ops.base import LAYERS, Op, WeightSpec

#: layer kind → the module of this package that defines it
MANIFEST: dict[str, str] = {
    "activation": "activation",
    "arithmetic": "arithmetic",
    "multi_head_attention": "attention",
    "bidirectional": "bidirectional",
    "conv1d": "conv",
    "conv2d": "conv",
    "conv2d_transpose": "conv_transpose",
    "dense": "dense",
    "depthwise_conv2d": "depthwise",
    "separable_conv2d": "depthwise",
    "dropout": "dropout",
    "embedding": "embedding",
    "add": "merge",
    "concat": "merge",
    "multiply": "merge",
    "batch_norm": "normalization",
    "layer_norm": "normalization",
    "avgpool1d": "pooling",
    "avgpool2d": "pooling",
    "global_avgpool1d": "pooling",
    "global_avgpool2d": "pooling",
    "global_maxpool1d": "pooling",
    "global_maxpool2d": "pooling",
    "maxpool1d": "pooling",
    "maxpool2d": "pooling",
    "positions": "positions",
    "sinusoidal_embedding": "positions",
    "gru": "recurrent",
    "lstm": "recurrent",
    "simple_rnn": "recurrent",
    "flatten": "reshaping",
    "permute": "reshaping",
    "reshape": "reshaping",
    "cropping1d": "spatial",
    "cropping2d": "spatial",
    "upsampling1d": "spatial",
    "upsampling2d": "spatial",
    "zero_padding1d": "spatial",
    "zero_padding2d": "spatial",
}
#: another name a layer answers to → its kind (a class's ``aliases``)
ALIASES: dict[str, str] = {}
#: modules of this package that define no layer
HELPER_MODULES = ("base", "padding")

LAYERS.set_manifest(__name__, MANIFEST, ALIASES)


def __getattr__(name: str):
    if name == "AnyOp":  # pydantic type of "any layer" (discriminated on ``kind``): every layer
        return LAYERS.union
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["LAYERS", "Op", "WeightSpec", "AnyOp", "MANIFEST", "ALIASES"]
