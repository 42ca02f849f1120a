"""One backend, instrumented for comparison: every layer's output in the canonical layout,
the loss and the gradient of every weight as canonical weights, optimizer steps, and the
canonical weights after them.  Frameworks are imported only when a probe is made."""

from __future__ import annotations

import numpy as np

from specc.ir.graph import Model

from .tolerance import PERTURB64

__all__ = ["make_probe", "Probe"]


class Probe:
    name: str

    def trace(self, inputs: list[np.ndarray]) -> dict[str, np.ndarray]:  # pragma: no cover - abstract
        """Inference-mode value of every IR tensor (canonical layout)."""
        raise NotImplementedError

    def loss_and_grads(self, inputs, targets) -> tuple[float, dict[str, np.ndarray]]:  # pragma: no cover
        """Training-mode loss (with penalties) and gradients of trainable weights (canonical)."""
        raise NotImplementedError

    def step(self, inputs, targets) -> float:  # pragma: no cover
        raise NotImplementedError

    def weights(self) -> dict[str, np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def set_weights(self, weights: dict[str, np.ndarray]) -> None:  # pragma: no cover
        raise NotImplementedError

    def dtypes(self) -> set[str]:  # pragma: no cover
        """Floating dtypes of the weights and of the computed activations (to prove the precision)."""
        raise NotImplementedError

    def perturb_gradients(self, rng: np.random.Generator) -> None:  # pragma: no cover
        """From now on, every step's gradient ``g`` of each weight gets ``u · PERTURB64 ·
        max|g|`` added before the optimizer sees it (clipping included), ``u`` uniform in
        [−1, 1] and fixed per weight: round-off-sized noise at the scale the gradient rows
        are judged at (the tensor's largest element), not each element's own.  The
        frameworks' gradients differ by round-off at that scale — a saturated tanh's 1 − y²
        cancels — and an optimizer can amplify it without bound where an element is tiny
        (Adam's lr/ε where √v ≪ ε), which perturbing inputs and weights alone never shows."""
        raise NotImplementedError

    def masks(self, source):  # pragma: no cover
        """A context in which every random draw comes from ``source`` (see masks.py)."""
        raise NotImplementedError


class TorchProbe(Probe):
    name = "torch"

    def __init__(self, model: Model, weights, dtype: str, device: str | None):
        import torch

        from specc.backends.torch.bundle import build_torch

        if device and device.startswith("cuda"):
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
        self.torch = torch
        self.bundle = build_torch(model, weights, device=device, dtype=dtype)
        self.model = model
        self._seen_dtypes: set[str] = set()

    def trace(self, inputs):
        b = self.bundle
        b.model.eval()
        with self.torch.no_grad():
            env = b.model.run(b.to_inputs(inputs), keep=True)
        self._seen_dtypes |= {str(v.dtype).removeprefix("torch.") for v in env.values() if v.is_floating_point()}
        out = {}
        for tid, var in b.plan.tensor_var.items():
            out[tid] = b.plan.var_layout[var].to_canonical(env[var].detach().cpu().double().numpy())
        return out

    def loss_and_grads(self, inputs, targets):
        from specc.backends.torch.weights import from_state_dict

        b = self.bundle
        b.model.train()
        b.model.zero_grad(set_to_none=True)
        loss = b.compute_loss(inputs, targets)
        loss.backward()
        full = {k: np.zeros(tuple(v.shape)) for k, v in b.model.state_dict().items()}
        for k, p in b.model.named_parameters():
            if p.grad is not None:
                full[k] = p.grad.detach().cpu().double().numpy()
        grads = from_state_dict(b.plan, full)
        return float(loss.detach()), {k: v for k, v in grads.items() if k in _trainable(self.model)}

    def step(self, inputs, targets):
        return self.bundle.train_step(inputs, targets)

    def perturb_gradients(self, rng):
        torch = self.torch
        for p in self.bundle.model.parameters():
            if p.requires_grad:
                u = torch.from_numpy(rng.uniform(-1.0, 1.0, tuple(p.shape))).to(p.device, p.dtype)

                def hook(p, u=u) -> None:
                    p.grad.add_(u * (PERTURB64 * p.grad.abs().max()))

                p.register_post_accumulate_grad_hook(hook)

    def weights(self):
        return self.bundle.get_weights()

    def set_weights(self, weights):
        self.bundle.set_weights(weights)

    def dtypes(self):
        return {str(p.dtype).removeprefix("torch.") for p in self.bundle.model.state_dict().values() if p.is_floating_point()} | self._seen_dtypes

    def masks(self, source):
        from .masks import torch_masks

        return torch_masks(self.bundle, source)


class KerasProbe(Probe):
    name = "keras"

    def __init__(self, model: Model, weights, dtype: str, device: str | None):
        from specc.backends.keras.bundle import build_keras  # first: imports TensorFlow quietly

        import keras

        from specc.backends.keras.device import configure

        from specc.backends.keras.device import device_scope

        configure(device)
        self.keras = keras
        self.device = device
        with device_scope(device):
            self.km = build_keras(model, weights, device=device, dtype=dtype)
            if self.km.compiled and self.km.optimizer is not None:
                # the slots made now, as KerasTrainer does: created inside the first traced
                # step they make TensorFlow trace it twice (~0.7 s of a small spec's verify)
                self.km.optimizer.build(self.km.trainable_variables)
        self.info = self.km.specc
        self.model = model
        self._probe = None
        self._seen_dtypes: set[str] = set()

    def _x(self, inputs):
        return inputs if len(inputs) > 1 else inputs[0]

    def _y(self, targets):
        return targets if len(targets) > 1 else targets[0]

    def trace(self, inputs):
        from specc.backends.keras.device import device_scope

        keras = self.keras
        plan = self.info.plan
        if self._probe is None:
            tids = list(plan.tensor_var)
            tensors = [self.info.tensors[plan.tensor_var[t]] for t in tids]
            ins = self.km.inputs if len(self.km.inputs) > 1 else self.km.inputs[0]
            self._probe = (tids, keras.Model(ins, tensors))
        tids, probe = self._probe
        with device_scope(self.device):
            values = probe(self._x(inputs), training=False)
        self._seen_dtypes |= {str(v.dtype.name if hasattr(v.dtype, "name") else v.dtype) for v in values if "float" in str(v.dtype)}
        return {t: np.asarray(v, dtype=np.float64) for t, v in zip(tids, values, strict=True)}

    def loss_and_grads(self, inputs, targets):
        import tensorflow as tf

        from specc.backends.keras.device import device_scope
        from specc.backends.keras.model import get_canonical

        km = self.km
        with device_scope(self.device), tf.GradientTape() as tape:
            preds = km(self._x(inputs), training=True)
            preds = preds if isinstance(preds, (list, tuple)) else [preds]
            data_loss = None
            for p, y in zip(preds, targets, strict=True):
                v = km.loss(y, p)
                data_loss = v if data_loss is None else data_loss + v
            total = data_loss
            for extra in km.losses:
                total = total + tf.cast(extra, total.dtype)
        variables = km.trainable_variables
        grads = tape.gradient(total, variables)
        values = {v.path: (np.zeros(tuple(v.shape)) if g is None else np.asarray(tf.convert_to_tensor(g), dtype=np.float64)) for v, g in zip(variables, grads, strict=True)}
        canon = get_canonical(self.info.plan, km, values, trainable_only=True) if values else {}
        # Keras keeps penalty values in its float type (float32); gradients through them are
        # exact, but the reported loss should not be rounded: add the penalties in float64
        from specc.ir.regularizers import penalty_value

        loss = float(data_loss) + penalty_value(self.model, self.weights())
        return loss, {k: v for k, v in canon.items() if k in _trainable(self.model)}

    def step(self, inputs, targets):
        from specc.backends.keras.device import device_scope

        with device_scope(self.device):
            logs = self.km.train_on_batch(self._x(inputs), self._y(targets), return_dict=True)
        return float(logs["loss"])

    def perturb_gradients(self, rng):
        import tensorflow as tf

        ops = self.keras.ops
        opt = self.km.optimizer
        apply = opt.apply
        noise = {id(v): rng.uniform(-1.0, 1.0, tuple(v.shape)) for v in self.km.trainable_variables}

        def perturbed(g, v):
            g = tf.convert_to_tensor(g)  # an embedding's IndexedSlices
            return g + ops.convert_to_tensor(noise[id(v)], g.dtype) * (PERTURB64 * ops.max(ops.abs(g)))

        def noisy_apply(grads, trainable_variables=None):
            tv = self.km.trainable_variables if trainable_variables is None else trainable_variables
            return apply([None if g is None else perturbed(g, v) for g, v in zip(grads, tv, strict=True)], trainable_variables)

        object.__setattr__(opt, "apply", noisy_apply)  # this probe's optimizer only; traced with the first step

    def weights(self):
        return self.info.get_weights(self.km)

    def set_weights(self, weights):
        self.info.set_weights(self.km, weights)

    def dtypes(self):
        return {str(v.dtype) for v in self.km.weights if "float" in str(v.dtype)} | self._seen_dtypes

    def masks(self, source):
        from .masks import keras_masks

        return keras_masks(self.km, source)


def _trainable(model: Model) -> set[str]:
    return {f"{n.name}.{w.name}" for n, w in model.weights() if w.trainable and n.trainable}


def make_probe(backend: str, model: Model, weights, dtype: str, device: str | None) -> Probe:
    if backend == "torch":
        return TorchProbe(model, weights, dtype, device)
    if backend == "keras":
        return KerasProbe(model, weights, dtype, device)
    raise ValueError(f"unknown backend {backend!r}")
