"""Blocks and ``repeat``: a mixin of the elaborator that expands a block call (parameters
bound, the body elaborated at the instance's path) and a ``repeat`` (its body once per
repetition, each repetition a scope of its own; a body that is one block call is expanded
as that block's instances)."""

from __future__ import annotations

from collections import ChainMap

from specc.errors import SpecError, did_you_mean
from specc.ir.graph import Scope
from specc.ir.spec import ArgValue
from specc.semantics.context import BUDGET_HINT, BodyScope, Tensors, jsonable, trusted
from specc.semantics.evaluate import evaluate
from specc.semantics.shared import Shareable
from specc.syntax import ast

__all__ = ["ExpansionMixin"]


class ExpansionMixin:
    # ------------------------------------------------------------------ blocks
    def call_block(self, block: ast.BlockDef, call: ast.Call, ins: Tensors, scope: BodyScope, path: str | None = None) -> Tensors | None:
        if block.name in scope.blocks:
            cycle = " → ".join([*scope.blocks[scope.blocks.index(block.name):], block.name])
            self.error(call.name_span, f"block '{block.name}' calls itself ({cycle})", hint="blocks cannot be recursive; use repeat N { ... } to stack layers")
            return None
        args, opts = self.eval_args(call, scope)
        if args is None:
            return None
        values = self.bind_params(block, call, args)
        if values is None or ins is None:  # no input: an earlier error, already reported
            return None
        name, trainable = self.node_options(opts)
        if path is None:
            path = self.allocate(scope, block.name, name, call.span)
            if path is None:
                return None
        out = self.instantiate_block(block, values, ins, scope, path, trainable, call)
        if out is not None and name is not None:
            self.register_shareable(Shareable(path, call.span, [self.types[t] for t in ins], block=block, values=values, trainable=scope.trainable and trainable))
        return out

    def instantiate_block(self, block: ast.BlockDef, values: dict[str, ArgValue], ins: Tensors, scope: BodyScope, path: str, trainable: bool, call: ast.Call, shares: str | None = None) -> Tensors | None:
        """Expand ``block``'s body at ``path`` on ``ins`` (``shares``: the instance whose
        layers it applies again)."""
        n_inputs = sum(1 for s in block.body.stmts if isinstance(s, ast.InputDecl))
        if n_inputs != len(ins):
            self.error(
                call.span,
                f"block '{block.name}' takes {n_inputs} input{'s' if n_inputs != 1 else ''}, got {len(ins)}",
                notes=[f"'{block.name}' is defined at {block.name_span}"],
            )
            return None
        inner = BodyScope(
            path=path,
            values=values,
            tensors={},
            blocks=(*scope.blocks, block.name),
            trainable=scope.trainable and trainable,
            is_block=True,
            block_inputs=list(ins),
        )
        self.count_unit(call.span)
        n_before = len(self.diags)
        self.run_body(block.body, inner, in_model=False)
        if len(self.diags) > n_before:
            self.diags[n_before].notes.append(f"in block '{block.name}' called at {call.span}")
            return None
        outputs = inner.outputs if inner.outputs is not None else inner.current
        if outputs is None:
            self.error(call.span, f"block '{block.name}' computes nothing")
            return None
        self.scopes.append(trusted(Scope, path=path, block=block.name, args={k: jsonable(v.value) for k, v in values.items()}, inputs=tuple(ins), outputs=tuple(outputs), shares=shares, span=call.span))
        return outputs

    def bind_params(self, block: ast.BlockDef, call: ast.Call, args: list[tuple[str | None, ArgValue]]) -> dict[str, ArgValue] | None:
        names = [p.name for p in block.params]
        given: dict[str, ArgValue] = {}
        ok = True
        pos = 0
        for key, av in args:
            if key is None:
                if pos >= len(names):
                    self.error(av.span, f"block '{block.name}' takes {len(names)} parameter{'s' if len(names) != 1 else ''}", hint=f"parameters: {', '.join(names)}" if names else None)
                    ok = False
                    continue
                key = names[pos]
                pos += 1
            if key not in names:
                self.error(av.whole_span, f"block '{block.name}' has no parameter '{key}'", expected=f"one of: {', '.join(names)}" if names else "no parameters", hint=did_you_mean(key, names))
                ok = False
                continue
            if key in given:
                self.error(av.whole_span, f"block '{block.name}': parameter '{key}' is given twice")
                ok = False
                continue
            given[key] = av
        values: dict[str, ArgValue] = {}
        for p in block.params:
            if p.name in given:
                values[p.name] = given[p.name]
            elif p.default is not None:
                try:
                    values[p.name] = ArgValue(evaluate(p.default, values), p.default.span)
                except SpecError as e:
                    self.absorb(e)
                    ok = False
            else:
                self.error(call.span, f"block '{block.name}' needs parameter '{p.name}'", hint=f"usage: {block.name}({', '.join(names)})")
                ok = False
        return values if ok else None

    # ------------------------------------------------------------------ repeat
    def run_repeat(self, stmt: ast.Repeat, scope: BodyScope, cur: Tensors | None) -> Tensors | None:
        try:
            count = evaluate(stmt.count, scope.values)
        except SpecError as e:
            self.absorb(e)
            return None
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            self.error(stmt.count.span, f"repeat needs a positive integer count, got {count!r}")
            return None
        if count > self.limits.max_nodes:
            self.error(stmt.count.span, f"repeat count {count:,} is more than the budget of {self.limits.max_nodes:,} layers and repetitions", hint=BUDGET_HINT.format(flag="--max-nodes", var="SPECC_MAX_NODES"))
            return None
        if stmt.var is not None and not self.check_identifier(stmt.var, stmt.span, "loop variable"):
            return None
        if cur is None:  # no input (an earlier error): still report what is wrong inside, once
            values = dict(scope.values)
            if stmt.var is not None:
                values[stmt.var] = ArgValue(0, stmt.span)
            inner = BodyScope(path=scope.path, values=values, tensors={}, parent_tensors=ChainMap(scope.tensors, scope.parent_tensors), blocks=scope.blocks, trainable=scope.trainable)
            self.run_body(stmt.body, inner, in_model=False)
            return None
        single = _single_block_call(stmt.body, self.blocks)
        base = self.allocate(scope, single.name if single else "repeat", None, stmt.span)
        if base is None:
            return None
        for i in range(count):
            self.count_unit(stmt.span)
            path = f"{base}.{i}"
            values = dict(scope.values)
            if stmt.var is not None:
                values[stmt.var] = ArgValue(i, stmt.span)
            if single is not None:
                inner_scope = BodyScope(path=scope.path, values=values, tensors=scope.tensors, parent_tensors=scope.parent_tensors, blocks=scope.blocks, trainable=scope.trainable)
                cur = self.call_block(self.blocks[single.name], single, cur, inner_scope, path=path)
                self.names[path] = stmt.span
            else:
                inner = BodyScope(
                    path=path,
                    values=values,
                    tensors={},
                    parent_tensors=ChainMap(scope.tensors, scope.parent_tensors),
                    blocks=scope.blocks,
                    trainable=scope.trainable,
                    current=cur,
                )
                n_before = len(self.diags)
                self.run_body(stmt.body, inner, in_model=False)
                if len(self.diags) > n_before:
                    if count > 1:
                        self.diags[n_before].notes.append(f"in repetition {i} of the repeat at {stmt.span}")
                    return None
                start = cur
                cur = inner.outputs if inner.outputs is not None else inner.current
                if cur is not None:
                    self.scopes.append(trusted(Scope, path=path, block=None, args={stmt.var: i} if stmt.var else {}, inputs=tuple(start), outputs=tuple(cur), span=stmt.span))
            if cur is None:
                return None
        return cur


def _single_block_call(body: ast.Body, blocks: dict[str, ast.BlockDef]) -> ast.Call | None:
    """The call when a repeat body is exactly one block call (``repeat 4 { encoder(64) }``)."""
    if len(body.stmts) != 1 or not isinstance(body.stmts[0], ast.Chain):
        return None
    links = body.stmts[0].links
    if len(links) != 1:
        return None
    link = links[0]
    if isinstance(link, ast.Ref):
        link = ast.Call(link.span, link.name, [], link.span)
    if isinstance(link, ast.Call) and link.name in blocks:
        return link
    return None
