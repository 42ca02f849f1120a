"""Canonical weights: specc's framework-independent checkpoint.

Weights belong to the IR, not to a framework.  Each weight has a canonical name
(``<layer path>.<weight>``, e.g. ``encoder.0.dense.kernel``) and a canonical layout (the
channels-last layout documented on each layer).  :func:`init_weights` draws them from the
spec's initialisers; :func:`save` / :func:`load` store them as safetensors (or .npz),
never pickle.  Backends convert to and from their own layouts.
"""

from specc.weights.init import init_weights
from specc.weights.io import CheckpointError, load, save

__all__ = ["init_weights", "save", "load", "CheckpointError"]
