"""Budgets the front end checks before it does the work: how far a spec may expand, how many
parameters it may have, how large one activation may be.

A 200-byte spec of nested ``repeat 2 { ... }`` or of blocks calling blocks twice expands
to 2^30 layers; ``dense(10**12)`` is a valid layer whose weights no machine holds.  So
before the elaborator expands a spec, :func:`expansion_size` computes the size of the whole
expansion from the syntax tree — a repeat's size is its count times its body's, a block
call's is its body's with the arguments bound — in time proportional to the tree (sizes
are memoised per body and per block and arguments), and the elaborator refuses a spec
over the budget with an error naming the outermost ``repeat`` or block call that exceeds
it.  Parameter and activation sizes are checked per layer as shapes are inferred.

The budgets come, in order, from the caller (``specc.loads(..., limits=Limits(...))``,
``specc check --max-nodes N``), from the environment (``SPECC_MAX_NODES``,
``SPECC_MAX_PARAMS``, ``SPECC_MAX_ACTIVATION``), or the defaults below.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from specc.errors import Span, UsageError
from specc.ir.activations import ACTIVATIONS
from specc.ir.ops import LAYERS
from specc.ir.spec import ArgValue
from specc.syntax import ast

__all__ = ["Limits", "expansion_size", "Sizer", "DEFAULT_MAX_NODES", "DEFAULT_MAX_PARAMS", "DEFAULT_MAX_ACTIVATION"]

#: expansion units (layers, block instances, repetitions) a spec may expand to
DEFAULT_MAX_NODES = 200_000
#: parameters of the whole model (8 GB as float32)
DEFAULT_MAX_PARAMS = 2_000_000_000
#: elements of one layer output, per example (4 GiB as float32)
DEFAULT_MAX_ACTIVATION = 2**30

_ENV = {"max_nodes": "SPECC_MAX_NODES", "max_params": "SPECC_MAX_PARAMS", "max_activation": "SPECC_MAX_ACTIVATION"}


@dataclass(frozen=True)
class Limits:
    """The front end's budgets.  ``Limits()`` takes the environment's values or the defaults."""

    max_nodes: int | None = None
    max_params: int | None = None
    max_activation: int | None = None

    def __post_init__(self) -> None:
        defaults = {"max_nodes": DEFAULT_MAX_NODES, "max_params": DEFAULT_MAX_PARAMS, "max_activation": DEFAULT_MAX_ACTIVATION}
        for key, var in _ENV.items():
            value = getattr(self, key)
            if value is None:
                value = _from_env(var, defaults[key])
            elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UsageError(f"{key.replace('_', '-')} must be a positive integer, got {value!r}")
            object.__setattr__(self, key, value)


def _from_env(var: str, default: int) -> int:
    raw = os.environ.get(var)
    if raw is None or not raw.strip():
        return default
    text = raw.strip().replace("_", "")
    if not text.isdigit() or len(text) > 19 or int(text) < 1:
        raise UsageError(f"the environment variable {var}={raw[:40]!r} is not a positive integer (unset it to use the default, {default:,})")
    return int(text)


def parse_limit(text: str) -> int:
    """argparse type for --max-nodes and friends: a positive integer, '_' allowed, 1e6 allowed."""
    import argparse

    t = text.strip().replace("_", "")
    try:
        value = int(t) if t.isdigit() else int(float(t)) if "e" in t.lower() and float(t).is_integer() else None
    except (ValueError, OverflowError):
        value = None
    if value is None or value < 1 or value > 2**63:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


# --------------------------------------------------------------------------- expansion size


class _Stop(Exception):
    """The size is already past the budget: no need to compute it exactly."""


class Sizer:
    """The number of expansion units a body produces: one per layer, one per block instance
    and one per repetition (so that empty bodies repeated 10^12 times count too).

    An upper bound of what the elaborator does: wherever a count or an argument cannot be
    evaluated, the elaborator stops there with an error, and the sizer counts 1."""

    def __init__(self, blocks: dict[str, ast.BlockDef], budget: int):
        self.blocks = blocks
        self.budget = budget
        self._memo: dict[tuple, int] = {}
        self._free: dict[int, frozenset[str]] = {}
        self._static: dict[int, int | None] = {}
        self._stack: list[str] = []
        self.culprit: tuple[ast.Node, int, str] | None = None  # outermost node over budget, its size, its kind
        self.steps = 0

    # the names a body's expressions read (to memoise a body by the values it depends on)
    def free(self, body: ast.Body) -> frozenset[str]:
        key = id(body)
        got = self._free.get(key)
        if got is None:
            names: set[str] = set()
            for stmt in body.stmts:
                _free_stmt(stmt, names)
            got = self._free[key] = frozenset(names)
        return got

    def static(self, body: ast.Body) -> int | None:
        """The size of a body that repeats nothing and calls no block — its layers, whatever
        the values in scope — or None (what its repeats and calls expand to depends on them)."""
        key = id(body)
        if key in self._static:
            return self._static[key]
        total: int | None = 0
        for stmt in body.stmts:
            chain = stmt.chain if isinstance(stmt, ast.Assign) else stmt
            if isinstance(chain, ast.Chain):
                for link in chain.links:
                    n = self._static_link(link)
                    if n is None:
                        total = None
                        break
                    total += n  # type: ignore[operator]
            if total is None:
                break
        self._static[key] = total
        return total

    def _static_link(self, link: ast.Node) -> int | None:
        """link()'s count for a link that repeats nothing and calls no block, else None."""
        if isinstance(link, ast.Repeat):
            return None
        if isinstance(link, ast.Ref):
            if link.name in self.blocks:
                return None
            return 1 if link.name in LAYERS or link.name in ACTIVATIONS else 0
        if isinstance(link, ast.Call):
            return None if link.name in self.blocks else 1
        if isinstance(link, (ast.TensorExpr, ast.Chain)):
            total = 1 if isinstance(link, ast.TensorExpr) else 0
            for o in link.operands if isinstance(link, ast.TensorExpr) else link.links:
                n = self._static_link(o)
                if n is None:
                    return None
                total += n
            return total
        return 0

    def body(self, body: ast.Body, env: dict[str, ArgValue]) -> int:
        fixed = self.static(body)
        if fixed is not None:
            return fixed
        # no values in scope (the model's body): the key needs no walk of what it reads
        key = ("body", id(body), _env_key(env, self.free(body)) if env else ())
        got = self._memo.get(key) if key[2] is not None else None
        if got is not None:
            return got
        total = 0
        for stmt in body.stmts:
            chain = stmt.chain if isinstance(stmt, ast.Assign) else stmt
            if isinstance(chain, ast.Chain):
                for link in chain.links:
                    total += self.link(link, env)
        if key[2] is not None:
            self._memo[key] = total
        return total

    def link(self, link: ast.Node, env: dict[str, ArgValue]) -> int:
        self.steps += 1
        if isinstance(link, ast.Repeat):
            return self.repeat(link, env)
        if isinstance(link, ast.Ref):
            if link.name in self.blocks:
                return self.block_call(ast.Call(link.span, link.name, [], link.span), env)
            return 1 if link.name in LAYERS or link.name in ACTIVATIONS else 0  # else a tensor
        if isinstance(link, ast.Call):
            if link.name in self.blocks:
                return self.block_call(link, env)
            return 1
        if isinstance(link, ast.TensorExpr):  # one node per operator, plus its operands
            return 1 + sum(self.link(o, env) for o in link.operands)
        if isinstance(link, ast.Chain):  # a parenthesised chain inside an expression
            return sum(self.link(o, env) for o in link.links)
        return 0

    def repeat(self, rep: ast.Repeat, env: dict[str, ArgValue]) -> int:
        from specc.semantics.evaluate import evaluate
        from specc.errors import SpecError

        try:
            count = evaluate(rep.count, env)
        except SpecError:
            return 1
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            return 1
        fixed = self.static(rep.body)
        varies = rep.var is not None and rep.var in self.free(rep.body)
        if fixed is not None and varies:  # every repetition the same size: the loop below, in closed form
            per = 1 + fixed
            total = per * min(count, self.budget // per + 1)
        elif fixed is not None:
            total = count * (1 + fixed)
        elif varies:
            total = 0
            for i in range(count):  # each repetition counts at least 1: at most budget + 1 turns
                total += 1 + self.body(rep.body, {**env, rep.var: ArgValue(i, rep.span)})
                if total > self.budget:
                    break
        else:
            inner = env if rep.var is None else {**env, rep.var: ArgValue(0, rep.span)}
            total = count * (1 + self.body(rep.body, inner))
        return self.over(rep, total, "repeat")

    def block_call(self, call: ast.Call, env: dict[str, ArgValue]) -> int:
        from specc.errors import SpecError
        from specc.semantics.evaluate import evaluate

        block = self.blocks[call.name]
        if block.name in self._stack:  # recursion: reported by the elaborator
            return 1
        names = [p.name for p in block.params]
        values: dict[str, ArgValue] = {}
        try:
            pos = 0
            for a in call.args:
                if a.name in ("name", "trainable"):
                    continue
                key = a.name
                if key is None:
                    if pos >= len(names):
                        return 1
                    key = names[pos]
                    pos += 1
                if key not in names or key in values:
                    return 1
                values[key] = ArgValue(evaluate(a.value, env), a.value.span)
            bound: dict[str, ArgValue] = {}
            for p in block.params:
                if p.name in values:
                    bound[p.name] = values[p.name]
                elif p.default is not None:
                    bound[p.name] = ArgValue(evaluate(p.default, bound), p.default.span)
                else:
                    return 1
        except SpecError:
            return 1
        self._stack.append(block.name)
        try:
            total = 1 + self.body(block.body, bound)
        finally:
            self._stack.pop()
        return self.over(call, total, "block")

    def over(self, node: ast.Node, size: int, kind: str) -> int:
        if size > self.budget:
            self.culprit = (node, size, kind)  # set last by the outermost
        return size


def _env_key(env: dict[str, ArgValue], free: frozenset[str]) -> tuple | None:
    out = []
    for name in sorted(free):
        if name in env:
            k = _freeze(env[name].value)
            if k is None:
                return None
            out.append((name, k))
    return tuple(out)


def _freeze(v: Any) -> Any:
    if v is None or isinstance(v, (bool, int, float, str)):
        return (type(v).__name__, v)
    if isinstance(v, list):
        items = tuple(_freeze(i) for i in v)
        return None if any(i is None for i in items) else ("list", items)
    return None  # a call value: not memoised (still correct)


def _free_stmt(node: Any, names: set[str]) -> None:
    """Every symbol an expression, chain or nested body reads."""
    if isinstance(node, ast.Sym):
        names.add(node.name)
    elif isinstance(node, (ast.Assign,)):
        _free_stmt(node.chain, names)
    elif isinstance(node, ast.Chain):
        for link in node.links:
            _free_stmt(link, names)
    elif isinstance(node, ast.TensorExpr):
        for o in node.operands:
            _free_stmt(o, names)
    elif isinstance(node, ast.Repeat):
        _free_stmt(node.count, names)
        for s in node.body.stmts:
            _free_stmt(s, names)
    elif isinstance(node, ast.Call):
        for a in node.args:
            _free_stmt(a.value, names)
    elif isinstance(node, ast.BinOp):
        _free_stmt(node.left, names)
        _free_stmt(node.right, names)
    elif isinstance(node, ast.UnaryOp):
        _free_stmt(node.operand, names)
    elif isinstance(node, ast.ListExpr):
        for i in node.items:
            _free_stmt(i, names)


def expansion_size(body: ast.Body, blocks: dict[str, ast.BlockDef], budget: int) -> tuple[int, tuple[ast.Node, int, str] | None]:
    """(units ``body`` expands to, the outermost repeat/block call over ``budget`` or None)."""
    sizer = Sizer(blocks, budget)
    return sizer.body(body, {}), sizer.culprit


def describe_culprit(culprit: tuple[ast.Node, int, str], budget: int) -> tuple[Span, str]:
    node, size, kind = culprit
    what = f"this repeat expands to {size:,} layers and repetitions" if kind == "repeat" else f"this call of block '{node.name}' expands to {size:,} layers"  # type: ignore[attr-defined]
    return node.span, f"{what}, more than the budget of {budget:,}"
