"""specc's self-contained PyTorch library: modules and functions reproducing the IR's
semantics where ``torch.nn`` differs.  Files here import only ``torch``, ``math`` and each
other's names through this package; ``specc compile --to torch`` copies the definitions a
model uses (and what they use) into the generated source, so generated code never imports
specc.  Keep every top-level name unique across the files of this package."""

from .attention import *  # noqa: F403
from .conv_transpose import *  # noqa: F403
from .core import *  # noqa: F403
from .init import *  # noqa: F403
from .separable import *  # noqa: F403
from .training import *  # noqa: F403
from .recurrent import *  # noqa: F403
