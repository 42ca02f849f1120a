"""Elaborating tensor expressions (``x = tok + pos``, ``(x -> dense(8)) * 0.5 + x``) into
:class:`~specc.ir.ops.arithmetic.Arithmetic` nodes.  A mixin of the elaborator: it uses its
name lookup, chains and node creation.

Numbers (and block parameters or loop variables holding numbers) fold at check time;
each operator with a tensor operand becomes one node.  A layer inside an expression
must be given its input (``(x -> dense(8))``), so that what is computed is never guessed."""

from __future__ import annotations

import math

from specc.errors import SpecError
from specc.ir.ops.arithmetic import Arithmetic
from specc.syntax import ast

__all__ = ["TensorExprMixin"]

_FN = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide"}


class _Num:
    def __init__(self, value: float, span):
        self.value = value
        self.span = span


class TensorExprMixin:
    def run_tensor_expr(self, e, scope) -> list[str] | None:
        v = self._operand(e, scope)
        if v is None:
            return None
        if isinstance(v, _Num):
            self.error(e.span, "this expression is a number, not a tensor", hint="use a tensor in it: x * 2")
            return None
        return [v]

    def _operand(self, e, scope):
        """A tensor id, a _Num, or None after an error."""
        if isinstance(e, ast.Num):
            return _Num(float(e.value), e.span)
        if isinstance(e, ast.Ref):
            found = scope.lookup(e.name)
            if found is not None:
                return found[0] or None  # "" : poisoned by an earlier error
            value = scope.values.get(e.name)
            if value is not None:
                if isinstance(value.value, (int, float)) and not isinstance(value.value, bool):
                    return _Num(float(value.value), e.span)
                self.error(e.span, f"'{e.name}' is {value.value!r}, not a number or a tensor")
                return None
            self.unknown_source(e, scope, feeds=True)
            return None
        if isinstance(e, ast.Chain):
            out = self.run_chain(e, scope)
            if out is None:
                return None
            if len(out) != 1:
                self.error(e.span, f"this chain gives {len(out)} tensors; an expression needs one", hint="name them (a, b = ...) and use one")
                return None
            return out[0]
        if isinstance(e, ast.Call):
            self.error(
                e.span,
                f"a layer in an expression needs its input: write (x -> {e.name}(…))",
                hint="or compute it first: h = x -> " + e.name + "(…)",
            )
            return None
        if isinstance(e, ast.TupleRef):
            names = ", ".join(n for n, _ in e.names)
            self.error(e.span, "a tuple of tensors is not a value", hint=f"feed it to a layer: ({names}) -> concat")
            return None
        if isinstance(e, ast.TensorExpr):
            return self._apply(e, scope)
        self.error(getattr(e, "span", self.stmt_span), "this cannot stand in a tensor expression")
        return None

    def _apply(self, e: ast.TensorExpr, scope):
        values = [self._operand(o, scope) for o in e.operands]
        if any(v is None for v in values):
            return None
        if e.op == "neg":
            (v,) = values
            if isinstance(v, _Num):
                return _Num(-v.value, e.span)
            return self._node(Arithmetic(fn="multiply", scalar=-1.0), [v], e, scope)
        a, b = values
        fn = _FN[e.op]
        if isinstance(a, _Num) and isinstance(b, _Num):
            return self._fold(fn, a, b, e)
        if isinstance(a, _Num) or isinstance(b, _Num):
            num, tensor = (a, b) if isinstance(a, _Num) else (b, a)
            if not math.isfinite(num.value):
                self.error(num.span, "the number must be finite")
                return None
            if fn == "divide" and not isinstance(a, _Num) and num.value == 0:
                self.error(num.span, "division by zero")
                return None
            return self._node(Arithmetic(fn=fn, scalar=num.value, scalar_first=isinstance(a, _Num)), [tensor], e, scope)
        return self._node(Arithmetic(fn=fn), [a, b], e, scope)

    def _fold(self, fn: str, a: _Num, b: _Num, e) -> _Num | None:
        try:
            value = {"add": a.value + b.value, "subtract": a.value - b.value, "multiply": a.value * b.value}[fn] if fn != "divide" else a.value / b.value
        except ZeroDivisionError:
            self.error(e.span, "division by zero")
            return None
        return _Num(value, e.span)

    def _node(self, op: Arithmetic, ins: list[str], e: ast.TensorExpr, scope) -> str | None:
        symbol = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/"}[op.fn]
        call = ast.Call(e.span, symbol, [], e.span)
        try:
            out = self.add_node(op, ins, call, scope, op.fn, {})
        except SpecError as err:  # pragma: no cover - add_node reports, never raises
            self.absorb(err)
            return None
        return out[0] if out else None
