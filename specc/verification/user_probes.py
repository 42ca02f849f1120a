"""A user's own model, instrumented like a backend probe (:mod:`.probes`): its per-layer
outputs, loss, gradients, optimizer steps and weights — all as canonical values of the
*spec's* names, through the correspondence :mod:`.against` found.

The user's model runs as the user wrote it: a PyTorch module through its torch.fx trace
(the same operations as its ``forward``), a Keras model as a functional model of its own
layers.  Weights move in and out through the same per-op converters as specc's backends.
Training uses the spec's optimizer as the user's framework implements it
(``torch.optim`` / ``keras.optimizers``); :func:`optimizer_notes` says where that
framework's formula differs from the spec's.
"""

from __future__ import annotations

import numpy as np

__all__ = ["UserTorchProbe", "UserKerasProbe", "optimizer_notes"]


def optimizer_notes(opt, framework: str, schedule=None) -> list[str]:
    """Where ``framework``'s built-in optimizer computes something else than the spec's."""
    k = opt.kind
    out = []
    if framework == "keras":
        if k == "sgd" and opt.momentum and schedule is not None and schedule.kind != "constant":
            out.append(
                "keras.optimizers.SGD folds the learning rate into its velocity (v = m·v − lr·g; w += v); the spec "
                "(PyTorch's) scales the buffer by the current rate (b = m·b + g; w −= lr·b): with a schedule that "
                "changes the rate, steps after the first change differ"
            )
        if k in ("adam", "adamw"):
            out.append(
                "keras.optimizers.Adam applies ε as ε̂ = ε·√(1−β₂ᵗ) next to √v (lr·√(1−β₂ᵗ)/(1−β₁ᵗ)·m/(√v + ε̂)); "
                "the spec (PyTorch's formula) adds ε to √v̂ — steps differ by about ε/√v̂ relative; "
                "Keras also rounds lr and the β powers to float32"
            )
        if k == "rmsprop":
            out.append("keras.optimizers.RMSprop puts ε inside the root (√(v + ε)) and folds lr into its momentum buffer; the spec (PyTorch's) uses √v + ε")
        if k == "adagrad":
            out.append("keras.optimizers.Adagrad puts ε inside the root; the spec (PyTorch's) uses √s + ε")
        if k == "sgd" and opt.dampening:
            out.append("keras.optimizers.SGD has no dampening")
    if framework == "torch" and opt.weight_decay and k not in ("adam", "adamw", "sgd"):
        out.append(f"torch.optim.{type(opt).__name__}'s weight_decay is an L2 gradient term; the spec's is decoupled (w −= lr·wd·w)")
    if framework == "torch" and opt.weight_decay and k == "sgd" and opt.momentum:
        out.append("torch.optim.SGD's weight_decay goes through the momentum buffer; the spec's is decoupled")
    return out


def _torch_optimizer(torch, params, opt):
    k = opt.kind
    if k == "sgd":
        return torch.optim.SGD(params, lr=opt.lr, momentum=opt.momentum, dampening=opt.dampening, nesterov=opt.nesterov, weight_decay=opt.weight_decay)
    if k in ("adam", "adamw"):
        cls = torch.optim.AdamW if opt.weight_decay else torch.optim.Adam  # decoupled decay = AdamW
        kw = {"weight_decay": opt.weight_decay} if opt.weight_decay else {}
        return cls(params, lr=opt.lr, betas=(opt.beta1, opt.beta2), eps=opt.epsilon, amsgrad=opt.amsgrad, **kw)
    if k == "rmsprop":
        return torch.optim.RMSprop(params, lr=opt.lr, alpha=opt.rho, eps=opt.epsilon, momentum=opt.momentum, centered=opt.centered, weight_decay=opt.weight_decay)
    if k == "adagrad":
        return torch.optim.Adagrad(params, lr=opt.lr, lr_decay=opt.lr_decay, initial_accumulator_value=opt.initial_accumulator, eps=opt.epsilon, weight_decay=opt.weight_decay)
    if k == "adadelta":
        return torch.optim.Adadelta(params, lr=opt.lr, rho=opt.rho, eps=opt.epsilon, weight_decay=opt.weight_decay)
    raise ValueError(f"no torch.optim counterpart for {k}")


