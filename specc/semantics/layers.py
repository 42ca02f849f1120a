"""One layer application → a :class:`~specc.ir.graph.Node`: a mixin of the elaborator that
builds a call's op from its evaluated arguments, runs its shape rule, names it (Keras'
``dense``, ``dense_1``, … or ``name=``) and checks the size budgets.

Ops are frozen and hold no source positions, so the same call with the same argument
values is built once (:func:`~specc.semantics.context.op_key`) and the same op on inputs
of the same types is inferred once: the layers of a ``repeat`` or of a block called again
cost a dictionary lookup each, not a pydantic validation and a shape rule.  Only
successes are kept: a call that fails is built, and reported, at each place."""

from __future__ import annotations

from specc.errors import SpecError, Span, did_you_mean
from specc.ir.activations import ACTIVATIONS
from specc.ir.graph import Node
from specc.ir.ops import LAYERS, Op
from specc.ir.ops.activation import ActivationLayer
from specc.ir.spec import ArgValue, build_spec
from specc.ir.types import ShapeError, TensorType, fmt_shape
from specc.semantics.context import BUDGET_HINT, HINTS_UNTIL, Abort, BodyScope, Tensors, join_path, node_of, op_key
from specc.semantics.evaluate import evaluate
from specc.semantics.shared import Shareable
from specc.syntax import ast

__all__ = ["LayersMixin"]


