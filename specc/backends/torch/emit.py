"""``specc compile --to torch``: the plan as a readable, standalone PyTorch module.

The generated file imports only torch (and math): specc library code the model uses is
copied in.  Its modules and ``state_dict`` keys are exactly those of ``specc.build``'s
model, so weights load either way.  Each block instance / repetition becomes a class
(identical ones share a class; repetitions live in an ``nn.ModuleList``).
"""

from __future__ import annotations

import math

from torch import nn

from specc import __version__
from specc.backends.common import Construct, loss_uses_logits, optimizer_args
from specc.backends.emit_common import PYTHON_NAMES, Library, ScopeNode, class_name, doc_text, literal, local_names, reuse_names, safe_ident, scope_tree, steps_of
from specc.ir.graph import Model

from .plan import OPERATORS, FnStep, ModuleStep, Plan, make_plan

__all__ = ["emit_torch"]

_LIB = "specc.backends.torch.lib"
#: module-level names the generated file binds besides the copied library's
_HEADER_NAMES = {"annotations", "math", "torch", "nn", "F"}
_TRAINING_NAMES = {"LOSSES", "PENALTIES", "OPTIMIZER", "BATCH_SIZE", "EPOCHS", "make_optimizer", "compute_loss", "train_step"}
#: names every method of a generated class may use besides the module's
_METHOD_NAMES = {"self", "return_logits"}


#: library functions an expert writes inline: operators and tensor methods computing exactly
#: what the library function computes (``add(a, b, c)`` is ``a + b + c``, left to right)
_INLINE = {
    "add": lambda xs, kw: " + ".join(xs),
    "multiply": lambda xs, kw: " * ".join(xs),
    "concat": lambda xs, kw: f"torch.cat(({', '.join(xs)}{',' if len(xs) == 1 else ''}), dim={kw['dim']})",
    "flatten": lambda xs, kw: f"{xs[0]}.flatten(1)",
    "to_channels_first": lambda xs, kw: f"{xs[0]}.movedim(-1, 1)",
    "to_channels_last": lambda xs, kw: f"{xs[0]}.movedim(1, -1)",
}


