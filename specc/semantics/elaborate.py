"""Surface AST → validated IR :class:`~specc.ir.graph.Model`.

Resolves names (tensors, layers, blocks, parameters), evaluates parameter expressions,
expands blocks and ``repeat``, builds each layer's parameters, runs the shape rules and
checks the training section.  It reports *every* problem it can find, located, then
raises one :class:`~specc.errors.SpecError`; a statement that failed poisons only what
depends on it, so one mistake does not cascade into a page of errors.

Naming: layers are named like Keras names them (``dense``, ``dense_1``, …) unless given
``name=``; inside a block instance or a repetition the names are prefixed with the
instance path (``encoder.0.dense``).

This module elaborates statements and chains; its mixins the rest: one layer application
(:mod:`~specc.semantics.layers`: op, shape rule, name, budgets), blocks and
``repeat`` (:mod:`~specc.semantics.expand`), the train/verify sections and the whole-model
checks (:mod:`~specc.semantics.sections`), tensor expressions, shared layers and masks;
:mod:`~specc.semantics.context` holds what they share (the scope of a body, how IR objects
are assembled).
"""

from __future__ import annotations

import keyword
from typing import Any

from specc.errors import Diagnostic, SpecError, Span, did_you_mean
from specc.ir.activations import ACTIVATIONS
from specc.ir.graph import IDENTIFIER, Input, Model, Node, Scope, TrainConfig, VerifyConfig
from specc.ir.ops import LAYERS, Op
from specc.ir.types import DType, TensorType, dims_equal
from specc.semantics.budget import DEFAULT_MAX_NODES, Limits, describe_culprit, expansion_size
from specc.semantics.context import BUDGET_HINT, HINTS_UNTIL, Abort, BodyScope, Tensors, trusted
from specc.semantics.expand import ExpansionMixin
from specc.semantics.hints import dim_problem, dtype_hint
from specc.semantics.layers import LayersMixin
from specc.semantics.masking import MaskingMixin
from specc.semantics.sections import SectionsMixin
from specc.semantics.shared import SharedLayersMixin
from specc.semantics.tensor_expr import TensorExprMixin
from specc.syntax import ast

__all__ = ["elaborate", "MAX_NODES", "RESERVED_NAMES"]

MAX_NODES = DEFAULT_MAX_NODES  # the default budget (see specc.semantics.budget)
DTYPES = tuple(DType.__args__)  # type: ignore[attr-defined]
#: names a spec may not give to tensors or layers (keywords of the language and of Python)
RESERVED_NAMES = frozenset(keyword.kwlist) | {"model", "block", "input", "output", "repeat", "train", "verify", "as", "true", "false", "none", "self"}

