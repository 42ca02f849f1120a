"""Source positions for the parse tree, as Lark's ``propagate_positions=True`` computes them,
at a fraction of the cost.

Lark wraps every rule's tree builder in ``PropagatePositions``: after each reduction it
gives the new tree the line/column of its first child and the end of its last one
(tokens included, punctuation too), plus the "container" positions of inlined rules
(``?rule``).  In specc's grammar most reductions are such inlined rules passing a single
child through (``expr → sum → product → unary → power → atom``), and Lark recomputes the
child's positions for each — a no-op it pays in full, with an attribute lookup that fails
(and so raises internally) for every token.  It was about 40 % of parsing.

:func:`install` replaces that wrapper, rule by rule, with :class:`_Positions`: the same
computation (same fields, same values: ``tests/test_frontend_fast.py`` compares every
tree's positions with stock Lark's over the example specs and the fuzz corpus), skipping
the pass-through case and reading tokens' positions directly; a rule that can only pass
its child through (``?expr: sum``) gets no wrapper at all.  Where Lark's internals
are not as expected (another Lark version), nothing is replaced: parsing stays correct,
only slower.
"""

from __future__ import annotations

from operator import itemgetter

from lark import Token, Tree
from lark.parse_tree_builder import PropagatePositions

__all__ = ["install"]


def _first(children):
    for c in children:
        if isinstance(c, Tree):
            meta = c.meta
            if not meta.empty:
                return meta
        elif isinstance(c, Token):
            return c
        elif hasattr(c, "__lark_meta__"):
            return c.__lark_meta__()
    return None


class _Positions:
    """Lark's ``PropagatePositions`` (no node filter), computed with less work."""

    __slots__ = ("node_builder",)

    def __init__(self, node_builder):
        self.node_builder = node_builder

    def __call__(self, children):
        res = self.node_builder(children)
        if not isinstance(res, Tree):
            return res
        if len(children) == 1 and children[0] is res:
            # a rule inlined around its only child: its positions are the child's already
            # (Lark sets each to itself)
            return res
        meta = res.meta
        first = _first(children)
        if first is not None:
            if isinstance(first, Token):
                line, column, start = first.line, first.column, first.start_pos
            else:
                line = getattr(first, "container_line", first.line)
                column = getattr(first, "container_column", first.column)
                start = getattr(first, "container_start_pos", first.start_pos)
            if not hasattr(meta, "line"):
                meta.line, meta.column, meta.start_pos = line, column, start
                meta.empty = False
            meta.container_line, meta.container_column, meta.container_start_pos = line, column, start
        last = _first(reversed(children))
        if last is not None:
            if isinstance(last, Token):
                end_line, end_column, end = last.end_line, last.end_column, last.end_pos
            else:
                end_line = getattr(last, "container_end_line", last.end_line)
                end_column = getattr(last, "container_end_column", last.end_column)
                end = getattr(last, "container_end_pos", last.end_pos)
            if not hasattr(meta, "end_line"):
                meta.end_line, meta.end_column, meta.end_pos = end_line, end_column, end
                meta.empty = False
            meta.container_end_line, meta.container_end_column, meta.container_end_pos = end_line, end_column, end
        return res


_ONLY_CHILD = itemgetter(0)


def _passes_through(rule) -> bool:
    """Whether ``rule``'s callback always returns its only child unchanged: an inlined rule
    (``?rule``, no alias) whose expansion is one rule that is kept (not ``_inlined``) —
    ``?expr: sum``.  Lark builds nothing there and its positions are a no-op."""
    exp = rule.expansion
    return (
        len(exp) == 1
        and not exp[0].is_term
        and not exp[0].name.startswith("_")
        and bool(rule.options.expand1)
        and not rule.alias
    )


def install(parser) -> bool:
    """Swap Lark's position wrapper for :class:`_Positions` in ``parser`` (a ``Lark`` built
    with ``propagate_positions=True`` and no node filter).  True when it was swapped."""
    callbacks = getattr(parser, "_callbacks", None)
    try:
        used = parser.parser.parser.parser.callbacks  # ParsingFrontend → LALR_Parser → _Parser
    except AttributeError:
        return False
    if not isinstance(callbacks, dict) or used is not callbacks:
        return False
    wrapped = {rule: cb for rule, cb in callbacks.items() if type(cb) is PropagatePositions}
    if any(cb.node_filter is not None for cb in wrapped.values()):
        return False
    for rule, cb in wrapped.items():
        callbacks[rule] = _ONLY_CHILD if _passes_through(rule) else _Positions(cb.node_builder)
    return True
