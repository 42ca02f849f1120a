"""What the language server says about a ``.spec`` text, with no protocol in it (so it is
tested directly as well as over the wire):

* :func:`analyse` — ``specc check``'s diagnostics (every error, located) or the model;
* :func:`hover_text` — at a layer: its name(s), op, output shape(s), parameters and MACs;
  at a vocabulary word (a layer, activation, initialiser, loss, optimizer, …): what it is
  and its parameters with their defaults;
* :func:`completions` — layer, block and activation names at the start of a statement;
  a layer's options inside its parentheses; the family's names after ``activation=``,
  ``init=``, ``loss``, ``optimizer``, ``metrics [`` …; the values of a choice option
  (``padding=same``).

Positions are specc's own, 0-based: lines end at ``\n``, columns count code points (the
server converts the client's, :mod:`specc.lsp.positions`).
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass

from specc.errors import Diagnostic, SpecError
from specc.ir.graph import Model, TrainConfig, VerifyConfig
from specc.ir.types import DType

__all__ = ["Analysis", "analyse", "hover_text", "completions", "Completion", "KEYWORDS"]

KEYWORDS = ("input", "output", "block", "model", "repeat", "train", "verify")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class Analysis:
    model: Model | None
    diagnostics: list[Diagnostic]


def analyse(text: str, path: str) -> Analysis:
    import specc

    try:
        return Analysis(specc.loads(text, path), [])
    except SpecError as e:
        return Analysis(None, list(e.diagnostics))
    except RecursionError:  # pragma: no cover - the front end bounds nesting itself
        return Analysis(None, [Diagnostic(None, "the spec is nested too deeply to analyse")])


# --------------------------------------------------------------------------- vocabulary


def _families():
    from specc.ir.activations import ACTIVATIONS
    from specc.ir.callbacks import CALLBACKS
    from specc.ir.initializers import INITIALIZERS
    from specc.ir.losses import LOSSES
    from specc.ir.metrics import METRICS
    from specc.ir.ops import LAYERS
    from specc.ir.optimizers import OPTIMIZERS
    from specc.ir.regularizers import REGULARIZERS
    from specc.ir.schedules import SCHEDULES

    return {
        "layer": LAYERS,
        "activation": ACTIVATIONS,
        "initializer": INITIALIZERS,
        "regularizer": REGULARIZERS,
        "loss": LOSSES,
        "optimizer": OPTIMIZERS,
        "schedule": SCHEDULES,
        "metric": METRICS,
        "callback": CALLBACKS,
    }


def _fields(cls) -> dict:
    """Parameters, the positional ones first (as a call writes them)."""
    fields = {k: f for k, f in cls.model_fields.items() if k != "kind"}
    first = [k for k in getattr(cls, "positional", ()) if k in fields]
    return {**{k: fields[k] for k in first}, **fields}


def _signature(cls) -> str:
    from specc.ir.spec import render_value

    parts = []
    for k, f in _fields(cls).items():
        if f.is_required():
            parts.append(k)
        else:
            d = f.default
            parts.append(k if d is None else f"{k}={render_value(d.describe() if hasattr(d, 'describe') else d)}")
    return ", ".join(parts)


def _doc(family: str, name: str, cls) -> str:
    kind = typing.get_args(cls.model_fields["kind"].annotation)[0]
    lines = [f"**{kind}** ({family})" + (f" — also `{name}`" if name != kind else ""), ""]
    if cls.__doc__:
        lines += [cls.__doc__.strip().splitlines()[0], ""]
    lines.append(f"`{kind}({_signature(cls)})`")
    for k, f in _fields(cls).items():
        lines.append(f"- `{k}`: {_type_words(cls, k)}" + (f" — {f.description}" if f.description else ""))
    return "\n".join(lines)


# --------------------------------------------------------------------------- hover


def _word_at(line: str, col: int) -> tuple[str, int, int] | None:
    for m in _WORD.finditer(line):
        if m.start() <= col <= m.end():
            return m.group(0), m.start(), m.end()
    return None


def _node_hover(model: Model, line: int, col: int, word: tuple[str, int, int] | None) -> str | None:
    from specc.ir.cost import model_cost
    from specc.ir.types import fmt_shape

    hits = []
    for n in model.nodes:
        s = n.span
        if s is None or s.line - 1 != line:
            continue
        end = s.end_col - 1 if s.end_line == s.line and s.end_col else None
        if s.col - 1 <= col and (end is None or col <= end):
            hits.append(n)
    if not hits:
        return None
    # the innermost call under the cursor: the latest start, then the shortest span
    start = max(h.span.col for h in hits)
    hits = [h for h in hits if h.span.col == start]
    cost = {c.name: c for c in model_cost(model).layers}
    first = hits[0]
    names = ", ".join(f"`{h.name}`" for h in hits[:6]) + (f" and {len(hits) - 6} more" if len(hits) > 6 else "")
    shapes = "; ".join(fmt_shape(t.shape, batch=True) for t in first.types)
    c = cost[first.name]
    macs = "?" if c.macs is None else f"{c.macs:,}"
    each = " each" if len(hits) > 1 else ""
    frozen = "" if first.trainable else " (frozen)"
    return f"{names}: `{first.op.describe()}`\n\noutput {shapes}\n\n{c.params:,} parameters{each}{frozen}, {macs} MACs per example{each}"


def hover_text(text: str, line: int, col: int, model: Model | None) -> str | None:
    lines = text.split("\n")
    if not 0 <= line < len(lines):
        return None
    src = lines[line]
    word = _word_at(src, col)
    if model is not None:
        found = _node_hover(model, line, col, word)
        if found is not None:
            return found
    if word is None:
        return None
    name = word[0]
    for fam_name, fam in _families().items():
        cls = fam.lookup(name)
        if cls is not None:
            return _doc(fam_name, name, cls)
    return None


# --------------------------------------------------------------------------- completion


@dataclass(frozen=True)
class Completion:
    label: str
    kind: str  # "layer", "activation", "option", "value", "keyword", "block", …
    detail: str = ""


def _option_family(cls, option: str):
    """(family, literal choices) of one option of ``cls``."""
    from specc.ir.spec import _field_families

    f = cls.model_fields.get(option)
    if f is None:
        return None, ()
    fam, _ = _field_families(cls, option)
    literals: tuple = ()
    stack = [f.annotation]
    while stack:
        a = stack.pop()
        if a is bool:
            literals += ("true", "false")
        elif typing.get_origin(a) is typing.Literal:
            literals += tuple(str(x) for x in typing.get_args(a))
        else:
            stack.extend(typing.get_args(a))
    return fam, tuple(dict.fromkeys(literals))


def _type_words(cls, option: str) -> str:
    from specc.ir.spec import describe_type

    fam, seq = _option_family(cls, option)[0], False
    if fam is not None:
        return f"a list of {fam.noun}s" if seq else f"{'an' if fam.noun[0] in 'aeiou' else 'a'} {fam.noun}"
    return describe_type(cls.model_fields[option].annotation)


def _open_call(before: str) -> tuple[str, str] | None:
    """(callee, text after its '(') of the innermost call still open before the cursor."""
    depth, i = 0, len(before) - 1
    while i >= 0:
        ch = before[i]
        if ch in ")]":
            depth += 1
        elif ch in "([":
            if depth == 0:
                if ch == "(":
                    m = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*$", before[:i])
                    return (m.group(1) if m else "", before[i + 1 :])
                return None
            depth -= 1
        i -= 1
    return None


def _section(text_before: str) -> str | None:
    """'train' or 'verify' when the cursor is inside that section."""
    m = None
    for m in re.finditer(r"\b(train|verify)\s*\{", text_before):
        pass
    if m is None:
        return None
    rest = text_before[m.end() :]
    return m.group(1) if rest.count("{") >= rest.count("}") else None


def _names(fam, kind: str) -> list[Completion]:
    out = []
    for name in fam.names():
        cls = fam.lookup(name)
        if getattr(cls, "expression_only", False):  # the IR's `arithmetic`: written `a + b`, never by name
            continue
        out.append(Completion(name, kind, f"{name}({_signature(cls)})"))
    return out


def completions(text: str, line: int, col: int) -> list[Completion]:
    fams = _families()
    lines = text.split("\n")
    if not 0 <= line < len(lines):
        return []
    before_line = lines[line][:col]
    before = "\n".join(lines[:line] + [before_line])
    blocks = re.findall(r"\bblock\s+([A-Za-z_][A-Za-z0-9_]*)", text)
    section = _section(before)
    # input name: dtype[…]
    if section is None and re.match(r"\s*input\s+[A-Za-z_][A-Za-z0-9_]*\s*:\s*[A-Za-z0-9_]*$", before_line):
        return [Completion(d, "value", "dtype") for d in typing.get_args(DType)]
    # option=value: the option's family or choices
    m = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*([A-Za-z_0-9]*)$", before_line)
    call = _open_call(before_line)
    if m:
        option = m.group(1)
        owner = fams["layer"].lookup(call[0]) if call else None
        for fam_name in ("callback", "optimizer", "schedule", "loss", "metric", "initializer", "activation", "regularizer"):
            owner = owner or (fams[fam_name].lookup(call[0]) if call else None)
        if owner is not None:
            fam, literals = _option_family(owner, option)
            out = [Completion(v, "value") for v in literals]
            if fam is not None:
                out += _names(fam, fam.name)
            if option == "monitor":
                listed = re.search(r"\bmetrics\s*\[([^\]]*)\]", text)
                names = ["loss", *(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", listed.group(1)) if listed else [])]
                out += [Completion(p + v, "value") for p in ("val_", "") for v in dict.fromkeys(names) if v not in ("average", "macro", "micro", "threshold")]
            return out
        if option in ("activation",):
            return _names(fams["activation"], "activation")
        if option.endswith("init"):
            return _names(fams["initializer"], "initializer")
        if option.endswith("reg"):
            return _names(fams["regularizer"], "regularizer")
        return []
    # inside a call's parentheses: its options
    if call is not None and call[0]:
        cls = None
        for fam in fams.values():
            cls = cls or fam.lookup(call[0])
        if cls is not None:
            given = set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*=", call[1]))
            out = [Completion(f"{k}=", "option", f.description or "") for k, f in _fields(cls).items() if k not in given]
            if fams["layer"].lookup(call[0]) is not None:
                out += [Completion(f"{k}=", "option", d) for k, d in (("name", "the layer's name"), ("trainable", "false: frozen")) if k not in given]
            return out
        return []
    # train { key … }: the setting's family, or the settings
    if section is not None:
        cfg = TrainConfig if section == "train" else VerifyConfig
        key = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s+", before_line)
        if key and key.group(1) in cfg.model_fields:  # `key ` typed: its value
            fam_for = {"loss": "loss", "optimizer": "optimizer", "schedule": "schedule", "metrics": "metric", "callbacks": "callback"}
            fam = fam_for.get(key.group(1))
            return _names(fams[fam], fam) if fam else []
        return [Completion(k, "setting", f.description or "") for k, f in cfg.model_fields.items() if k != "kind"]
    # the start of a statement, or a link of a chain: layers, blocks, activations, keywords
    out = _names(fams["layer"], "layer") + _names(fams["activation"], "activation")
    out += [Completion(b, "block", "block of this file") for b in dict.fromkeys(blocks)]
    out += [Completion(k, "keyword") for k in KEYWORDS]
    return out
