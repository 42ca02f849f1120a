"""Evaluate parameter expressions: numbers, arithmetic on block parameters and loop
variables, symbols, lists and calls-as-values.  Nothing here executes user code: the
only operations are the arithmetic operators of the grammar, on ints and floats, with
bounds so that no input can make evaluation slow or overflow."""

from __future__ import annotations

import math
from typing import Any

from specc.errors import SpecError, Span, did_you_mean
from specc.ir.spec import ArgValue, CallValue, Symbol
from specc.syntax import ast

__all__ = ["evaluate", "ListValue", "MAX_INT", "as_int"]

MAX_INT = 2**63 - 1


class ListValue(list):
    """A list literal's values, with the span of each item."""

    spans: list[Span]


def _err(span: Span, message: str, **kw) -> SpecError:
    return SpecError.single(span, message, **kw)


def _check_int(span: Span, v: int) -> int:
    if abs(v) > MAX_INT:
        raise _err(span, "integer too large", expected=f"a magnitude at most {MAX_INT}")
    return v


def _check_float(span: Span, v: float) -> float:
    if not math.isfinite(v):
        raise _err(span, "number too large (not finite)")
    return v


def _number(span: Span, v: Any, op: str, env: dict[str, ArgValue]) -> int | float:
    if isinstance(v, bool):
        raise _err(span, f"cannot use true/false in arithmetic ('{op}')")
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, Symbol):
        raise _err(
            span,
            f"unknown name '{v}' in an arithmetic expression",
            expected="a number or a parameter of the enclosing block",
            hint=did_you_mean(v, env) or (f"parameters in scope: {', '.join(sorted(env))}" if env else None),
        )
    what = "a list" if isinstance(v, list) else "a call" if isinstance(v, CallValue) else "a string"
    raise _err(span, f"cannot use {what} in arithmetic ('{op}')")


def evaluate(expr: ast.Expr, env: dict[str, ArgValue]) -> Any:
    """The value of ``expr``.  ``env`` maps parameter and loop-variable names to values."""
    if isinstance(expr, ast.Num):
        if isinstance(expr.value, int):
            return _check_int(expr.span, expr.value)
        return _check_float(expr.span, expr.value)
    if isinstance(expr, ast.Bool):
        return expr.value
    if isinstance(expr, ast.Str):
        return expr.value
    if isinstance(expr, ast.Sym):
        if expr.name in env:
            return env[expr.name].value
        if expr.name == "none":
            return None
        return Symbol(expr.name)
    if isinstance(expr, ast.ListExpr):
        out = ListValue(evaluate(i, env) for i in expr.items)
        out.spans = [i.span for i in expr.items]
        return out
    if isinstance(expr, ast.Call):
        return CallValue(
            expr.name,
            [(a.name, ArgValue(evaluate(a.value, env), a.value.span, a.span if a.name else None)) for a in expr.args],
            expr.span,
            expr.name_span,
        )
    if isinstance(expr, ast.UnaryOp):
        v = _number(expr.operand.span, evaluate(expr.operand, env), expr.op, env)
        return -v if expr.op == "-" else v
    if isinstance(expr, ast.BinOp):
        a = _number(expr.left.span, evaluate(expr.left, env), expr.op, env)
        b = _number(expr.right.span, evaluate(expr.right, env), expr.op, env)
        return _binop(expr, a, b)
    raise _err(expr.span, "unsupported expression")  # pragma: no cover - grammar has no other forms


def _binop(expr: ast.BinOp, a: int | float, b: int | float) -> int | float:
    op, span = expr.op, expr.span
    both_int = isinstance(a, int) and isinstance(b, int)
    try:
        if op == "+":
            r = a + b
        elif op == "-":
            r = a - b
        elif op == "*":
            r = a * b
        elif op == "/":
            if b == 0:
                raise _err(expr.right.span, "division by zero")
            r = a / b
        elif op in ("//", "%"):
            if b == 0:
                raise _err(expr.right.span, "division by zero" if op == "//" else "modulo by zero")
            r = a // b if op == "//" else a % b
        elif op == "**":
            if both_int and b >= 0:
                if abs(a) > 1 and b * math.log2(abs(a)) > 63:
                    raise _err(span, "integer too large", expected=f"a magnitude at most {MAX_INT}")
                r = a**b
            else:
                if a == 0 and b < 0:
                    raise _err(span, "zero cannot be raised to a negative power")
                if a < 0 and not float(b).is_integer():
                    raise _err(span, "a negative number cannot be raised to a fractional power")
                r = float(a) ** float(b)
        else:  # pragma: no cover
            raise _err(span, f"unknown operator {op}")
    except OverflowError:
        raise _err(span, "number too large") from None
    if isinstance(r, int):
        return _check_int(span, r)
    return _check_float(span, float(r))


def as_int(av: ArgValue, what: str, minimum: int | None = None) -> int:
    v = av.value
    if isinstance(v, bool) or not isinstance(v, int):
        raise SpecError.single(av.span, f"{what} must be an integer, got {v!r}")
    if minimum is not None and v < minimum:
        raise SpecError.single(av.span, f"{what} must be at least {minimum}, got {v}")
    return v