class _Elaborator(LayersMixin, ExpansionMixin, SectionsMixin, TensorExprMixin, SharedLayersMixin, MaskingMixin):
    def __init__(self, spec: ast.SpecFile, limits: Limits | None = None):
        self.spec = spec
        self.limits = limits or Limits()
        self.diags: list[Diagnostic] = []
        self.inputs: list[Input] = []
        self.nodes: list[Node] = []
        self.scopes: list[Scope] = []
        self.types: dict[str, TensorType] = {}
        self.names: dict[str, Span | None] = {}  # full layer/input names in use
        self.blocks: dict[str, ast.BlockDef] = {}
        self.train: TrainConfig | None = None
        self.verify: VerifyConfig | None = None
        self.softmax_outputs: dict[str, Op] = {}
        self.stmt_span: Span = Span(spec.path, 1, 1)  # the statement being elaborated
        self.init_layers()
        self.init_shared()
        self.init_masks()

    # ------------------------------------------------------------------ helpers
    def error(self, span: Span | None, message: str, **kw) -> None:
        self.diags.append(Diagnostic(span, message, **kw))

    def absorb(self, e: SpecError) -> None:
        for d in e.diagnostics:
            if d.span is None:  # a problem found deep in a value: locate it at its statement
                d.span = self.stmt_span
        self.diags.extend(e.diagnostics)

    def check_identifier(self, name: str, span: Span, what: str) -> bool:
        if not IDENTIFIER.match(name):
            self.error(span, f"'{name}' is not a valid {what}", expected="letters, digits and '_', not starting with a digit")
            return False
        if name in RESERVED_NAMES:
            self.error(span, f"'{name}' is reserved and cannot name a {what}", hint=f"use e.g. '{name}_'")
            return False
        if name.startswith("__"):
            self.error(span, f"a {what} name may not start with '__'")
            return False
        return True

    # ------------------------------------------------------------------ entry
    def run(self) -> Model | None:
        models = self.spec.models
        for b in self.spec.blocks:
            if not self.check_identifier(b.name, b.name_span, "block"):
                continue
            if b.name in self.blocks:
                first = self.blocks[b.name].name_span
                self.error(b.name_span, f"block '{b.name}' is defined twice", notes=[f"first defined at {first}"])
            elif b.name in LAYERS or b.name in ACTIVATIONS:
                self.error(b.name_span, f"block '{b.name}' has the name of a built-in layer", hint=f"rename it, e.g. '{b.name}_block'")
            else:
                self.blocks[b.name] = b
            seen: set[str] = set()
            for p in b.params:
                if p.name in seen:
                    self.error(p.span, f"block '{b.name}': parameter '{p.name}' is declared twice")
                seen.add(p.name)
                self.check_identifier(p.name, p.span, "parameter")
        if not models:
            self.error(Span(self.spec.path, 1, 1), "no model in this file", hint="add: model NAME { input x: float32[...] ... }")
            return None
        for extra in models[1:]:
            self.error(extra.name_span, "a file holds one model", notes=[f"the first is '{models[0].name}' at {models[0].name_span}"])
        m = models[0]
        self.check_identifier(m.name, m.name_span, "model")
        scope = BodyScope(path="", values={}, tensors={})
        # the size of the whole expansion, before expanding anything
        budget = self.limits.max_nodes
        size, culprit = expansion_size(m.body, self.blocks, budget)
        if size > budget:
            span, message = describe_culprit(culprit, budget) if culprit else (m.name_span, f"model '{m.name}' expands to {size:,} layers and repetitions, more than the budget of {budget:,}")
            self.error(span, message, hint=BUDGET_HINT.format(flag="--max-nodes", var="SPECC_MAX_NODES"))
            return None
        try:
            self.run_body(m.body, scope, in_model=True)
        except Abort:
            return None
        outputs = scope.outputs if scope.outputs is not None else scope.current
        if not self.inputs and not self.diags:
            self.error(m.name_span, f"model '{m.name}' has no input", hint="declare one: input x: float32[16]")
        if outputs is None and not self.diags:
            self.error(m.name_span, f"model '{m.name}' computes nothing", hint="add layers after the input")
        if self.diags or outputs is None:
            return None
        self.check_unused(outputs)
        self.check_output_masks(outputs)
        self.check_training(m, outputs)
        if self.diags:
            return None
        # every part is already validated (ops and sections by build_spec, types by the
        # shape rules): the model is assembled without a second validation pass, and only
        # its own invariants are checked (see trusted)
        model = trusted(
            Model,
            name=m.name,
            inputs=tuple(self.inputs),
            nodes=tuple(self.nodes),
            outputs=tuple(outputs),
            scopes=tuple(self.scopes),
            train=self.train,
            verify=self.verify or VerifyConfig.model_construct(),
            source=self.spec.path,
        )
        model._check()
        return model

    # ------------------------------------------------------------------ statements
    def run_body(self, body: ast.Body, scope: BodyScope, in_model: bool) -> None:
        for stmt in body.stmts:
            outer, self.stmt_span = self.stmt_span, stmt.span
            try:
                self.run_stmt(stmt, scope, in_model)
            except SpecError as e:
                self.absorb(e)
                scope.current = None
            finally:
                self.stmt_span = outer

    def run_stmt(self, stmt: ast.Node, scope: BodyScope, in_model: bool) -> None:
        if isinstance(stmt, ast.InputDecl):
            self.declare_input(stmt, scope, in_model)
        elif isinstance(stmt, ast.OutputDecl):
            self.declare_output(stmt, scope)
        elif isinstance(stmt, ast.Assign):
            result = self.run_chain(stmt.chain, scope)
            self.bind(stmt.targets, result, scope)
            scope.current = result
        elif isinstance(stmt, ast.Chain):
            scope.current = self.run_chain(stmt, scope)
        elif isinstance(stmt, ast.Section):
            self.run_section(stmt, scope, in_model)
        else:  # pragma: no cover
            self.error(stmt.span, "unsupported statement")

    def declare_input(self, stmt: ast.InputDecl, scope: BodyScope, in_model: bool) -> None:
        if not in_model and scope.block_inputs is None:
            self.error(stmt.span, "an input is declared in the model or in a block, not inside repeat", hint="declare it before the repeat")
            scope.current = None
            return
        if not self.check_identifier(stmt.name, stmt.span, "input"):
            scope.current = None
            return
        if _is_layer_name(stmt.name, self.blocks):
            self.error(stmt.span, f"'{stmt.name}' is the name of a layer and cannot name an input", hint=f"use e.g. '{stmt.name}_in'")
            scope.current = None
            return
        if scope.lookup(stmt.name) is not None and stmt.name in scope.tensors:
            self.error(stmt.span, f"'{stmt.name}' is already defined", notes=[f"first defined at {scope.tensors[stmt.name][1]}"])
            return
        declared = self.tensor_type(stmt.type) if stmt.type else None
        if in_model:
            if stmt.type is None:
                self.error(stmt.span, f"model input '{stmt.name}' needs a type", hint=f"input {stmt.name}: float32[16]")
                return
            if declared is None:
                return
            size = declared.size()
            if size is not None and size > self.limits.max_activation:
                self.error(stmt.span, f"input '{stmt.name}' has {size:,} elements per example, more than the budget of {self.limits.max_activation:,}", hint=BUDGET_HINT.format(flag="--max-activation", var="SPECC_MAX_ACTIVATION"))
                return
            if stmt.name in self.names:
                self.error(stmt.span, f"'{stmt.name}' is already the name of a layer or input")
                return
            self.names[stmt.name] = stmt.span
            self.inputs.append(trusted(Input, name=stmt.name, type=declared, span=stmt.span))
            self.types[stmt.name] = declared
            scope.tensors[stmt.name] = (stmt.name, stmt.span)
            scope.current = [stmt.name]
            return
        # block input: bound to the i-th tensor the block was called with
        i = scope.n_inputs_bound
        scope.n_inputs_bound += 1
        if i >= len(scope.block_inputs):
            scope.current = None
            return  # the arity mismatch was reported at the call
        tid = scope.block_inputs[i]
        if declared is not None and tid in self.types:
            actual = self.types[tid]
            if not _compatible(declared, actual):
                self.error(stmt.span, f"block input '{stmt.name}' is declared {declared} but receives {actual}")
        scope.tensors[stmt.name] = (tid, stmt.span)
        scope.current = [tid]

    def tensor_type(self, t: ast.TensorTypeAst) -> TensorType | None:
        ok = True
        if t.dtype not in DTYPES:
            self.error(t.dtype_span, f"unknown dtype '{t.dtype}'", expected=f"one of: {', '.join(DTYPES)}", hint=dtype_hint(t.dtype, DTYPES))
            ok = False
        dims: list[Any] = []
        for d in t.dims:
            if isinstance(d.value, int):
                if d.value <= 0 or d.value > 2**31:
                    self.error(d.span, f"dimension {d.value} is out of range", expected="a positive size, '?' or a name")
                    ok = False
            elif isinstance(d.value, str) and (problem := dim_problem(d.value, d.span)) is not None:
                self.diags.append(problem)
                ok = False
            dims.append(d.value)
        return TensorType(dtype=t.dtype, shape=tuple(dims)) if ok else None

    def declare_output(self, stmt: ast.OutputDecl, scope: BodyScope) -> None:
        if scope.outputs is not None:
            self.error(stmt.span, "outputs are already declared", notes=[f"at {scope.output_span}"])
            return
        out: list[str] = []
        for name, span in stmt.names:
            found = scope.lookup(name)
            if found is None:
                self.error(span, f"unknown tensor '{name}'", hint=self.tensor_hint(name, scope))
                continue
            out.append(found[0])
        if len(out) == len(stmt.names):
            scope.outputs = out
            scope.output_span = stmt.span

    def bind(self, targets: list[tuple[str, Span]], result: Tensors | None, scope: BodyScope) -> None:
        for name, span in targets:
            if not self.check_identifier(name, span, "tensor"):
                continue
            if name in scope.tensors:
                self.error(span, f"'{name}' is already defined", notes=[f"first defined at {scope.tensors[name][1]}"], hint="give the new tensor another name")
                continue
            if name in LAYERS or name in ACTIVATIONS or name in self.blocks:
                self.error(span, f"'{name}' is the name of a layer and cannot name a tensor", hint=f"use e.g. '{name}_out'")
                continue
        if result is None:
            for name, span in targets:
                scope.tensors.setdefault(name, ("", span))  # poisoned: uses stay silent
            return
        if len(targets) != len(result):
            what = f"{len(result)} tensor{'s' if len(result) != 1 else ''}"
            self.error(targets[0][1], f"{len(targets)} name{'s' if len(targets) != 1 else ''} for {what}", hint="name each output, e.g. out, h, c = lstm(32, return_state=true)" if len(result) > 1 else None)
            return
        for (name, span), tid in zip(targets, result, strict=True):
            scope.tensors.setdefault(name, (tid, span))

    # ------------------------------------------------------------------ chains
    def run_chain(self, chain: ast.Chain, scope: BodyScope) -> Tensors | None:
        links = list(chain.links)
        first = links[0]
        cur: Tensors | None
        if isinstance(first, ast.TupleRef):
            cur = []
            for name, span in first.names:
                found = scope.lookup(name)
                if found is None:
                    self.error(span, f"unknown tensor '{name}'", hint=self.tensor_hint(name, scope))
                    cur = None
                elif not found[0]:
                    cur = None  # poisoned by an earlier error
                elif cur is not None:
                    cur.append(found[0])
            links = links[1:]
            if not links:
                self.error(first.span, "a tuple of tensors must feed a layer", hint=f"({', '.join(n for n, _ in first.names)}) -> concat")
                return None
        elif isinstance(first, _EXPRESSIONS):
            cur = self.run_tensor_expr(first, scope)
            links = links[1:]
        elif isinstance(first, ast.Ref) and scope.lookup(first.name) is not None:
            tid = scope.lookup(first.name)[0]  # type: ignore[index]
            cur = [tid] if tid else None
            links = links[1:]
        elif isinstance(first, ast.Ref) and not _is_layer_name(first.name, self.blocks) and not self.is_shared_name(first.name):
            self.unknown_source(first, scope, feeds=len(links) > 1)
            cur = None
            links = links[1:]
        else:
            cur = scope.current
            if cur is None and not self.diags:
                self.error(first.span, "this layer has no input", hint="declare an input first, or start the chain with a tensor: x -> dense(10)")
        for link in links:
            if isinstance(link, ast.Repeat):
                cur = self.run_repeat(link, scope, cur)
                if cur is None:
                    return None
                continue
            if isinstance(link, ast.TupleRef):
                self.error(link.span, "a tuple of tensors can only start a chain")
                return None
            if isinstance(link, _EXPRESSIONS):
                self.error(link.span, "an expression can only start a chain", hint="put the layers in parentheses: (x -> dense(8)) + y")
                return None
            if isinstance(link, ast.Ref):
                if scope.lookup(link.name) is not None and not _is_layer_name(link.name, self.blocks) and self.shared_target(link.name, scope) is None:
                    self.error(link.span, f"'{link.name}' is a tensor; a tensor can only start a chain", hint=self.tensor_link_hint(link.name, scope.lookup(link.name)[0]))  # type: ignore[index]
                    return None
                link = ast.Call(link.span, link.name, [], link.span)
            if cur is None:
                # the input is unknown after an earlier error: still check the layer itself,
                # so that every mistake of a file is reported at once
                self.check_call(link, scope)
                continue
            cur = self.apply(link, cur, scope)
        return cur

    def tensor_hint(self, name: str, scope: BodyScope) -> str | None:
        # a hint costs a pass over the names in scope: past the diagnostics shown, none
        return _tensor_hint(name, scope) if len(self.diags) < HINTS_UNTIL else None

    def unknown_source(self, ref: ast.Ref, scope: BodyScope, feeds: bool) -> None:
        if len(self.diags) >= HINTS_UNTIL:
            self.error(ref.span, f"unknown tensor '{ref.name}'" if feeds else f"unknown layer or tensor '{ref.name}'")
            return
        tensors = [*scope.tensors, *scope.parent_tensors]
        layers = [*LAYERS.names(), *self.blocks, *ACTIVATIONS.names()]
        if feeds:  # `y -> dense(3)`: y can only be a tensor
            best = did_you_mean(ref.name, tensors)
            if best is None and did_you_mean(ref.name, layers):
                best = did_you_mean(ref.name, layers).replace("did you mean", "did you mean the layer")  # type: ignore[union-attr]
            self.error(ref.span, f"unknown tensor '{ref.name}'", hint=best or _tensor_hint(ref.name, scope))
        else:
            self.error(
                ref.span,
                f"unknown layer or tensor '{ref.name}'",
                expected="a layer, a block, an activation or a tensor",
                hint=did_you_mean(ref.name, tensors) or did_you_mean(ref.name, layers),
            )

    def check_call(self, call: ast.Call, scope: BodyScope) -> None:
        """Report what is wrong with a call whose input is unknown (names, arguments)."""
        if call.name in self.blocks:
            args, _ = self.eval_args(call, scope)
            if args is not None:
                self.bind_params(self.blocks[call.name], call, args)
            return
        if not _is_layer_name(call.name, self.blocks) and (self.shared_target(call.name, scope) is not None or self.shared_elsewhere(call, scope)):
            return
        made = self.make_op(call, scope)
        if made is not None:
            self.node_options(made[2])

    def apply(self, call: ast.Call, ins: Tensors, scope: BodyScope) -> Tensors | None:
        if call.name in self.blocks:
            return self.call_block(self.blocks[call.name], call, ins, scope)
        if not self.is_builtin(call.name):
            sh = self.shared_target(call.name, scope)
            if sh is not None:
                return self.apply_shared(sh, call, ins, scope)
            if self.shared_elsewhere(call, scope):
                return None
        made = self.make_op(call, scope)
        if made is None:
            return None
        op, base, opts = made
        return self.add_node(op, ins, call, scope, base, opts)