class _Emitter:
    def __init__(self, model: Model, plan: Plan):
        self.model = model
        self.plan = plan
        self.lib = Library.of(_LIB)
        self.used: set[str] = {"SpeccLoss", "SpeccOptimizer", "regularization_penalty"}
        self.classes: dict[str, str] = {}  # class source → class name
        # every module-level name of the generated file: a class never rebinds one of them
        self.module_names: set[str] = set(PYTHON_NAMES) | _HEADER_NAMES | self.lib.bound | _TRAINING_NAMES
        self.model_class = safe_ident(class_name(model.name), reserved=self.module_names)
        self.module_names.add(self.model_class)
        self.class_names: set[str] = set()
        #: what a method's parameters and locals never shadow
        self.reserved = self.module_names | _METHOD_NAMES
        self.var_names: dict[str, str] = {}
        taken: set[str] = set()
        for v in [*plan.inputs, *_all_vars(plan)]:
            if v not in self.var_names:
                name = safe_ident(v, taken, self.reserved)
                taken.add(name)
                self.var_names[v] = name

    def v(self, var: str) -> str:
        return self.var_names[var]

    # ---- constructs
    def ctor(self, c: Construct) -> str:
        cls = c.cls
        if cls.__module__.startswith("torch.nn") and getattr(nn, cls.__name__, None) is cls:
            name = f"nn.{cls.__name__}"
        elif cls.__module__.startswith(_LIB):
            name = cls.__name__
            self.used.add(name)
        else:  # pragma: no cover - lowerings only use torch.nn and specc's library
            raise TypeError(f"cannot emit {cls.__module__}.{cls.__name__}")
        args = [literal(a, self.ctor) for a in c.args] + [f"{k}={literal(v, self.ctor)}" for k, v in c.kwargs.items()]
        return f"{name}({', '.join(args)})"

    def fn_call(self, step: FnStep) -> str:
        kind, _, name = step.fn.partition(".")
        if kind == "operator" and name in OPERATORS:
            a, b = (self.v(i) for i in step.inputs)
            return f"{a} {OPERATORS[name]} {b}"
        if kind == "scalar" and name in OPERATORS:
            x, number = self.v(step.inputs[0]), literal(step.kwargs["scalar"], self.ctor)
            return f"{number} {OPERATORS[name]} {x}" if step.kwargs.get("first") else f"{x} {OPERATORS[name]} {number}"
        inline = _INLINE.get(step.fn)
        if inline is not None:
            return inline([self.v(i) for i in step.inputs], {k: literal(val, self.ctor) for k, val in step.kwargs.items()})
        if step.fn in self.lib.defs:
            self.used.add(step.fn)
        args = [self.v(i) for i in step.inputs] + [f"{k}={literal(val, self.ctor)}" for k, val in step.kwargs.items()]
        return f"{step.fn}({', '.join(args)})"

    # ---- scope tree
    def tree(self) -> ScopeNode:
        return scope_tree(self.model, self.plan.steps, self._loss_keep())

    def _loss_keep(self) -> set[str]:
        """Values the root's forward needs after its last step: the outputs and what the
        loss reads (see ``Plan.loss_inputs``)."""
        made = {o for st in self.plan.loss_steps for o in st.outputs}
        reads = {i for st in self.plan.loss_steps for i in st.inputs} | (set(self.plan.loss_inputs) - made)
        return set(self.plan.outputs) | reads

    def attr_of(self, sn: ScopeNode) -> tuple[str, ...]:
        """Attribute path of a scope's module (from any layer inside it)."""
        depth = sn.path.count(".") + 1
        step = next(st for st in steps_of(sn) if isinstance(st, ModuleStep))
        return step.attr[:depth]

    # ---- classes
    def render_scope(self, sn: ScopeNode, name_hint: str) -> str:
        """Render the class of ``sn`` (deduplicated); return its class name."""
        outer = self.var_names
        names = local_names(sn, self.plan.var_hint, self.reserved)
        self.var_names = reuse_names(sn, names, set(sn.outputs), set(), self.reserved)
        try:
            return self._render_scope(sn, name_hint, len(self.attr_of(sn)))
        finally:
            self.var_names = outer

    def _members(self, sn: ScopeNode, depth: int) -> tuple[list[str], list[str]]:
        """(``__init__`` lines, ``forward`` lines) of a scope's class: its modules, function
        calls and child scopes (repetitions in an ``nn.ModuleList``)."""
        init: list[str] = []
        body: list[str] = []
        containers: dict[str, list[tuple[int, str]]] = {}
        for item in sn.items:
            if isinstance(item, ScopeNode):
                child_cls = self.render_scope(item, class_name(item.block or "Repeat"))
                rel = self.attr_of(item)[depth:]
                if len(rel) == 2 and rel[1].isdigit():
                    containers.setdefault(rel[0], []).append((int(rel[1]), child_cls))
                    call = f"self.{rel[0]}[{rel[1]}]"
                else:
                    init.append(f"self.{rel[0]} = {child_cls}()")
                    call = f"self.{rel[0]}"
                outs = ", ".join(self.v(o) for o in item.outputs)
                args = ", ".join(self.v(i) for i in item.inputs)
                body.append(f"{outs} = {call}({args})" if outs else f"{call}({args})")
            elif isinstance(item, ModuleStep):
                rel = ".".join(item.attr[depth:])
                init.append(f"self.{rel} = {self.ctor(item.construct)}")
                body.append(f"{', '.join(self.v(o) for o in item.outputs)} = self.{rel}({', '.join(self.v(i) for i in item.inputs)})")
            else:
                body.append(f"{self.v(item.outputs[0])} = {self.fn_call(item)}")
        for attr, members in containers.items():
            members.sort()
            if [i for i, _ in members] != list(range(len(members))):  # pragma: no cover - repeats are 0..n-1
                raise AssertionError("non-contiguous repetition")
            if len({c for _, c in members}) == 1:
                init.insert(0, f"self.{attr} = nn.ModuleList([{members[0][1]}() for _ in range({len(members)})])")
            else:
                init.insert(0, f"self.{attr} = nn.ModuleList([{', '.join(c + '()' for _, c in members)}])")
        return init, body

    def _render_scope(self, sn: ScopeNode, name_hint: str, depth: int) -> str:
        init, body = self._members(sn, depth)
        params = ", ".join(self.v(i) for i in sn.inputs)
        ret = ", ".join(self.v(o) for o in sn.outputs)
        lines = [
            "    def __init__(self):",
            "        super().__init__()",
            *[f"        {line}" for line in init],
            "",
            f"    def forward(self, {params}):",
            *[f"        {line}" for line in body],
            f"        return {ret}",
        ]
        source = "\n".join(lines)
        if source in self.classes:
            return self.classes[source]
        base = name_hint
        while base in self.module_names:  # a class named F, LOSSES or like the model's
            base += "_"
        cname, i = base, 2
        while cname in self.class_names or cname in self.module_names:
            cname = f"{base}{i}"
            i += 1
        self.class_names.add(cname)
        self.classes[source] = cname
        return cname

    def render_root(self, root: ScopeNode) -> tuple[str, str]:
        keep = self._loss_keep()
        self.var_names = reuse_names(root, self.var_names, keep, set(self.plan.inputs), self.reserved)
        init, body = self._members(root, 0)
        outs = [self.v(o) for o in self.plan.outputs]
        logits = [self.v(v) for v in self.plan.loss_inputs]
        to_loss = [f"            {self.v(st.outputs[0])} = {self.fn_call(st)}" for st in self.plan.loss_steps]
        single = len(outs) == 1
        params = ", ".join(self.v(i) for i in self.plan.inputs)
        name = self.model_class
        lines = [
            f"class {name}(nn.Module):",
            f'    """{doc_text(self.model.name)}: inputs {doc_text(", ".join(_describe_input(i) for i in self.model.inputs))} (channels-last)."""',
            "",
            "    def __init__(self):",
            "        super().__init__()",
            *[f"        {line}" for line in init],
            "        self.reset_parameters()",
            "",
            f"    def forward(self, {params}, return_logits: bool = False):",
            '        """The outputs; with ``return_logits`` the values the loss reads (the logits of a',
            '        final softmax/sigmoid, where the spec\'s loss uses them)."""',
            *[f"        {line}" for line in body],
            "        if return_logits:",
            *to_loss,
            f"            return {logits[0] if single else '(' + ', '.join(logits) + ')'}",
            f"        return {outs[0] if single else '(' + ', '.join(outs) + ')'}",
            "",
            *self.render_init(),
        ]
        return name, "\n".join(lines)

    # ---- initialisers
    def render_init(self) -> list[str]:
        """``reset_parameters``: each tensor drawn with ``nn.init`` from the spec's
        initialiser (with the canonical weight's fans; torch's own fan-based initialisers
        where the torch tensor has the same fans)."""
        from .weights import weight_targets

        lines = ["    @torch.no_grad()", "    def reset_parameters(self):", '        """Draw initial weights from the spec\'s initialisers."""']
        params = []
        for node in self.model.nodes:
            targets = weight_targets(self.plan, node) if self.model.node_weights(node) else {}
            for w in self.model.node_weights(node):
                init = w.init
                forget = None
                if type(init).__name__ == "UnitForgetBias":
                    forget, init = init, init.base
                fans = w.fans
                if fans is None:
                    from specc.ir.initializers import compute_fans

                    fans = compute_fans(tuple(w.shape))
                for key, shape in targets[w.name]:
                    params.append(f"        {_init_call(_attr_ref(key), init, fans, shape)}")
                if forget is not None:
                    params.extend(self._forget_bias_lines(node, w))
        return lines + (params or ["        pass"])

    def _forget_bias_lines(self, node, w) -> list[str]:
        """Set the forget-gate quarter of an LSTM bias to 1: torch's gate order is the
        canonical one (i, f, c, o), so it is ``[units : 2·units]`` wherever the lowering
        put the bias."""
        from .bundle import _torch_keys

        u = w.init.units
        return [f"        {_attr_ref(key)}[{u}:{2 * u}].fill_(1.0)" for key in _torch_keys(self.plan, node, w.name)]

    # ---- training helpers
    def render_training(self) -> str:
        train = self.model.train
        if train is None:
            return '\ndef make_optimizer(model):\n    raise ValueError("the spec has no train section")\n'
        loss = train.loss
        from .bundle import _torch_keys

        losses = []
        for o in self.model.outputs:
            uses = loss_uses_logits(self.model, o)
            losses.append(
                dict(
                    kind=loss.kind,
                    from_logits=bool(getattr(loss, "from_logits", False)) or uses,
                    label_smoothing=float(getattr(loss, "label_smoothing", 0.0)),
                    delta=float(getattr(loss, "delta", 1.0)),
                )
            )
        penalties = []
        for node, w in self.model.weights():
            reg = w.regularizer
            if reg is not None and (reg.l1_coef or reg.l2_coef) and w.trainable and node.trainable:
                penalties.extend((k, reg.l1_coef, reg.l2_coef) for k in _torch_keys(self.plan, node, w.name))
        opt = optimizer_args(train)
        lit = lambda v: literal(v, self.ctor)  # noqa: E731
        return "\n".join(
            [
                "",
                "# ---- training (the spec's train section)",
                f"LOSSES = {lit(losses)}  # one per output; from_logits where the loss reads the logits",
                f"PENALTIES = {lit(penalties)}  # (parameter, l1, l2)",
                f"OPTIMIZER = {lit(opt)}",
                f"BATCH_SIZE = {train.batch}",
                f"EPOCHS = {train.epochs}",
                "",
                "",
                "def make_optimizer(model):",
                "    return SpeccOptimizer(model.parameters(), **OPTIMIZER)",
                "",
                "",
                "def compute_loss(model, inputs, targets):",
                '    """The spec\'s loss (+ regularisation penalties) for one batch; inputs/targets are lists."""',
                "    preds = model(*inputs, return_logits=True)",
                "    preds = preds if isinstance(preds, tuple) else (preds,)",
                "    total = sum(SpeccLoss(**spec)(p, t) for spec, p, t in zip(LOSSES, preds, targets))",
                "    if PENALTIES:",
                "        total = total + regularization_penalty([(model.get_parameter(k), l1, l2) for k, l1, l2 in PENALTIES])",
                "    return total",
                "",
                "",
                "def train_step(model, optimizer, inputs, targets) -> float:",
                '    """One optimizer step in training mode; returns the loss."""',
                "    model.train()",
                "    optimizer.zero_grad()",
                "    loss = compute_loss(model, inputs, targets)",
                "    loss.backward()",
                "    optimizer.step()",
                "    return float(loss.detach())",
                "",
            ]
        )

    def render(self) -> str:
        root = self.tree()
        name, model_src = self.render_root(root)
        training = self.render_training()
        imports, lib_src = self.lib.render(self.used)
        class_srcs = []
        for source, cname in self.classes.items():
            class_srcs.append(f"class {cname}(nn.Module):\n{source}")
        header = [
            f'"""PyTorch model {doc_text(self.model.name)}, generated by specc {__version__}'
            + (f" from {doc_text(self.model.source)}" if self.model.source else "")
            + ".",
            "",
            "Standalone: needs only PyTorch.  Do not edit; regenerate with `specc compile --to torch`.",
            f"Build: `model = {name}()`; weights load from specc's torch model or from",
            "`specc weights convert` (same state_dict keys).  Inputs and outputs are channels-last.",
            '"""',
            "",
            "from __future__ import annotations",
            "",
            *imports,
            "",
            "# " + "-" * 75 + " specc runtime (copied)",
            "",
            lib_src,
            "",
            "",
            "# " + "-" * 75 + " model",
            "",
        ]
        body = "\n\n\n".join([*class_srcs, model_src])
        return "\n".join(header) + "\n" + body + "\n\n" + training + "\n"


