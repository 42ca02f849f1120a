"""Training and evaluation of specs with identical data order, metrics, checkpoints and
EMA in both backends (``specc train`` / ``specc evaluate``).

* :mod:`~specc.train.data` / :mod:`~specc.train.validate` — data sets, checked against the spec;
* :mod:`~specc.train.batches` — specc's per-epoch permutations (both backends, all processes);
* :mod:`~specc.train.torch_loop` / :mod:`~specc.train.keras_loop` — the two trainers;
* :mod:`~specc.train.metrics` — loss and metrics in numpy, the same for both;
* :mod:`~specc.train.checkpoint` — atomic per-epoch checkpoints, resume;
* :mod:`~specc.train.run` — the ``specc train`` driver; :mod:`~specc.train.evaluate`.

Framework imports happen inside the trainers, so importing this package is cheap.
"""

from specc.train.errors import TrainError
from specc.train.run import TrainOptions, TrainResult, train

__all__ = ["TrainOptions", "TrainResult", "train", "TrainError"]
