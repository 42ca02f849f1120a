"""What the language server completes (no protocol here; positions are specc's own,
0-based, see :mod:`specc.lsp.positions`): layer, block and activation names at the start
of a statement; a layer's options inside its parentheses; the family's names after
``activation=``, ``init=``, ``loss``, ``optimizer``, ``metrics [`` …; the values of a
choice option (``padding=same``)."""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass

from specc.ir.graph import TrainConfig, VerifyConfig
from specc.ir.types import DType

from .analysis import KEYWORDS, families, fields, option_family, signature

__all__ = ["completions", "Completion"]


@dataclass(frozen=True)
class Completion:
    label: str
    kind: str  # "layer", "activation", "option", "value", "keyword", "block", …
    detail: str = ""


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
        out.append(Completion(name, kind, f"{name}({signature(cls)})"))
    return out


def completions(text: str, line: int, col: int) -> list[Completion]:
    fams = families()
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
            fam, literals = option_family(owner, option)
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
            out = [Completion(f"{k}=", "option", f.description or "") for k, f in fields(cls).items() if k not in given]
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
