"""``specc compile --to torch``: the plan as a readable, standalone PyTorch module.

The generated file imports only torch (and math): specc library code the model uses is
copied in.  Its modules and ``state_dict`` keys are exactly those of ``specc.build``'s
model, so weights load either way.  Each block instance / repetition becomes a class
(identical ones share a class; repetitions live in an ``nn.ModuleList``).
"""

from __future__ import annotations

import ast
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from specc import __version__
from specc.backends.common import Construct
from specc.backends.emit_common import PYTHON_NAMES, Library, ScopeNode, class_name, doc_text, literal, local_names, reuse_names, safe_ident, scope_tree, steps_of
from specc.errors import Diagnostic, SpecError
from specc.ir.graph import Model

from .emit_train import TRAINING_NAMES, render_training
from .plan import OPERATORS, FnStep, ModuleStep, Plan, make_plan

__all__ = ["emit_torch"]

_LIB = "specc.backends.torch.lib"
#: module-level names the generated file binds besides the copied library's
_HEADER_NAMES = {"annotations", "math", "torch", "nn", "F"}
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
        self.used: set[str] = set()
        self.classes: dict[str, str] = {}  # class source → class name
        # every module-level name of the generated file: a class never rebinds one of them
        self.module_names: set[str] = set(PYTHON_NAMES) | _HEADER_NAMES | self.lib.bound | TRAINING_NAMES
        self.model_class = safe_ident(class_name(model.name), reserved=self.module_names)
        self.module_names.add(self.model_class)
        self.class_names: set[str] = set()
        self._meta: dict | None = None
        self._inlined: dict[str, str] = {}  # var → the expression written in its place (see _statements)
        #: what a method's parameters and locals never shadow
        self.reserved = self.module_names | _METHOD_NAMES
        self.var_names: dict[str, str] = {}
        taken: set[str] = set()
        hints = dict(plan.var_hint)
        if len(plan.outputs) == 1 and plan.outputs[0] not in plan.inputs:
            hints[plan.outputs[0]] = "out"  # not the layer's name with the IR's number (dense_5)
        for v in [*plan.inputs, *_all_vars(plan)]:
            if v not in self.var_names:
                name = safe_ident(hints.get(v, v), taken, self.reserved)  # numbered in this scope only
                taken.add(name)
                self.var_names[v] = name

    def v(self, var: str) -> str:
        return self._inlined.get(var) or self.var_names[var]

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

    def _span_of(self, sn: ScopeNode):
        """Where the layers of a scope were written (its first node's span)."""
        step = next((st for st in steps_of(sn) if st.node), None)
        return self.model.node(step.node).span if step is not None else None

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

    def _members(self, sn: ScopeNode, depth: int) -> tuple[list[str], list[_Stmt]]:
        """(``__init__`` lines, ``forward`` statements) of a scope's class: its modules,
        function calls and child scopes (repetitions in an ``nn.ModuleList``)."""
        init: list[str] = []
        body: list[_Stmt] = []
        containers: dict[str, list[tuple[int, str]]] = {}
        made: dict[str, str] = {}  # attribute → its class: a shared layer's later use calls it again
        for item in sn.items:
            if isinstance(item, ScopeNode):
                child_cls = self.render_scope(item, class_name(item.block or "Repeat"))
                rel = self.attr_of(item)[depth:]
                if rel[0] in made:  # a shared block instance applied again: the same module
                    if made[rel[0]] != child_cls:
                        raise SpecError([Diagnostic(self._span_of(item), f"specc compile --to torch: the shared block instance '{rel[0]}' computes differently in its later use (its inputs arrive in another layout)", hint="build it in memory (specc.build), or apply the shared block to inputs made alike")])
                    call = f"self.{'.'.join(rel)}"
                elif len(rel) == 2 and rel[1].isdigit():
                    containers.setdefault(rel[0], []).append((int(rel[1]), child_cls))
                    call = f"self.{rel[0]}[{rel[1]}]"
                else:
                    init.append(f"self.{rel[0]} = {child_cls}()")
                    made[rel[0]] = child_cls
                    call = f"self.{rel[0]}"
                body.append(_Stmt(list(item.outputs), list(item.inputs), lambda call=call, item=item: f"{call}({', '.join(self.v(i) for i in item.inputs)})", "scope"))
            elif isinstance(item, ModuleStep):
                rel = ".".join(item.attr[depth:])
                if rel not in made:  # a shared layer's later use calls the module again
                    init.append(f"self.{rel} = {self.ctor(item.construct)}")
                    made[rel] = ""
                body.append(_Stmt(list(item.outputs), list(item.inputs), lambda rel=rel, item=item: f"self.{rel}({', '.join(self.v(i) for i in item.inputs)})", "module", self._has_weights(item)))
            else:
                body.append(_Stmt(list(item.outputs), list(item.inputs), lambda item=item: self.fn_call(item), "function"))
        for attr, members in containers.items():
            members.sort()
            if [i for i, _ in members] != list(range(len(members))):  # pragma: no cover - repeats are 0..n-1
                raise AssertionError("non-contiguous repetition")
            if len({c for _, c in members}) == 1:
                init.insert(0, f"self.{attr} = nn.ModuleList([{members[0][1]}() for _ in range({len(members)})])")
            else:
                init.insert(0, f"self.{attr} = nn.ModuleList([{', '.join(c + '()' for _, c in members)}])")
        return init, body

    def _statements(self, stmts: list[_Stmt], keep: set[str], returned: str | None = None) -> tuple[list[str], str | None]:
        """(lines, returned expression) of a ``forward`` body, written as an expert does: a
        call whose one result only the next statement reads is written inside it, up to
        ``_NEST`` calls deep in a line of at most ``_WIDTH`` characters
        (``x = self.maxpool2d(torch.relu(self.conv2d(x)))``, ``x = x + self.dropout(h)``), and
        the statement making ``returned`` (the one value returned, read by nothing else) in
        the ``return``.  An expression goes inside only where it binds as it did alone (no
        precedence to mend: ``x * (a + b)`` stays two lines), only into a function or a
        one-input layer without weights (a layer with weights starts its line, so each
        line has at most one), and never a block's call or into one.  The operations and their order are the plan's: a call is an argument of
        the next."""
        uses = Counter(i for st in stmts for i in st.ins)
        uses.update(keep)
        done: list[tuple[list[str], str]] = []
        i = 0
        while i < len(stmts):
            st = stmts[i]
            outs, expr, kind, depth = st.outs, st.expr(), st.kind, 1
            while i + 1 < len(stmts) and depth < _NEST:
                nxt, v = stmts[i + 1], outs[0] if len(outs) == 1 else None
                if v is None or uses[v] != 1 or v not in nxt.ins or "scope" in (kind, nxt.kind) or (nxt.kind == "module" and (nxt.weighted or len(nxt.ins) != 1)):
                    break
                fused, bracketed = (self._render_with(nxt, v, e) for e in (expr, f"({expr})"))
                if not _same_tree(fused, bracketed) or len(f"        {', '.join(self.v(o) for o in nxt.outs)} = {fused}") > _WIDTH:
                    break  # the inner expression would bind differently there, or the line is too long
                outs, expr, kind, depth = nxt.outs, fused, nxt.kind, depth + 1
                i += 1
            done.append((outs, expr))
            i += 1
        ret = None
        if returned is not None and done and done[-1][0] == [returned] and uses[returned] == (returned in keep):
            ret = done.pop()[1]
        lines = [f"{', '.join(self.v(o) for o in outs)} = {expr}" if outs else expr for outs, expr in done]
        return lines, ret

    def _has_weights(self, step: ModuleStep) -> bool:
        """Whether the module of ``step`` has parameters or buffers (yes where unknown)."""
        module = self._meta_modules().get(".".join(step.attr))
        return module is None or any(True for _ in module.parameters()) or any(True for _ in module.buffers())

    def _render_with(self, st: _Stmt, var: str, expr: str) -> str:
        """``st`` rendered with ``expr`` written in place of ``var``."""
        self._inlined[var] = expr
        try:
            return st.expr()
        finally:
            del self._inlined[var]

    def _render_scope(self, sn: ScopeNode, name_hint: str, depth: int) -> str:
        init, stmts = self._members(sn, depth)
        params = ", ".join(self.v(i) for i in sn.inputs)
        body, ret = self._statements(stmts, set(sn.outputs), sn.outputs[0] if len(sn.outputs) == 1 else None)
        ret = ret or ", ".join(self.v(o) for o in sn.outputs)
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
        init, stmts = self._members(root, 0)
        single = len(self.plan.outputs) == 1 and (self.plan.loss_reads_outputs or (len(self.plan.loss_inputs) == 1 and not self.plan.loss_steps))
        body, ret = self._statements(stmts, keep, self.plan.outputs[0] if single else None)
        outs = [ret] if ret else [self.v(o) for o in self.plan.outputs]
        logits = [self.v(v) for v in self.plan.loss_inputs]
        to_loss = [f"            {self.v(st.outputs[0])} = {self.fn_call(st)}" for st in self.plan.loss_steps]
        params = ", ".join(self.v(i) for i in self.plan.inputs)
        name = self.model_class
        lines = [
            f"class {name}(nn.Module):",
            f'    """{doc_text(self.model.name)}: inputs {doc_text(", ".join(_describe_input(i) for i in self.model.inputs))} (channels-last)."""',
            "",
            "    def __init__(self):",
            "        super().__init__()",
            *[f"        {line}" for line in init],
            *self._frozen_lines(),
            "        self.reset_parameters()",
            "",
            *self._forward_lines(params, body, to_loss, logits, outs),
            "",
            *self.render_init(),
        ]
        return name, "\n".join(lines)

    def _forward_lines(self, params: str, body: list[str], to_loss: list[str], logits: list[str], outs: list[str]) -> list[str]:
        def tup(vs: list[str]) -> str:
            return vs[0] if len(vs) == 1 else "(" + ", ".join(vs) + ")"

        if self.plan.loss_reads_outputs:
            return [f"    def forward(self, {params}):", *[f"        {line}" for line in body], f"        return {tup(outs)}"]
        head = [
            f"    def forward(self, {params}, return_logits: bool = False):",
            '        """The outputs; with ``return_logits`` the values the loss reads (the logits of a',
            '        final softmax/sigmoid, where the spec\'s loss uses them)."""',
            *[f"        {line}" for line in body],
        ]
        if not to_loss and len(outs) == 1 and len(logits) == 1:
            return [*head, f"        return {logits[0]} if return_logits else {outs[0]}"]
        return [
            *head,
            "        if return_logits:",
            *to_loss,
            f"            return {tup(logits)}",
            f"        return {tup(outs)}",
        ]

    # ---- initialisers
    def render_init(self) -> list[str]:
        """``reset_parameters``: each tensor drawn with ``nn.init`` from the spec's
        initialiser (with the canonical weight's fans; torch's own fan-based initialisers
        where the torch tensor has the same fans).  Layers drawn alike share one loop;
        norm layers whose spec init is torch's own (ones, zeros) are left as torch made them."""
        from .weights import weight_targets

        lines = ["    def reset_parameters(self):", '        """Draw initial weights from the spec\'s initialisers."""']
        classes = {".".join(st.attr): st.construct.cls for st in self.plan.steps if isinstance(st, ModuleStep)}
        recipes: dict[str, list[str]] = {}  # module key → its init lines, "{}" for the module
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
                    mod, _, leaf = key.rpartition(".")
                    call = _init_call("\0." + leaf, init, fans, shape)
                    if classes.get(mod) in _TORCH_NORMS and call == _NORM_DEFAULTS.get(leaf):
                        continue  # torch.nn's own initial value is the spec's
                    recipes.setdefault(mod, []).append(call)
                if forget is not None:
                    u = w.init.units
                    for key in self._forget_keys(node, w):
                        mod, _, leaf = key.rpartition(".")
                        recipes.setdefault(mod, []).append(f"\0.{leaf}[{u}:{2 * u}].fill_(1.0)")
        groups: dict[tuple[str, ...], list[str]] = {}
        for mod, calls in recipes.items():
            groups.setdefault(tuple(calls), []).append(mod)
        kinds = self._module_classes()
        body = []
        for calls, mods in groups.items():
            classes = sorted({kinds.get(m) for m in mods}, key=lambda c: getattr(c, "__name__", ""))
            if len(mods) > 1 and None not in classes and {m for m, c in kinds.items() if c in classes} == set(mods):
                names = [f"nn.{c.__name__}" if getattr(nn, c.__name__, None) is c else c.__name__ for c in classes]
                body.append("        for layer in self.modules():")
                body.append(f"            if isinstance(layer, {names[0] if len(names) == 1 else '(' + ', '.join(names) + ')'}):")
                body += [f"                {c.replace(chr(0), 'layer')}" for c in calls]
            elif len(mods) == 1:
                body += [f"        {c.replace(chr(0), _attr_ref(mods[0]))}" for c in calls]
            else:
                body.append(f"        for layer in ({', '.join(_attr_ref(m) for m in mods)}):")
                body += [f"            {c.replace(chr(0), 'layer')}" for c in calls]
        if any(not line.lstrip().startswith(("nn.init.", "for ", "if ")) or ".view(" in line for line in body):
            lines.insert(0, "    @torch.no_grad()")  # a tensor written in place (nn.init's functions take care of themselves)
        return lines + (body or ["        pass"])

    def _frozen_lines(self) -> list[str]:
        """``trainable=false`` layers: no gradients (and a frozen batch norm keeps its
        statistics), as ``build_torch`` sets them."""
        modules = self._meta_modules()
        out = []
        for node in self.model.nodes:
            key = ".".join(self.plan.nodes[node.name].attr)
            if node.trainable or key not in modules:
                continue
            out.append(f"        {_attr_ref(key)}.requires_grad_(False)  # trainable=false")
            if hasattr(modules[key], "frozen"):
                out.append(f"        {_attr_ref(key)}.frozen = True")
        return out

    def _module_classes(self) -> dict[str, type]:
        return {k: type(m) for k, m in self._meta_modules().items()}

    def _meta_modules(self) -> dict:
        """Every submodule of the in-memory module, by key (built on the meta device:
        nothing is allocated); empty where that is not possible."""
        import torch

        from .module import SpeccModule

        if self._meta is None:
            try:
                with torch.device("meta"):
                    module = SpeccModule(self.plan)
                self._meta = {name: m for name, m in module.named_modules() if name}
            except Exception:  # noqa: BLE001 - then every group is written as a tuple of layers
                self._meta = {}
        return self._meta

    def _forget_keys(self, node, w) -> list[str]:
        """The keys of an LSTM bias whose forget-gate quarter is set to 1: torch's gate order
        is the canonical one (i, f, c, o), so it is ``[units : 2·units]`` wherever the
        lowering put the bias."""
        from .bundle import _torch_keys

        return _torch_keys(self.plan, node, w.name)

    def render(self) -> str:
        root = self.tree()
        name, model_src = self.render_root(root)
        training = render_training(self.model, self.plan)
        lib_imports, lib_src = self.lib.render(self.used)
        class_srcs = []
        for source, cname in self.classes.items():
            class_srcs.append(f"class {cname}(nn.Module):\n{source}")
        body = "\n\n\n".join([*class_srcs, model_src]) + "\n\n" + training + "\n"
        imports = ["import torch", "import torch.nn.functional as F", "from torch import nn"]
        if "math." in body or "import math" in lib_imports:
            imports.insert(0, "import math")
        imports += [line for line in lib_imports if line not in imports and line != "import math"]
        runtime = ["# " + "-" * 75 + " specc runtime (copied)", "", lib_src, "", ""] if lib_src else []
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
            *runtime,
            "# " + "-" * 75 + " model",
            "",
        ]
        return "\n".join(header) + "\n" + body


#: a ``forward`` line nests at most this many calls and is at most this wide (see _statements)
_NEST, _WIDTH = 3, 100


def _same_tree(a: str, b: str) -> bool:
    """Whether two expressions parse alike (brackets aside): an expression written inside
    another binds as it did alone exactly when adding brackets around it changes nothing."""
    return ast.dump(ast.parse(a, mode="eval")) == ast.dump(ast.parse(b, mode="eval"))


@dataclass
class _Stmt:
    """One statement of a generated ``forward``: ``outs = expr()`` (``expr`` renders with
    the emitter's names at the time it is called)."""

    outs: list[str]
    ins: list[str]
    expr: Callable[[], str]
    kind: str  # "module" (a layer's call), "scope" (a block's), "function"
    weighted: bool = False  # a module with parameters or buffers


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
_TORCH_NORMS = (nn.LayerNorm, nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.GroupNorm)
#: what torch's norm layers start with (``reset_parameters`` of each)
_NORM_DEFAULTS = {"weight": "nn.init.ones_(\0.weight)", "bias": "nn.init.zeros_(\0.bias)"}
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