def _keras_schedule(keras, lr: float, schedule):
    """The spec's schedule as a Keras ``LearningRateSchedule``: ``lr · factor(t)`` with ``t`` the
    optimizer's iteration count (0 for the first step), the same rule as ``LambdaLR`` for a torch
    port and as specc's own backends.  Called eagerly (the probe applies gradients outside any
    compiled function), so the spec's own ``factor`` formula is used, not a re-implementation."""

    dtype = keras.config.floatx()  # made while the probe's precision is Keras' float type

    class SpecSchedule(keras.optimizers.schedules.LearningRateSchedule):
        def __call__(self, step):
            t = int(keras.ops.convert_to_numpy(step))
            return keras.ops.convert_to_tensor(lr * schedule.factor(t), dtype=dtype)

        def get_config(self):
            return {"lr": lr, "schedule": schedule.kind}

    return SpecSchedule()


def _keras_optimizer(keras, opt, schedule=None):
    common = {}
    if opt.clip_norm:
        common["global_clipnorm"] = opt.clip_norm
    if opt.clip_value:
        common["clipvalue"] = opt.clip_value
    if opt.weight_decay:
        common["weight_decay"] = opt.weight_decay
    k = opt.kind
    O = keras.optimizers
    lr = opt.lr if schedule is None or schedule.kind == "constant" else _keras_schedule(keras, opt.lr, schedule)
    if k == "sgd":
        return O.SGD(learning_rate=lr, momentum=opt.momentum, nesterov=opt.nesterov, **common)
    if k in ("adam", "adamw"):
        return (O.AdamW if k == "adamw" else O.Adam)(learning_rate=lr, beta_1=opt.beta1, beta_2=opt.beta2, epsilon=opt.epsilon, amsgrad=opt.amsgrad, **common)
    if k == "rmsprop":
        return O.RMSprop(learning_rate=lr, rho=opt.rho, momentum=opt.momentum, epsilon=opt.epsilon, centered=opt.centered, **common)
    if k == "adagrad":
        return O.Adagrad(learning_rate=lr, initial_accumulator_value=opt.initial_accumulator, epsilon=opt.epsilon, **common)
    if k == "adadelta":
        return O.Adadelta(learning_rate=lr, rho=opt.rho, epsilon=opt.epsilon, **common)
    raise ValueError(f"no keras.optimizers counterpart for {k}")