class LayersMixin:
    def init_layers(self) -> None:
        self.units = 0  # layers, block instances and repetitions made so far (budget: max_nodes)
        self.params = 0  # parameters so far (budget: max_params)
        self.ops: dict[tuple, tuple[Op, str]] = {}  # ops built, by call and argument values (see op_key)
        self.shapes: dict[tuple, tuple[Op, list[TensorType], list]] = {}  # shape rules' results (see add_node)
        self.callees: dict[str, tuple[type[Op] | None, bool, bool]] = {}  # see callee

    def callee(self, name: str) -> tuple[type[Op] | None, bool, bool]:
        """What a name denotes among the built-ins: (its layer class or None, whether it is
        an activation, whether it is written with operators only), looked up once a name."""
        got = self.callees.get(name)
        if got is None:
            cls = LAYERS.lookup(name)
            got = self.callees[name] = (cls, cls is None and name in ACTIVATIONS, cls is not None and getattr(cls, "expression_only", False))
        return got

    def is_builtin(self, name: str) -> bool:
        """A layer or an activation (not a block, not a shared layer's name)."""
        cls, is_activation, _ = self.callee(name)
        return cls is not None or is_activation

    def make_op(self, call: ast.Call, scope: BodyScope) -> tuple[Op, str, dict[str, ArgValue]] | None:
        """The layer a call denotes (not a block): (op, base name, options), or None after reporting why."""
        name = call.name
        cls, is_activation, expression_only = self.callee(name)
        if expression_only:
            self.error(call.name_span, f"'{name}' is written with operators", hint="a + b, a - b, a * b, a / b (tensors or numbers)")
            return None
        if cls is None and not is_activation:
            many = len(self.diags) >= HINTS_UNTIL
            candidates = [] if many else [*LAYERS.names(), *self.blocks, *ACTIVATIONS.names(), *self.shared_names()]
            tensors = [] if many else [*scope.tensors, *scope.parent_tensors]
            self.error(
                call.name_span,
                f"unknown layer '{name}'",
                hint=None if many else did_you_mean(name, candidates + tensors),
                expected="a layer, a block or an activation",
            )
            return None
        args, opts = self.eval_args(call, scope)
        if args is None:
            return None
        key = op_key(name, args)  # the same call, the same arguments: the same (frozen) op
        made = self.ops.get(key) if key is not None else None
        if made is not None:
            return made[0], made[1], opts
        try:
            op: Op
            if is_activation:
                fn = ACTIVATIONS.build(name, args, call.span, call.name_span)
                op = ActivationLayer(fn=fn)
                base = fn.kind
            else:
                op = build_spec(cls, args, call.span)  # type: ignore[arg-type]
                base = op.kind
        except SpecError as e:
            self.absorb(e)
            return None
        if key is not None:
            self.ops[key] = (op, base)
        return op, base, opts

    def eval_args(self, call: ast.Call, scope: BodyScope) -> tuple[list[tuple[str | None, ArgValue]] | None, dict[str, ArgValue]]:
        """Evaluate a call's arguments; split off the options every layer takes (name, trainable)."""
        args: list[tuple[str | None, ArgValue]] = []
        opts: dict[str, ArgValue] = {}
        ok = True
        for a in call.args:
            try:
                av = ArgValue(evaluate(a.value, scope.values), a.value.span, a.span if a.name else None)
            except SpecError as e:
                self.absorb(e)
                ok = False
                continue
            if a.name in ("name", "trainable"):
                opts[a.name] = av
            else:
                args.append((a.name, av))
        return (args if ok else None), opts

    def node_options(self, opts: dict[str, ArgValue]) -> tuple[str | None, bool]:
        name = None
        trainable = True
        if "name" in opts:
            av = opts["name"]
            if isinstance(av.value, str) and self.check_identifier(str(av.value), av.span, "layer"):  # type: ignore[arg-type]
                name = str(av.value)
            elif not isinstance(av.value, str):
                self.error(av.span, "name must be a name, e.g. name=encoder1")
        if "trainable" in opts:
            av = opts["trainable"]
            if isinstance(av.value, bool):
                trainable = av.value
            else:
                self.error(av.span, "trainable must be true or false")
        return name, trainable

    def allocate(self, scope: BodyScope, base: str, explicit: str | None, span: Span) -> str | None:
        if explicit is not None:
            full = join_path(scope.path, explicit)
            if full in self.names:
                prev = self.names[full]
                self.error(span, f"the name '{explicit}' is already used", notes=[f"first used at {prev}"] if prev else [])
                return None
            self.names[full] = span
            return full
        n = scope.counters.get(base, 0)
        while True:
            local = base if n == 0 else f"{base}_{n}"
            n += 1
            full = join_path(scope.path, local)
            if full not in self.names:
                scope.counters[base] = n
                self.names[full] = span
                return full

    def add_node(self, op: Op, ins: Tensors, call: ast.Call, scope: BodyScope, base: str, opts: dict[str, ArgValue], shares: Node | None = None) -> Tensors | None:
        """A node applying ``op`` to ``ins``; ``shares``: the first use of the shared layer
        it applies again (see :mod:`specc.semantics.shared`)."""
        lo, hi = op.arity
        if not lo <= len(ins) <= (hi if hi is not None else len(ins)):
            if hi == 1:
                self.error(
                    call.span,
                    f"{call.name} takes one input, got {len(ins)}",
                    hint="the previous statement has several outputs: name them (a, b = ...) and start a chain with one"
                    if len(ins) > 1
                    else None,
                )
            else:
                want = f"{lo} to {hi}" if hi else f"at least {lo}"
                self.error(call.span, f"{call.name} takes {want} inputs, got {len(ins)}", hint=f"feed a tuple: (a, b) -> {call.name}")
            return None
        name, trainable = self.node_options(opts) if opts else (None, True)
        types = self.types
        try:
            in_types = [types[t] for t in ins]
        except KeyError:  # an input whose statement failed (already reported)
            return None
        if not op.integer_inputs:
            for t, tt in zip(ins, in_types, strict=True):
                if not tt.is_float:
                    self.error(
                        call.span,
                        f"{call.name} computes in floating point, but its input '{t}' is {tt.dtype}",
                        expected="a float tensor (float32, float64, float16, bfloat16)",
                        hint=f"declare the input as float32[...]{' — or, for token ids, start with embedding(vocab, dim)' if tt.is_int else ''}",
                    )
                    return None
        masked = self.masked_inputs(op, ins, call)  # a layer using the mask of embedding(mask_zero=true) reads the ids too
        if masked is None:
            return None
        if masked[1] is not ins:
            op, ins, in_types = masked[0], masked[1], [types[t] for t in masked[1]]
        else:
            op = masked[0]
        # a shape rule is a function of the op and the input types: the same layer on inputs
        # of the same types (a repeat, a block called again) is inferred once, its weight
        # count and output sizes with it
        if len(in_types) == 1:
            key: tuple = (id(op), in_types[0].dtype, in_types[0].shape)
        else:
            key = (id(op), *[(t.dtype, t.shape) for t in in_types])
        known = self.shapes.get(key)
        if known is not None and known[0] is op:
            _, out_types, weights, count, sizes = known
        else:
            try:
                out_types = op.infer(in_types)
                weights = op.weights(in_types)  # a weight shape may need dims the rule accepted as unknown
            except ShapeError as e:
                shapes = ", ".join(fmt_shape(t.shape, batch=True) for t in in_types)
                self.error(call.span, e.message, expected=e.expected, hint=e.hint, notes=[f"input shape{'s' if len(in_types) > 1 else ''}: {shapes}"])
                return None
            count, sizes = sum(w.size for w in weights), [t.size() for t in out_types]
            self.shapes[key] = (op, out_types, weights, count, sizes)  # (the op is kept: its id stays its own)
        full = self.allocate(scope, base, name, call.span)
        if full is None:
            return None
        shares = self.share_of(full, op, shares, weights, call.span)  # type: ignore[assignment]
        if shares is False:
            return None
        self.count_unit(call.span)
        if not self.within_size_budgets(full, call.span, 0 if shares else count, out_types, sizes):
            return None
        trainable = shares.trainable if shares else trainable and scope.trainable
        node = node_of(full, op, tuple(ins), tuple(out_types), trainable, shares.name if shares else None, call.span)
        self.nodes.append(node)
        self.node_index[full] = node
        if not self.note_mask(node, call):  # a mask carried on, or refused (see semantics/masking.py)
            return None
        if name is not None:
            self.register_shareable(Shareable(full, call.span, in_types, node=node))
        outputs = node.outputs
        for tid, t in zip(outputs, out_types, strict=True):
            types[tid] = t
        return list(outputs)

    def count_unit(self, span: Span) -> None:
        """One more layer, block instance or repetition; past the budget, stop (the size
        computed before expanding makes this a safety net only)."""
        self.units += 1
        if self.units > self.limits.max_nodes:
            self.error(span, f"the model expands to more than {self.limits.max_nodes:,} layers and repetitions", hint=BUDGET_HINT.format(flag="--max-nodes", var="SPECC_MAX_NODES"))
            raise Abort

    def within_size_budgets(self, name: str, span: Span, count: int, out_types: list[TensorType], sizes: list[int | None]) -> bool:
        """A layer whose weights or outputs no machine could hold is an error now, not a
        MemoryError in compile, verify or train."""
        limit = self.limits.max_params
        if self.params <= limit < self.params + count:
            whole = f" (the model's total reaches {self.params + count:,} here)" if self.params else ""
            self.error(span, f"layer '{name}' has {count:,} parameters{whole}, more than the budget of {limit:,}", hint=BUDGET_HINT.format(flag="--max-params", var="SPECC_MAX_PARAMS"))
            self.params += count
            return False
        self.params += count
        for t, size in zip(out_types, sizes, strict=True):
            if size is not None and size > self.limits.max_activation:
                self.error(span, f"the output of layer '{name}' has {size:,} elements per example ({fmt_shape(t.shape, batch=True)}), more than the budget of {self.limits.max_activation:,}", hint=BUDGET_HINT.format(flag="--max-activation", var="SPECC_MAX_ACTIVATION"))
                return False
        return True
