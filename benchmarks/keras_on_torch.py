"""The alternative a user would pick for "one model, two frameworks": Keras 3 on its torch backend.

Used by ``backend_speed.py`` (its ``k3t`` column): the hand-written Keras model of
``backend_speed.keras_hand`` — the very same code — run with ``KERAS_BACKEND=torch`` in the
torch timing worker, next to specc's native PyTorch model, loaded with specc's weights
(canonical weights are in Keras' layouts and order, so ``set_weights`` takes them as they
are) and checked to compute the same function before it is timed.

Keras on torch: ``train_on_batch`` (its torch trainer: eager ``torch.autograd`` through
Keras layers, Keras' own optimizer) and ``predict_on_batch`` — what a Keras user gets.
"""

from __future__ import annotations

import os


class KerasOnTorch:
    """One model written in Keras 3, run on the torch backend; ``x``/``y`` as numpy."""

    def __init__(self, model: str, bundle, x, y, xi, check: bool, tolerance: float):
        if os.environ.get("KERAS_BACKEND") != "torch":
            raise RuntimeError("the keras-on-torch side needs KERAS_BACKEND=torch in its process")
        import numpy as np
        import torch

        import keras

        from backend_speed import keras_hand

        assert keras.backend.backend() == "torch", keras.backend.backend()
        self.model = keras_hand(model)
        self.x, self.y, self.xi = x, y, xi
        self.check_err = None
        if bundle is not None:
            weights = list(bundle.get_weights().values())
            mine = self.model.get_weights()
            if [tuple(w.shape) for w in weights] != [tuple(w.shape) for w in mine]:
                raise AssertionError(f"{model}: keras-on-torch weights do not line up with specc's canonical weights")
            self.model.set_weights(weights)
            if check:
                bundle.model.eval()
                xt = torch.from_numpy(xi).to(next(bundle.model.parameters()).device)
                with torch.no_grad():
                    a = bundle.model(xt if xt.is_floating_point() else xt.long()).cpu().numpy()
                b = np.asarray(self.model.predict_on_batch(xi))
                self.check_err = float(np.max(np.abs(a - b)))
                if not self.check_err < tolerance:
                    raise AssertionError(f"{model}: keras-on-torch differs from specc's torch model: max |Δ| = {self.check_err:.2e}")

    def train(self):
        self.model.train_on_batch(self.x, self.y)

    def infer(self):
        return self.model.predict_on_batch(self.xi)
