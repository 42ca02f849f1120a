"""``specc compile --to keras``: the plan as a readable, standalone Keras 3 module.

The generated file imports only keras (and math): specc library code the model uses is
copied in.  ``build_model(dtype)`` returns the functional model with the same layer names
(and so the same weight paths) as ``specc.build``'s; ``compile_model(model)`` compiles it
with the spec's optimizer, loss and metrics.  Each block instance / repetition becomes a
function (identical ones share one) called with its layer-name prefix.

Shared layers are Keras layer objects called again: a shared layer is made once
(``tied = layers.Dense(…)``) and called at each use; a shared block instance's function
makes its layers once and returns the function applying them (``enc = encoder(prefix=…)``,
then ``enc(a)``, ``enc(b)``).
"""

from __future__ import annotations

import keras

from specc import __version__
from specc.backends.common import Construct
from specc.backends.emit_common import PYTHON_NAMES, Library, ScopeNode, Var, bound_names, doc_text, literal, local_names, reuse_names, safe_ident, scope_tree, steps_of
from specc.ir.graph import Model

from .bundle import loss_construct, metric_constructs, optimizer_construct
from .plan import KPlan, LayerStep, graph_recursion_limit, keras_model_name, make_plan

__all__ = ["emit_keras"]

_LIB = "specc.backends.keras.lib"
#: module-level names the generated file binds besides the copied library's
_HEADER_NAMES = {"annotations", "keras", "layers", "ops", "sys"}
_FUNCTION_NAMES = {"build_model", "compile_model", "make_optimizer", "make_loss", "make_metrics", "BATCH_SIZE", "EPOCHS"}
#: parameters of the generated functions
_PARAMS = {"dtype", "prefix"}
_KERAS_MODULES = {
    "keras.src.layers": "layers",
    "keras.src.losses": "keras.losses",
    "keras.src.metrics": "keras.metrics",
    "keras.src.initializers": "keras.initializers",
    "keras.src.regularizers": "keras.regularizers",
}


