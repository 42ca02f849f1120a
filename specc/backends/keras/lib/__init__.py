"""specc's self-contained Keras library: layers, activations, optimizers, losses and metrics
reproducing the IR's semantics where Keras' built-ins differ.  Files here import only
``keras`` (and ``math``); ``specc compile --to keras`` copies the definitions a model uses
into the generated source.  Every class is registered serializable (package "specc"), so
``model.save('m.keras')`` round-trips once this package (or the generated file) is imported.
Keep every top-level name unique across the files of this package."""

from .attention import *  # noqa: F403
from .conv import *  # noqa: F403
from .conv_transpose import *  # noqa: F403
from .core import *  # noqa: F403
from .optimizers import *  # noqa: F403
from .training import *  # noqa: F403
from .recurrent import *  # noqa: F403
