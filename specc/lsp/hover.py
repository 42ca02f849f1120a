"""What the language server shows on hover (no protocol here; positions are specc's own,
0-based, see :mod:`specc.lsp.positions`).

At a statement of a model that checks, what the model made of it:

* a layer call: its name(s), op, output shape(s), parameters and MACs per example;
* a block call (a user-defined block used as a layer, ``residual(16, stride=2)``, or a
  named instance applied again, ``b -> enc``): the instance, its arguments, output shape(s)
  and the block's totals — every layer inside it, nested blocks included;
* ``repeat``: the repetitions, the output of the last one and the totals of all;
* an input's declaration, an assignment's target (``h = …``), an ``output``'s tensor: its
  dtype and shape;
* a tensor used by name (``x -> …``, each operand of ``a - b``): what its assignment or
  input declaration says;
* the model's name: its parameters, MACs and outputs; a block's name: its uses;
* a train / verify setting's key: what it sets and its default.

Inside a block definition a statement is one per instance of the block: the first is
described, every instance named.  Elsewhere, and in a text that does not check, a
vocabulary word (a layer, activation, initialiser, loss, optimizer, …) shows what it is
and its parameters with their defaults.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from specc.errors import Span
from specc.ir.graph import Model

from .analysis import WORD, families, vocabulary_doc

__all__ = ["hover_text", "word_at"]


@dataclass(frozen=True)
class _Target:
    """A layer (``node``) or a block instance / repetition (``scope``) written at ``span``."""

    span: Span
    node: object = None
    scope: object = None


def word_at(line: str, col: int) -> tuple[str, int, int] | None:
    """(word, start, end) of the word at or just before ``col``."""
    for m in WORD.finditer(line):
        if m.start() <= col <= m.end():
            return m.group(0), m.start(), m.end()
    return None


def _called(line: str, word: tuple[str, int, int]) -> bool:
    """Whether the word is a call (``name(``) or an option (``name=``)."""
    return re.match(r"\s*[(=]", line[word[2] :]) is not None and not re.match(r"\s*==", line[word[2] :])


def _under(span: Span | None, line: int, col: int) -> bool:
    """Whether the cursor is on ``span``'s first line, inside it (its end included: a cursor
    just after a call is still on it)."""
    if span is None or span.line - 1 != line:
        return False
    end = span.end_col - 1 if span.end_line == span.line and span.end_col else None
    return span.col - 1 <= col and (end is None or col <= end)


def _totals(model: Model, cost: dict, paths: list[str]) -> tuple[int, int | None]:
    """Parameters and MACs of every layer under the scopes ``paths``."""
    prefixes = tuple(p + "." for p in paths)
    inside = [cost[n.name] for n in model.nodes if n.name.startswith(prefixes)]
    macs = None if any(c.macs is None for c in inside) else sum(c.macs for c in inside)
    return sum(c.params for c in inside), macs


def _names(items: list[str]) -> str:
    return ", ".join(f"`{n}`" for n in items[:6]) + (f" and {len(items) - 6} more" if len(items) > 6 else "")


def _counts(params: int, macs: int | None, each: str, note: str = "") -> str:
    return f"{params:,} parameters{each}{note}, {'?' if macs is None else f'{macs:,}'} MACs per example{each}"


def _node_text(model: Model, cost: dict, hits: list) -> str:
    from specc.ir.types import fmt_shape

    first = hits[0].node
    shapes = "; ".join(fmt_shape(t.shape, batch=True) for t in first.types)
    c = cost[first.name]
    each = " each" if len(hits) > 1 else ""
    note = " (frozen)" if not first.trainable else ""
    if first.shares is not None:
        note += f" (applies `{first.shares}`'s weights again)"
    return f"{_names([h.node.name for h in hits])}: `{first.op.describe()}`\n\noutput {shapes}\n\n{_counts(c.params, c.macs, each, note)}"


def _scope_text(model: Model, cost: dict, scopes: list) -> str:
    from specc.ir.spec import render_value
    from specc.ir.types import fmt_shape

    types = _types(model)
    paths = [s.path for s in scopes]
    # the repetitions of one repeat: paths base.0 … base.k−1 of one base
    bases = {p.rsplit(".", 1)[0] for p in paths}
    repetitions = len(scopes) > 1 and all(re.search(r"\.\d+$", p) for p in paths) and len(bases) == 1
    first, shown = scopes[0], scopes[-1] if repetitions else scopes[0]
    if first.block is not None:
        args = ", ".join(f"{k}={render_value(v)}" for k, v in first.args.items())
        what = f"block `{first.block}({args})`"
    else:
        what = "repeat body"
    if repetitions:
        params, macs = _totals(model, cost, paths)
        head = f"{_names(paths)}: {len(scopes)} repetitions of {what}"
        counts = _counts(params, macs, "", " in all")
    else:
        params, macs = _totals(model, cost, [first.path])
        head = f"{_names(paths)}: {what}"
        note = f" (applies `{first.shares}`'s weights again)" if first.shares else ""
        counts = _counts(params, macs, " each" if len(scopes) > 1 else "", note)
    shapes = "; ".join(fmt_shape(types[t].shape, batch=True) for t in shown.outputs if t in types)
    return f"{head}\n\noutput {shapes}{' (the last repetition)' if repetitions else ''}\n\n{counts}"


def _model_hover(model: Model, line: int, col: int, word) -> str | None:
    from specc.ir.cost import model_cost
    from specc.ir.types import fmt_shape

    targets = [_Target(n.span, node=n) for n in model.nodes if _under(n.span, line, col)]
    targets += [_Target(s.span, scope=s) for s in model.scopes if _under(s.span, line, col)]
    if not targets and word is not None and word[0] == "repeat":
        # `repeat N { block(…) }`: the repetitions are the block's instances, written after the keyword
        after = [s for s in model.scopes if s.span is not None and re.search(r"\.\d+$", s.path) and (s.span.line - 1, s.span.col - 1) > (line, col)]
        if after:
            start = min((s.span.line, s.span.col) for s in after)
            targets = [_Target(s.span, scope=s) for s in after if (s.span.line, s.span.col) == start]
    if not targets:
        for i in model.inputs:
            if _under(i.span, line, col):
                return f"input `{i.name}`: {i.type.dtype} {fmt_shape(i.type.shape, batch=True)}"
        return None
    # the innermost statement under the cursor: the latest start, then the shortest span
    start = max(t.span.col for t in targets)
    targets = [t for t in targets if t.span.col == start]
    cost = {c.name: c for c in model_cost(model).layers}
    nodes = [t for t in targets if t.node is not None]
    if nodes:
        return _node_text(model, cost, nodes)
    return _scope_text(model, cost, [t.scope for t in targets])


def _types(model: Model) -> dict:
    types = {i.name: i.type for i in model.inputs}
    for n in model.nodes:
        types.update(zip(n.outputs, n.types, strict=True))
    return types


def _shape(t) -> str:
    from specc.ir.types import fmt_shape

    return f"{t.dtype} {fmt_shape(t.shape, batch=True)}"


def _chain_end(model: Model, lines: list[str], line: int) -> tuple[list[str], str] | None:
    """(output tensors, what made them) of the chain a statement at ``line`` writes: the
    link that ends last on the statement's lines (a line starting or ending with ``->``
    continues it), the first instance's inside a block."""
    last = line
    while last + 1 < len(lines) and (lines[last].rstrip().endswith("->") or lines[last + 1].lstrip().startswith("->")):
        last += 1
    targets = [(n.span, n.outputs, n.name) for n in model.nodes if n.span is not None and line <= n.span.line - 1 <= last]
    targets += [(s.span, s.outputs, s.path) for s in model.scopes if s.span is not None and line <= s.span.line - 1 <= last]
    if not targets:
        return None
    end = max(((s.end_line or s.line), (s.end_col or s.col)) for s, _, _ in targets)
    ends = [t for t in targets if ((t[0].end_line or t[0].line), (t[0].end_col or t[0].col)) == end]
    span, outputs, name = min(ends, key=lambda t: (t[0].line, t[0].col))
    return list(outputs), name