def _attr_ref(key: str) -> str:
    """``encoder.0.dense.weight`` → ``self.encoder[0].dense.weight``."""
    return "self" + "".join(f"[{seg}]" if seg.isdigit() else f".{seg}" for seg in key.split("."))


def _torch_fans(shape: tuple[int, ...]) -> tuple[float, float] | None:
    """The fans torch's nn.init computes for a tensor of ``shape``."""
    if len(shape) < 2:
        return None
    receptive = math.prod(shape[2:])
    return float(shape[1] * receptive), float(shape[0] * receptive)


#: (scale, mode, distribution) → torch's own initialiser with that formula
_TORCH_FAN_INITS = {
    (1.0, "fan_avg", "uniform"): "nn.init.xavier_uniform_({})",
    (1.0, "fan_avg", "untruncated_normal"): "nn.init.xavier_normal_({})",
    (2.0, "fan_in", "uniform"): "nn.init.kaiming_uniform_({}, nonlinearity='relu')",
    (2.0, "fan_in", "untruncated_normal"): "nn.init.kaiming_normal_({}, nonlinearity='relu')",
    (1.0, "fan_in", "uniform"): "nn.init.kaiming_uniform_({}, nonlinearity='linear')",
    (1.0, "fan_in", "untruncated_normal"): "nn.init.kaiming_normal_({}, nonlinearity='linear')",
}
_TRUNC_STD = 0.87962566103423978  # std of a unit normal truncated at ±2σ