class _Emitter:
    def __init__(self, model: Model, plan: KPlan):
        self.model = model
        self.plan = plan
        self.lib = Library.of(_LIB)
        self.used: set[str] = set()
        self.functions: dict[str, str] = {}  # body source → function name
        self.fn_names: set[str] = set()
        # every module-level name of the generated file: a block's function never rebinds one
        self.module_names = set(PYTHON_NAMES) | _HEADER_NAMES | self.lib.bound | _FUNCTION_NAMES
        self.set_reserved(set())
        self.frozen = {n.name for n in model.nodes if not n.trainable}
        self.prefix = ""
        # shared layers: Keras layer names called by more than one step, and shared block instances
        calls: dict[str, int] = {}
        for st in plan.steps:
            if st.call != "operator":
                calls[st.name] = calls.get(st.name, 0) + 1
        self.shared_layers = {n for n, k in calls.items() if k > 1}
        self.shared_scopes = {p for s in model.scopes if s.shares for p in (s.shares, s.path)}
        self.layer_vars: dict[str, str] = {}  # shared layer name → the variable holding it
        self.scope_vars: dict[str, str] = {}  # shared block instance → the variable applying it

    def set_reserved(self, fn_names: set[str]) -> None:
        """What parameters and locals never shadow: module-level names (the block
        functions' among them) and the functions' own parameters."""
        self.reserved = self.module_names | fn_names | _PARAMS
        taken: set[str] = set()
        self.var_names: dict[str, str] = {}
        for v in [*self.plan.inputs, *(o for st in self.plan.steps for o in st.outputs)]:
            self.var_names[v] = safe_ident(self.plan.var_hint.get(v, v), taken, self.reserved)  # numbered in this scope only
            taken.add(self.var_names[v])

    def v(self, var: str) -> str:
        return self.var_names[var]

    def _recursion_lines(self) -> list[str]:
        need = graph_recursion_limit(self.plan)
        if need is None:
            return []
        return [
            "    # Keras maps the graph recursively (one call per layer): this model is deeper than",
            "    # Python's default recursion limit allows",
            f"    sys.setrecursionlimit(max(sys.getrecursionlimit(), {need}))",
        ]

    def ctor(self, c: Construct) -> str:
        cls = c.cls
        if cls.__module__.startswith(_LIB):
            name = cls.__name__
            self.used.add(name)
        else:
            mod = next((alias for prefix, alias in _KERAS_MODULES.items() if cls.__module__.startswith(prefix)), None)
            if mod is None:  # pragma: no cover - lowerings only use keras' public classes and specc's library
                raise TypeError(f"cannot emit {cls.__module__}.{cls.__name__}")
            public = getattr(keras, mod.split(".")[-1], None) if mod != "layers" else keras.layers
            name = f"{mod}.{cls.__name__}" if getattr(public, cls.__name__, None) is cls else None
            if name is None:  # pragma: no cover
                raise TypeError(f"{cls.__name__} is not public in keras.{mod}")
        args = [literal(a, self.ctor) for a in c.args] + [f"{k}={literal(v, self.ctor)}" for k, v in c.kwargs.items()]
        return f"{name}({', '.join(args)})"

    def layer_name(self, step: LayerStep) -> str:
        return self.scoped(step.name)

    def scoped(self, name: str) -> str:
        """The expression of a full Keras name inside the function being written (a block's
        function gets its instance's path as ``prefix``)."""
        if self.prefix:
            return f'f"{{prefix}}.{name[len(self.prefix) + 1:]}"'
        return repr(name)

    def named(self, expr: str, name: str) -> str:
        """``expr`` (an operator or ``ops`` call) with its Keras operation named ``name``, as
        ``specc.build``'s model names it (see ``named`` in the copied runtime)."""
        self.used.add("named")
        return f"named({expr}, {self.scoped(name)})"

    def operator_line(self, step: LayerStep) -> str:
        kw = step.call_kwargs
        symbol = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/"}[kw["fn"]]
        args = [self.v(i) for i in step.inputs]
        out = self.v(step.outputs[0])
        if kw.get("scalar") is not None:
            number = literal(kw["scalar"], self.ctor)
            expr = f"{number} {symbol} {args[0]}" if kw.get("first") else f"{args[0]} {symbol} {number}"
        else:
            for i, n in enumerate(kw.get("expand", (0, 0))):
                for _ in range(n):
                    args[i] = f"keras.ops.expand_dims({args[i]}, 1)"
            expr = f"{args[0]} {symbol} {args[1]}"
        return f"{out} = {self.named(expr, step.name)}"

    def layer_var(self, step: LayerStep) -> str:
        taken = set(self.var_names.values()) | set(self.layer_vars.values())
        return safe_ident(f"{step.name.rsplit('.', 1)[-1]}_layer", taken, self.reserved)

    def step_lines(self, step: LayerStep) -> list[str]:
        if step.call == "operator":
            return [self.operator_line(step)]
        if step.name in self.shared_layers:
            make, apply = self.shared_step_lines(step)
            return make + apply
        c = Construct(step.construct.cls, step.construct.args, {**step.construct.kwargs})
        ctor = self.ctor(c)
        extra = f"name={self.layer_name(step)}, dtype=dtype"
        ctor = ctor[:-1] + (", " if not ctor.endswith("()") else "") + extra + ")"
        call_args = self.call_args(step)
        outs = ", ".join(self.v(o) for o in step.outputs)
        if step.node in self.frozen:
            lname = safe_ident(f"{self.v(step.outputs[0])}_layer", set(self.var_names.values()), self.reserved)
            return [f"{lname} = {ctor}", f"{lname}.trainable = False", f"{outs} = {lname}({call_args})"]
        return [f"{outs} = {ctor}({call_args})"]

    def ctor_line(self, step: LayerStep) -> str:
        c = Construct(step.construct.cls, step.construct.args, {**step.construct.kwargs})
        ctor = self.ctor(c)
        extra = f"name={self.layer_name(step)}, dtype=dtype"
        return ctor[:-1] + (", " if not ctor.endswith("()") else "") + extra + ")"

    def call_args(self, step: LayerStep) -> str:
        args = [self.v(i) for i in step.inputs]
        if step.call == "list":
            out = "[" + ", ".join(args) + "]"
        elif step.call == "masked":  # after embedding(mask_zero=true): the trailing ids give the masks
            n = len(args) - len(step.masks)
            masks = [f"{k}={self.named(f'keras.ops.not_equal({ids}, 0)', f'{step.node}__{k}')}" for k, ids in zip(step.masks, args[n:], strict=True)]
            out = ", ".join([*args[:n], *masks])
        else:
            out = ", ".join(args)
        return out + "".join(f", {k}={literal(v, self.ctor)}" for k, v in step.call_kwargs.items())

    def call_line(self, step: LayerStep, layer: str) -> str:
        return f"{', '.join(self.v(o) for o in step.outputs)} = {layer}({self.call_args(step)})"

    def shared_step_lines(self, step: LayerStep) -> tuple[list[str], list[str]]:
        """(lines making the layer — none when it exists —, the line calling it)."""
        make: list[str] = []
        if step.name not in self.layer_vars:
            lv = self.layer_vars[step.name] = self.layer_var(step)
            make.append(f"{lv} = {self.ctor_line(step)}")
            if step.node in self.frozen:
                make.append(f"{lv}.trainable = False")
        return make, [self.call_line(step, self.layer_vars[step.name])]

    def body(self, sn: ScopeNode) -> list[str]:
        lines: list[str] = []
        for item in sn.items:
            if isinstance(item, ScopeNode) and (item.path in self.shared_scopes):
                lines.extend(self.shared_scope_lines(item))
            elif isinstance(item, ScopeNode):
                fn = self.render_scope(item)
                rel = item.path[len(self.prefix) + 1 :] if self.prefix else item.path
                pre = f'f"{{prefix}}.{rel}"' if self.prefix else repr(item.path)
                outs = ", ".join(self.v(o) for o in item.outputs)
                lines.append(f"{outs} = {fn}({', '.join(self.v(i) for i in item.inputs)}, prefix={pre}, dtype=dtype)")
            else:
                lines.extend(self.step_lines(item))
        return lines

    def shared_scope_lines(self, item: ScopeNode) -> list[str]:
        """A shared block instance: made once by its factory function, applied at each use."""
        lines: list[str] = []
        owner = next((s.shares for s in self.model.scopes if s.path == item.path and s.shares), item.path)
        if owner not in self.scope_vars:
            fn = self.render_factory(item)
            rel = item.path[len(self.prefix) + 1 :] if self.prefix else item.path
            pre = f'f"{{prefix}}.{rel}"' if self.prefix else repr(item.path)
            taken = set(self.var_names.values()) | set(self.scope_vars.values()) | set(self.layer_vars.values())
            var = self.scope_vars[owner] = safe_ident(item.path.rsplit(".", 1)[-1], taken, self.reserved | self.fn_names)
            lines.append(f"{var} = {fn}(prefix={pre}, dtype=dtype)")
        outs = ", ".join(self.v(o) for o in item.outputs)
        lines.append(f"{outs} = {self.scope_vars[owner]}({', '.join(self.v(i) for i in item.inputs)})")
        return lines

    def render_factory(self, sn: ScopeNode) -> str:
        """The function making a shared block instance's layers (once) and returning the
        function that applies them (nested scopes flattened into it)."""
        flat = ScopeNode(sn.path, sn.block, steps_of(sn), list(sn.inputs), list(sn.outputs))
        outer = self.var_names, self.prefix, self.layer_vars
        self.var_names = reuse_names(flat, local_names(flat, self.plan.var_hint, self.reserved), set(flat.outputs), set(), self.reserved)
        self.prefix, self.layer_vars = sn.path, {}
        try:
            make: list[str] = []
            apply: list[str] = []
            for st in flat.items:
                if st.call == "operator":
                    apply.append(self.operator_line(st))
                    continue
                m, a = self.shared_step_lines(st)
                make.extend(m)
                apply.extend(a)
            params = ", ".join(self.v(i) for i in flat.inputs)
            ret = ", ".join(self.v(o) for o in flat.outputs)
            inner = safe_ident("apply", set(self.var_names.values()) | set(self.layer_vars.values()), self.reserved)
            body = [
                f'"""Block {sn.block or "repeat"} (shared): its layers are made once; the returned function applies them."""',
                *make,
                "",
                f"def {inner}({params}):",
                *[f"    {line}" for line in apply],
                f"    return {ret}",
                "",
                f"return {inner}",
            ]
            source = "\n".join(f"    {line}" if line else "" for line in body)
            key = '(prefix, dtype="float32"):\n' + source
            if key in self.functions:
                return self.functions[key]
            base = safe_ident(f"make_{sn.block or 'repeat_body'}", reserved=self.module_names | _PARAMS)
            name, i = base, 2
            while name in self.fn_names or name in self.module_names or name in _PARAMS:
                name = f"{base}_{i}"
                i += 1
            self.fn_names.add(name)
            self.functions[key] = name
            return name
        finally:
            self.var_names, self.prefix, self.layer_vars = outer

    def render_scope(self, sn: ScopeNode) -> str:
        outer_names, outer_prefix = self.var_names, self.prefix
        self.var_names = reuse_names(sn, local_names(sn, self.plan.var_hint, self.reserved), set(sn.outputs), set(), self.reserved)
        self.prefix = sn.path
        try:
            params = ", ".join(self.v(i) for i in sn.inputs)
            body = self.body(sn)
            ret = ", ".join(self.v(o) for o in sn.outputs)
            source = "\n".join([f"    {line}" for line in body] + [f"    return {ret}"])
            sig = f"({params}, prefix, dtype=\"float32\"):"
            key = sig + "\n" + source
            if key in self.functions:
                return self.functions[key]
            # never a module-level name, nor a parameter the calling function has (dtype, prefix)
            base = safe_ident(sn.block or "repeat_body", reserved=self.module_names | _PARAMS)
            name, i = base, 2
            while name in self.fn_names or name in self.module_names or name in _PARAMS:
                name = f"{base}_{i}"
                i += 1
            self.fn_names.add(name)
            self.functions[key] = name
            return name
        finally:
            self.var_names, self.prefix = outer_names, outer_prefix

    def render(self) -> str:
        # a local never shadows a block's function: render again with the functions' names
        # reserved until no local takes one (names only grow, so this ends)
        while True:
            source = self._render()
            if self.fn_names <= self.reserved:
                return source
            self.set_reserved((self.reserved - self.module_names - _PARAMS) | self.fn_names)
            self.functions, self.fn_names, self.used = {}, set(), set()

    def _render(self) -> str:
        self.layer_vars, self.scope_vars = {}, {}
        root = scope_tree(self.model, self.plan.steps, set(self.plan.outputs))
        self.var_names = reuse_names(root, self.var_names, set(self.plan.outputs), set(self.plan.inputs), self.reserved)
        inputs = []
        for var, i in zip(self.plan.inputs, self.model.inputs, strict=True):
            shape = tuple(d if isinstance(d, int) else None for d in i.type.shape)
            dt = "dtype" if i.type.is_float else repr(i.type.dtype)
            inputs.append(f"{self.v(var)} = keras.Input(shape={shape!r}, dtype={dt}, name={i.name!r})")
        body = self.body(root)
        ins = [self.v(v) for v in self.plan.inputs]
        outs = [self.v(v) for v in self.plan.outputs]
        model_fn = [
            'def build_model(dtype="float32"):',
            f'    """The functional model ({doc_text(self.model.name)}); inputs and outputs are channels-last."""',
            *[f"    {line}" for line in inputs + body],
            *self._recursion_lines(),
            f"    return keras.Model(inputs={ins[0] if len(ins) == 1 else '[' + ', '.join(ins) + ']'}, "
            f"outputs={outs[0] if len(outs) == 1 else '[' + ', '.join(outs) + ']'}, name={keras_model_name(self.model.name)!r})",
        ]
        functions = [f"def {name}{key.split(chr(10), 1)[0]}\n{key.split(chr(10), 1)[1]}" for key, name in self.functions.items()]
        training = self.render_training()
        imports, lib_src = self.lib.render(self.used)
        header = [
            f'"""Keras model {doc_text(self.model.name)}, generated by specc {__version__}' + (f" from {doc_text(self.model.source)}" if self.model.source else "") + ".",
            "",
            "Standalone: needs only Keras 3 (TensorFlow backend).  Do not edit; regenerate with",
            "`specc compile --to keras`.  `model = build_model(); compile_model(model)`; weights load",
            "from specc's keras model (same layer names) or from `specc weights convert`.",
            '"""',
            "",
            "from __future__ import annotations",
            "",
            *(["import sys"] if graph_recursion_limit(self.plan) else []),
            *[line for line in imports if line not in ("import keras", "from keras import ops")],
            "import keras",
            "from keras import layers, ops",
            "",
            "# " + "-" * 75 + " specc runtime (copied)",
            "",
            lib_src,
            "",
            "",
            "# " + "-" * 75 + " model",
            "",
        ]
        return "\n".join(header) + "\n" + "\n\n\n".join([*functions, "\n".join(model_fn)]) + "\n\n" + training + "\n"

    def render_training(self) -> str:
        if self.model.train is None:
            return "\ndef compile_model(model, dtype=\"float32\"):\n    raise ValueError(\"the spec has no train section\")\n"
        dtype = Var("dtype")
        loss = self.ctor(loss_construct(self.model, dtype))
        metrics = ", ".join(self.ctor(c) for c in metric_constructs(self.model))
        opt = self.ctor(optimizer_construct(self.model))
        t = self.model.train
        return "\n".join(
            [
                "",
                "# ---- training (the spec's train section)",
                f"BATCH_SIZE = {t.batch}",
                f"EPOCHS = {t.epochs}",
                "",
                "",
                "def make_optimizer():",
                f"    return {opt}",
                "",
                "",
                'def make_loss(dtype="float32"):',
                f"    return {loss}",
                "",
                "",
                "def make_metrics():",
                f"    return [{metrics}]",
                "",
                "",
                'def compile_model(model, dtype="float32"):',
                *(["    # the metrics are the first output's"] if len(self.model.outputs) > 1 else []),
                "    model.compile(optimizer=make_optimizer(), loss=make_loss(dtype), metrics="
                + ("make_metrics())" if len(self.model.outputs) == 1 else "[make_metrics()" + ", []" * (len(self.model.outputs) - 1) + "])"),
                "    return model",
                "",
            ]
        )


def emit_keras(model: Model) -> str:
    """The standalone Keras source of ``model``."""
    return _Emitter(model, make_plan(model)).render()