def _statement_hover(text: str, model: Model, line: int, col: int, word) -> str | None:
    """At a word of a statement that is no layer: a definition's name, an ``output``'s or
    an assignment's tensors, a train / verify setting."""
    from specc.ir.cost import model_cost

    from .completion import _bodies, _mask, _open_call

    lines = text.split("\n")
    src, name = lines[line], word[0]
    masked = _mask("\n".join(lines[:line] + [src[: word[1]]]))
    if masked is None:
        return None  # a comment or a string
    bodies = _bodies(masked)
    body = bodies[-1] if bodies else None
    if body is not None:
        call = _open_call(masked, body.start)
        if call is not None and (call[0] or call[2] == "["):
            return None  # inside a call or a list (`kernel=3` on a line of its own is an option)
    types = _types(model)
    d = re.match(rf"\s*(model|block)\s+({WORD.pattern})", src)
    if d and d.start(2) == word[1]:
        total = model_cost(model)
        cost = {c.name: c for c in total.layers}
        if d.group(1) == "model":
            trainable, frozen = model.count_params()
            outs = "; ".join(_shape(types[o]) for o in model.outputs)
            macs = f"{total.macs:,}" + (f" (+ {total.unknown_macs} layers of unknown size)" if total.unknown_macs else "")
            return f"model `{name}`: {trainable + frozen:,} parameters ({frozen:,} frozen), {macs} MACs per example\n\noutput {outs}"
        uses = [s for s in model.scopes if s.block == name]
        if not uses:
            return f"block `{name}`: not used by the model"
        params, macs = _totals(model, cost, [uses[0].path])
        return f"block `{name}`: used {len(uses)} time{'s' if len(uses) != 1 else ''} ({_names([s.path for s in uses])})\n\n{_counts(params, macs, ' (the first)' if len(uses) > 1 else '')}"
    if body is not None and body.kind in ("train", "verify") and re.match(rf"\s*{name}\b", src) and src.index(name) == word[1]:
        from specc.ir.graph import TrainConfig, VerifyConfig

        f = (TrainConfig if body.kind == "train" else VerifyConfig).model_fields.get(name)
        if f is not None and name != "kind":
            from specc.ir.spec import render_value

            d = None if f.is_required() else f.get_default(call_default_factory=True)
            default = "" if d is None else f" (default: `{render_value(d.describe() if hasattr(d, 'describe') else d)}`)"
            return f"`{name}` ({body.kind} setting): {f.description or ''}{default}"
    o = re.match(r"\s*output\s+", src)
    if o and word[1] >= o.end() and body is not None and body.kind in ("model", "block"):
        i = len(re.findall(",", src[o.end() : word[1]]))
        outs = [model.outputs] if body.kind == "model" else [s.outputs for s in model.scopes if s.block == body.name]
        if outs and i < len(outs[0]) and outs[0][i] in types:
            return f"output `{name}`: {_shape(types[outs[0][i]])}" + (f" (each of {len(outs)} instances)" if len(outs) > 1 else "")
    a = re.match(rf"\s*((?:{WORD.pattern}\s*,\s*)*{WORD.pattern})\s*=(?!=)", src)
    if a and word[2] <= a.end(1):
        found = _chain_end(model, lines, line)
        if found is not None:
            outputs, what = found
            i = len(re.findall(",", src[: word[1]]))
            if i < len(outputs) and outputs[i] in types:
                return f"`{name}`: {_shape(types[outputs[i]])}, the output of `{what}`"
        return None
    # a tensor used by name: where the definition (model or block) it is in names it
    owner = next((b for b in reversed(bodies) if b.kind in ("model", "block")), None)
    if owner is None or not re.fullmatch(r"[A-Za-z_]\w*", name):
        return None
    first = masked[: owner.start].count("\n")
    for k in range(line - 1, first - 1, -1):
        defined = re.match(rf"\s*((?:{WORD.pattern}\s*,\s*)*{WORD.pattern})\s*=(?!=)", lines[k])
        if defined and name in re.split(r"\s*,\s*", defined.group(1)):
            at = re.search(rf"\b{name}\b", lines[k]).start()
            return _statement_hover(text, model, k, at, (name, at, at + len(name)))
        if re.match(rf"\s*input\s+{name}\b", lines[k]):
            if owner.kind == "model":
                return next((f"input `{name}`: {_shape(i.type)}" for i in model.inputs if i.name == name), None)
            i = sum(1 for j in range(first, k) if re.match(r"\s*input\b", lines[j]))
            uses = [sc for sc in model.scopes if sc.block == owner.name and i < len(sc.inputs) and sc.inputs[i] in types]
            if uses:
                return f"input `{name}` of block `{owner.name}`: {_shape(types[uses[0].inputs[i]])}" + (" (the first use)" if len(uses) > 1 else "")
            return None
    return None


def hover_text(text: str, line: int, col: int, model: Model | None) -> str | None:
    lines = text.split("\n")
    if not 0 <= line < len(lines):
        return None
    word = word_at(lines[line], col)
    if model is not None:
        found = None
        if word is not None and not _called(lines[line], word) and not any(f.lookup(word[0]) for f in families().values()):
            # a tensor's name (`ea - eb`: each operand, not the whole expression)
            found = _statement_hover(text, model, line, col, word)
        found = found or _model_hover(model, line, col, word)
        if found is None and word is not None:
            found = _statement_hover(text, model, line, col, word)
        if found is not None:
            return found
    if word is None:
        return None
    name = word[0]
    for fam_name, fam in families().items():
        cls = fam.lookup(name)
        if cls is not None:
            return vocabulary_doc(fam_name, name, cls)
    return None