def _init_call(ref: str, init, fans, shape) -> str:
    """One ``nn.init`` call drawing ``ref`` from the IR initialiser ``init`` (the formulas
    of ``specc/ir/initializers.py``)."""
    if hasattr(init, "variance_scaling"):
        scale, mode, dist = init.variance_scaling()
        note = f"  # {doc_text(init.describe())}"
        own = _TORCH_FAN_INITS.get((float(scale), mode, dist))
        if own is not None and _torch_fans(shape) == (float(fans[0]), float(fans[1])):
            return own.format(ref)
        denom = {"fan_in": fans[0], "fan_out": fans[1], "fan_avg": (fans[0] + fans[1]) / 2.0}[mode]
        var = scale / max(1.0, denom)
        if dist == "truncated_normal":
            std = math.sqrt(var) / _TRUNC_STD
            return f"nn.init.trunc_normal_({ref}, 0.0, {std!r}, {-2.0 * std!r}, {2.0 * std!r}){note}"
        if dist == "untruncated_normal":
            return f"nn.init.normal_({ref}, 0.0, {math.sqrt(var)!r}){note}"
        limit = math.sqrt(3.0 * var)
        return f"nn.init.uniform_({ref}, {-limit!r}, {limit!r}){note}"
    p = dict(init.params())
    k = init.kind
    if k == "zeros":
        return f"nn.init.zeros_({ref})"
    if k == "ones":
        return f"nn.init.ones_({ref})"
    if k == "constant":
        return f"nn.init.constant_({ref}, {float(p.get('value', 0.0))!r})"
    if k == "random_normal":
        return f"nn.init.normal_({ref}, {float(p.get('mean', 0.0))!r}, {float(p.get('stddev', 0.05))!r})"
    if k == "random_uniform":
        return f"nn.init.uniform_({ref}, {float(p.get('minval', -0.05))!r}, {float(p.get('maxval', 0.05))!r})"
    if k == "truncated_normal":
        mean, std = float(p.get("mean", 0.0)), float(p.get("stddev", 0.05))
        return f"nn.init.trunc_normal_({ref}, {mean!r}, {std!r}, {mean - 2 * std!r}, {mean + 2 * std!r})"
    if k == "orthogonal":
        gain = float(p.get("gain", 1.0))
        flat = ref if len(shape) > 1 else f"{ref}.view(1, -1)"  # orthogonal_ flattens trailing axes itself
        return f"nn.init.orthogonal_({flat}{'' if gain == 1.0 else f', gain={gain!r}'})"
    raise ValueError(f"no torch initialiser for {k}")  # pragma: no cover - every IR initialiser is covered


def _all_vars(plan: Plan) -> list[str]:
    out = []
    for s in [*plan.steps, *plan.loss_steps]:
        out.extend(s.outputs)
    return out


def _describe_input(i) -> str:
    dims = ", ".join("?" if d is None else str(d) for d in i.type.shape)
    return f"{i.name}: {i.type.dtype}[batch, {dims}]"


def emit_torch(model: Model) -> str:
    """The standalone PyTorch source of ``model``."""
    return _Emitter(model, make_plan(model)).render()