class _UserProbe:
    """Shared by both frameworks: ``pairs`` maps spec node → user node (weighted layers)."""

    def __init__(self, imported, pairs: dict[str, str], spec_model):
        self.imp = imported
        self.umodel = imported.model
        self.pairs = pairs
        self.spec = spec_model
        self._seen: set[str] = set()

    def _to_spec(self, per_user_node: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        out = {}
        for s, u in self.pairs.items():
            for k, v in per_user_node.get(u, {}).items():
                out[f"{s}.{k}"] = np.asarray(v, dtype=np.float64)
        return out


class UserTorchProbe(_UserProbe):
    name = "port (torch)"

    def __init__(self, imported, pairs, spec_model, dtype: str):
        import torch

        super().__init__(imported, pairs, spec_model)
        self.torch = torch
        self.gm = imported.traced
        self.dtype = getattr(torch, dtype)
        self.gm.to(self.dtype)
        self._opt = None
        self._terms: list | None = None
        self._frozen: list = []
        # torch recurrences' second bias (bias_hh) is folded into the one canonical bias:
        # held at zero and frozen, as specc's own torch models hold it
        for m in self.gm.modules():
            if isinstance(m, (torch.nn.LSTM, torch.nn.RNN)):
                for name, p in m.named_parameters():
                    if name.startswith("bias_hh"):
                        p.requires_grad_(False)
                        self._frozen.append(name)
        self._neutralise_dropout()
        from specc.backends.torch.bundle import build_torch

        self.loss_bundle = build_torch(spec_model, None, dtype=dtype) if spec_model.train is not None else None

    def _neutralise_dropout(self) -> None:
        import torch.nn.functional as F

        for m in self.gm.modules():
            if isinstance(m, self.torch.nn.Dropout):
                m.p = 0.0
        changed = False
        for n in self.gm.graph.nodes:
            if n.op == "call_function" and n.target is F.dropout:
                n.args = n.args[:1]
                n.kwargs = {**n.kwargs, "p": 0.0}
                changed = True
        if changed:
            self.gm.recompile()

    def _inputs(self, inputs):
        out = []
        for decl, x in zip(self.umodel.inputs, inputs, strict=True):
            perm = self.imp.input_perms.get(decl.name)
            a = x if perm is None else np.transpose(x, perm)
            t = self.torch.from_numpy(np.ascontiguousarray(a))
            out.append(t.to(self.dtype) if t.is_floating_point() else t.long())
        return out

    def _run(self, inputs, keep: bool):
        import torch.fx

        env: dict = {}

        class Capture(torch.fx.Interpreter):
            def run_node(self, n):
                v = super().run_node(n)
                if keep:
                    env[n.name] = v
                return v

        out = Capture(self.gm).run(*self._inputs(inputs))
        return out, env

    def _canonical(self, layer, env):
        fx, how = layer.value
        v = env[fx]
        torch = self.torch
        if how == "squeeze":
            v = v.reshape(v.shape[0], -1)
        elif isinstance(how, tuple) and how and how[0] == "rnn":
            _, seq, bidi = how
            if seq:
                v = v[0]
            else:
                h = v[1][0] if isinstance(v[1], tuple) else v[1]
                v = torch.cat((h[-2], h[-1]), dim=1) if bidi else h[-1]
        else:
            v = v.permute(*np.argsort(how).tolist()) if list(how) != sorted(how) else v
        if v.is_floating_point():
            self._seen.add(str(v.dtype).removeprefix("torch."))
        return v.detach().cpu().double().numpy()

    def trace(self, inputs):
        self.gm.eval()
        with self.torch.no_grad():
            _, env = self._run(inputs, keep=True)
        out = {}
        for name, layer in self.imp.layers.items():
            if layer.value is not None:
                out[name] = self._canonical(layer, env)
        return out

    def _outputs(self, out):
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        return outs

    def _loss(self, inputs, targets):
        out, _ = self._run(inputs, keep=False)
        loss = self.loss_bundle.loss_fn(self._outputs(out), targets)
        terms = self._penalty_terms()
        if terms:
            from specc.backends.torch.lib.training import regularization_penalty

            loss = loss + regularization_penalty(terms)
        return loss

    def _penalty_terms(self) -> list:
        """The spec's weight penalties on the port's parameters.  A torch module has no
        regularisers of its own (a torch user adds them in the training loop, which here is
        specc's), so the spec's penalties are added to the port's loss: l1·Σ|w| + l2·Σw² of
        the tensors holding each regularised canonical weight (found through the same weight
        mapping; both sums are invariant under the layout change between them)."""
        if self._terms is None:
            from specc.backends.torch.plan import CANON, NodeInfo
            from specc.backends.torch.weights import node_weight_targets
            from specc.importers.torch import NN_KEYS

            self._terms = []
            for s, u in self.pairs.items():
                snode, unode = self.spec.node(s), self.umodel.node(u)
                regs = {w.name: w.regularizer for w in self.spec.node_weights(snode) if w.regularizer is not None and w.trainable and snode.trainable}
                if not regs:
                    continue
                info = NodeInfo(unode, self.umodel.input_types(unode), [CANON] * len(unode.inputs), ())
                back = {v: k for k, v in NN_KEYS.get(unode.op.kind, {}).items()}
                module, _ = self.imp.layers[u].src
                params = dict(module.named_parameters())
                for wname, targets in node_weight_targets(info, self.umodel.node_weights(unode)).items():
                    reg = regs.get(wname)
                    for key, _shape in targets if reg is not None else ():
                        self._terms.append((params[back.get(key, key)], reg.l1_coef, reg.l2_coef))
        return self._terms

    def _node_state(self, node_name: str, grads: bool) -> dict[str, np.ndarray]:
        from specc.backends.torch.plan import CANON, TORCH_OPS, NodeInfo
        from specc.importers.torch import NN_KEYS

        node = self.umodel.node(node_name)
        module, _path = self.imp.layers[node_name].src
        sd = {}
        for k, t in module.state_dict(keep_vars=True).items():
            if k == "num_batches_tracked":
                continue
            if grads:
                g = getattr(t, "grad", None)
                sd[k] = np.zeros(tuple(t.shape)) if g is None else g.detach().cpu().double().numpy()
            else:
                sd[k] = t.detach().cpu().double().numpy()
        alias = NN_KEYS.get(node.op.kind, {})
        info = NodeInfo(node, self.umodel.input_types(node), [CANON] * len(node.inputs), ())
        return TORCH_OPS[node.op.kind].from_torch(info, {alias.get(k, k): v for k, v in sd.items()})

    def loss_and_grads(self, inputs, targets):
        self.gm.train()
        self.gm.zero_grad(set_to_none=True)
        loss = self._loss(inputs, targets)
        loss.backward()
        grads = self._to_spec({u: self._node_state(u, grads=True) for u in self.pairs.values()})
        trainable = {f"{n.name}.{w.name}" for n, w in self.spec.weights() if w.trainable and n.trainable}
        return float(loss.detach()), {k: v for k, v in grads.items() if k in trainable}

    def step(self, inputs, targets):
        torch = self.torch
        opt_spec = self.spec.train.optimizer
        if self._opt is None:
            self._opt = _torch_optimizer(torch, [p for p in self.gm.parameters() if p.requires_grad], opt_spec)
            sched = self.spec.train.schedule
            self._sched = torch.optim.lr_scheduler.LambdaLR(self._opt, lambda t: sched.factor(t)) if sched is not None else None
        self.gm.train()
        self._opt.zero_grad(set_to_none=True)
        loss = self._loss(inputs, targets)
        loss.backward()
        params = [p for p in self.gm.parameters() if p.requires_grad]
        if opt_spec.clip_value:
            torch.nn.utils.clip_grad_value_(params, opt_spec.clip_value)
        if opt_spec.clip_norm:
            torch.nn.utils.clip_grad_norm_(params, opt_spec.clip_norm)
        self._opt.step()
        if self._sched is not None:
            self._sched.step()
        return float(loss.detach())

    def weights(self):
        return self._to_spec({u: self._node_state(u, grads=False) for u in self.pairs.values()})

    def set_weights(self, weights):
        from specc.backends.torch.plan import CANON, TORCH_OPS, NodeInfo
        from specc.importers.torch import NN_KEYS

        torch = self.torch
        for s, u in self.pairs.items():
            node = self.umodel.node(u)
            local = {w.name: weights[f"{s}.{w.name}"] for w in self.umodel.node_weights(node)}
            info = NodeInfo(node, self.umodel.input_types(node), [CANON] * len(node.inputs), ())
            sd = TORCH_OPS[node.op.kind].to_torch(info, local)
            back = {v: k for k, v in NN_KEYS.get(node.op.kind, {}).items()}
            module, _ = self.imp.layers[u].src
            own = module.state_dict(keep_vars=True)
            with torch.no_grad():
                for k, v in sd.items():
                    own[back.get(k, k)].copy_(torch.from_numpy(np.ascontiguousarray(v)))

    def dtypes(self):
        return {str(p.dtype).removeprefix("torch.") for p in self.gm.state_dict().values() if p.is_floating_point()} | self._seen


class UserKerasProbe(_UserProbe):
    name = "port (keras)"

    def __init__(self, imported, pairs, spec_model, dtype: str):
        import keras

        super().__init__(imported, pairs, spec_model)
        self.keras = keras
        self.dtype = dtype
        self.km = imported.source
        self._opt = None
        self._probe = None
        for layer in self.km._flatten_layers(include_self=False):
            if type(layer).__name__ == "Dropout":
                layer.rate = 0.0
            cell = getattr(layer, "cell", None)
            for c in [cell, getattr(getattr(layer, "forward_layer", None), "cell", None), getattr(getattr(layer, "backward_layer", None), "cell", None)]:
                if c is not None and hasattr(c, "dropout"):
                    c.dropout = 0.0
                    c.recurrent_dropout = 0.0
        self.loss = None
        if spec_model.train is not None:
            from specc.backends.keras.bundle import build_keras

            self.loss = build_keras(spec_model, None, dtype=dtype).loss

    def _x(self, inputs):
        return inputs if len(inputs) > 1 else inputs[0]

    def trace(self, inputs):
        keras = self.keras
        if self._probe is None:
            names = [n for n, la in self.imp.layers.items() if la.value]
            tensors = [self.imp.layers[n].value[0] for n in names]
            ins = self.km.inputs if len(self.km.inputs) > 1 else self.km.inputs[0]
            self._probe = (names, keras.Model(ins, tensors))
        names, probe = self._probe
        vals = probe(self._x(inputs), training=False)
        vals = vals if isinstance(vals, (list, tuple)) else [vals]
        self._seen |= {str(getattr(v.dtype, "name", v.dtype)) for v in vals if "float" in str(v.dtype)}
        return {n: np.asarray(v, dtype=np.float64) for n, v in zip(names, vals, strict=True)}

    def _node_values(self, u: str, grads: dict | None) -> dict[str, np.ndarray]:
        from specc.backends.keras.plan import KERAS_OPS, KNodeInfo
        from specc.importers.keras import _relative

        node = self.umodel.node(u)
        layer = self.imp.layers[u].src
        vals = {}
        for v in layer.weights:
            rel = _relative(layer, v.path)
            if grads is None:
                vals[rel] = np.asarray(v.numpy(), dtype=np.float64)
            else:
                g = grads.get(id(v))
                if g is not None:
                    import tensorflow as tf

                    g = tf.convert_to_tensor(g)  # an embedding's gradient comes as IndexedSlices
                vals[rel] = np.zeros(tuple(v.shape)) if g is None else np.asarray(g, dtype=np.float64)
        names = [w.name for w in self.umodel.node_weights(node)]
        return KERAS_OPS[node.op.kind].from_keras(KNodeInfo(node, self.umodel.input_types(node)), names, vals)

    def _tape_loss(self, inputs, targets):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            preds = self.km(self._x(inputs), training=True)
            preds = preds if isinstance(preds, (list, tuple)) else [preds]
            total = None
            for p, y in zip(preds, targets, strict=True):
                v = self.loss(y, p)
                total = v if total is None else total + v
            for extra in self.km.losses:
                total = total + tf.cast(extra, total.dtype)
        return tape, total

    def loss_and_grads(self, inputs, targets):
        variables = self.km.trainable_variables
        tape, total = self._tape_loss(inputs, targets)
        gs = tape.gradient(total, variables)
        grads = {id(v): g for v, g in zip(variables, gs, strict=True) if g is not None}
        out = self._to_spec({u: self._node_values(u, grads) for u in self.pairs.values()})
        trainable = {f"{n.name}.{w.name}" for n, w in self.spec.weights() if w.trainable and n.trainable}
        return float(total), {k: v for k, v in out.items() if k in trainable}

    def step(self, inputs, targets):
        if self._opt is None:
            opt = self.spec.train.optimizer
            # Keras keeps lr and its step counters in floatx: the precision of the comparison
            old = self.keras.config.floatx()
            self.keras.config.set_floatx(self.dtype)
            try:
                self._opt = _keras_optimizer(self.keras, opt, self.spec.train.schedule)
                self._opt.build(self.km.trainable_variables)
            finally:
                self.keras.config.set_floatx(old)
        variables = self.km.trainable_variables
        tape, total = self._tape_loss(inputs, targets)
        gs = tape.gradient(total, variables)
        self._opt.apply_gradients(zip(gs, variables, strict=True))
        return float(total)

    def weights(self):
        return self._to_spec({u: self._node_values(u, None) for u in self.pairs.values()})

    def set_weights(self, weights):
        from specc.backends.keras.plan import KERAS_OPS, KNodeInfo
        from specc.importers.keras import _relative

        for s, u in self.pairs.items():
            node = self.umodel.node(u)
            local = {w.name: weights[f"{s}.{w.name}"] for w in self.umodel.node_weights(node)}
            vals = KERAS_OPS[node.op.kind].to_keras(KNodeInfo(node, self.umodel.input_types(node)), local)
            layer = self.imp.layers[u].src
            for v in layer.weights:
                rel = _relative(layer, v.path)
                if rel in vals:
                    v.assign(np.asarray(vals[rel]).astype(v.dtype))

    def dtypes(self):
        return {str(v.dtype) for v in self.km.weights if "float" in str(v.dtype)} | self._seen
