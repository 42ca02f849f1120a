"""What the language server says about a ``.spec`` text, with no protocol in it (so it is
tested directly as well as over the wire): :func:`analyse` gives ``specc check``'s
diagnostics (every error, located) or the model; the vocabulary helpers here describe the
IR's words (:func:`vocabulary_doc`) and their options (:func:`option_family`) for
:mod:`specc.lsp.hover` and :mod:`specc.lsp.completion`.

Positions there are specc's own, 0-based: lines end at ``\n``, columns count code points
(the server converts the client's, :mod:`specc.lsp.positions`).
"""

from __future__ import annotations

import functools
import re
import typing
from dataclasses import dataclass

from specc.errors import Diagnostic, SpecError
from specc.ir.graph import Model

__all__ = ["Analysis", "analyse", "families", "fields", "signature", "vocabulary_doc", "option_family", "accepted", "written", "KEYWORDS", "WORD"]

KEYWORDS = ("input", "output", "block", "model", "repeat", "train", "verify")
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


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


def families():
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


def fields(cls) -> dict:
    """Parameters, the positional ones first (as a call writes them)."""
    fields = {k: f for k, f in cls.model_fields.items() if k != "kind"}
    first = [k for k in getattr(cls, "positional", ()) if k in fields]
    return {**{k: fields[k] for k in first}, **fields}


def signature(cls) -> str:
    from specc.ir.spec import render_value

    parts = []
    for k, f in fields(cls).items():
        if f.is_required():
            parts.append(k)
        else:
            d = f.default
            parts.append(k if d is None else f"{k}={render_value(d.describe() if hasattr(d, 'describe') else d)}")
    return ", ".join(parts)


def vocabulary_doc(family: str, name: str, cls) -> str:
    kind = typing.get_args(cls.model_fields["kind"].annotation)[0]
    lines = [f"**{kind}** ({family})" + (f" — also `{name}`" if name != kind else ""), ""]
    if cls.__doc__:
        lines += [cls.__doc__.strip().splitlines()[0], ""]
    lines.append(f"`{kind}({signature(cls)})`")
    for k, f in fields(cls).items():
        lines.append(f"- `{k}`: {_type_words(cls, k)}" + (f" — {f.description}" if f.description else ""))
    return "\n".join(lines)


# --------------------------------------------------------------------------- options


def option_family(cls, option: str):
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


def written(cls, option: str) -> bool:
    """Whether a spec may write ``option`` (not one specc sets itself)."""
    from specc.ir.spec import SET_BY_SPECC

    f = cls.model_fields.get(option)
    return f is not None and not (f.description or "").endswith(SET_BY_SPECC)


def _is_sequence(cls, option: str) -> bool:
    """Whether ``option`` takes a list (``metrics [a, b]``, ``masks=[query]``)."""
    from specc.ir.spec import _field_families, _flatten_union

    if _field_families(cls, option)[1]:
        return True
    for a in _flatten_union(cls.model_fields[option].annotation):
        args = typing.get_args(a)
        if typing.get_origin(a) in (tuple, list) and args[-1:] == (Ellipsis,) and typing.get_origin(args[0]) is typing.Literal:
            return True  # (a tuple of numbers, kernel=[3, 3] or explicit padding, is one value)
    return False


@functools.lru_cache(maxsize=None)
def accepted(cls, option: str, in_list: bool = False) -> tuple[tuple[str, str], ...]:
    """(value, what) of every word ``cls`` accepts for ``option`` — written bare, or as an
    item of a list when ``in_list``: the IR's choices (``Literal`` values, ``true`` /
    ``false``) and the members of the option's family, each validated against this very
    option of this class (the validation ``specc check`` runs), so a class that refuses one
    (``padding=causal`` on a 2-D layer, ``bidirectional(dense)``) is never offered it."""
    from pydantic import ValidationError

    from specc.ir.spec import ArgValue, Symbol, _field_families

    if not written(cls, option):
        return ()
    seq = _is_sequence(cls, option)
    if in_list and not seq:
        return ()  # a list value of its own (kernel=[3, 3]): no words in it
    fam, literals = option_family(cls, option)
    candidates: list[tuple[str, object, str]] = [(v, {"true": True, "false": False}.get(v, v), "value") for v in literals]
    if fam is not None:
        for name in fam.names():
            member = fam.lookup(name)
            if getattr(member, "expression_only", False):
                continue
            what = fam.name
            try:
                value = fam.make(ArgValue(Symbol(name), None))
            except SpecError:  # it needs arguments (leaky_relu(0.2) is fine bare; lstm needs units)
                value, what = member.model_construct(), f"{fam.name}: needs arguments, {name}({signature(member)})"
            candidates.append((name, value, what))
    else:  # a union of classes of their own (bidirectional's layer: simple_rnn, lstm, gru)
        from specc.ir.spec import Spec, _flatten_union

        for a in _flatten_union(cls.model_fields[option].annotation):
            if isinstance(a, type) and issubclass(a, Spec):
                candidates.append((a.model_fields["kind"].default, a.model_construct(), "layer"))
    family_seq = _field_families(cls, option)[1]
    out = []
    for label, value, what in candidates:
        if seq and (in_list or family_seq):
            value = (value,)  # a family's list also takes one bare item (metrics accuracy)
        elif seq:
            continue  # a list of choices takes a list: offered inside its brackets
        try:
            cls.model_validate({option: value}, strict=True)
        except ValidationError as e:
            if any(err["loc"][:1] == (option,) for err in e.errors()):
                continue
        except SpecError:
            continue  # (a validator building a nested item refused it)
        except Exception:  # noqa: BLE001 - a validator reading a field an unbuilt member lacks: cannot tell, keep it
            pass
        out.append((label, what))
    return tuple(out)


def _type_words(cls, option: str) -> str:
    from specc.ir.spec import _field_families, describe_type

    fam, seq = _field_families(cls, option)
    if fam is not None:
        return f"a list of {fam.noun}s" if seq else f"{'an' if fam.noun[0] in 'aeiou' else 'a'} {fam.noun}"
    return describe_type(cls.model_fields[option].annotation)