_EXPRESSIONS = (ast.TensorExpr, ast.Chain, ast.Num)


def _tensor_hint(name: str, scope: BodyScope) -> str | None:
    tensors = [t for t, (tid, _) in {**scope.parent_tensors, **scope.tensors}.items() if tid]
    if not tensors:
        return None
    shown = ", ".join(tensors[:20]) + (f", … ({len(tensors):,} in all)" if len(tensors) > 20 else "")
    return did_you_mean(name, tensors) or f"tensors defined here: {shown}"


def _compatible(a: TensorType, b: TensorType) -> bool:
    return a.dtype == b.dtype and len(a.shape) == len(b.shape) and all(dims_equal(x, y) is not False for x, y in zip(a.shape, b.shape, strict=True))


def _is_layer_name(name: str, blocks: dict) -> bool:
    return name in LAYERS or name in ACTIVATIONS or name in blocks


def elaborate(spec: ast.SpecFile, sources: dict[str, str] | None = None, limits: Limits | None = None) -> Model:
    """Build the validated IR of ``spec`` or raise :class:`SpecError` with every problem.
    ``limits``: the budgets (:class:`~specc.semantics.budget.Limits`; default: the
    environment's or the built-in ones)."""
    el = _Elaborator(spec, limits)
    try:
        model = el.run()
    except RecursionError:
        raise SpecError([Diagnostic(Span(spec.path, 1, 1), "the spec is nested too deeply")], sources) from None
    if el.diags or model is None:
        raise SpecError(el.diags or [Diagnostic(Span(spec.path, 1, 1), "invalid spec")], sources)
    return model

