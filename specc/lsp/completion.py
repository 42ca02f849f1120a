"""What the language server completes (no protocol here; positions are specc's own,
0-based, see :mod:`specc.lsp.positions`) — only what ``specc check`` accepts where the
cursor is:

* at the start of a statement or a link of a chain: layers, this file's blocks (not the
  one being defined: blocks cannot call themselves), activations, and the keywords of the
  body the cursor is in (a model's ``input``, ``output``, ``repeat``, ``train`` and
  ``verify`` once each; a block's ``input``, ``output``, ``repeat``; a repeat body's
  ``output``, ``repeat``; ``model`` — once a file — and ``block`` outside them);
* inside a call: the options of that layer, block, optimizer, … not given yet (by name, or
  positionally: ``dense(4, `` does not offer ``units=``), never the ones specc sets itself;
* after ``option=`` (and inside ``option=[…]`` for a list): the values that layer accepts
  for it — the IR's choices and family members, each validated against that option of
  that class (:func:`~specc.lsp.analysis.accepted`), so ``padding=`` offers ``causal`` to
  conv1d only;
* in ``train { }`` / ``verify { }``: the settings not set yet, and after a setting its
  values (``optimizer `` the optimizers, ``metrics [`` the metrics);
* after ``input name:`` the dtypes.  Nothing inside a comment or a string.
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass

from specc.ir.graph import TrainConfig, VerifyConfig
from specc.ir.types import DType

from .analysis import accepted, families, fields, signature, written

__all__ = ["completions", "Completion"]

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
# a string (to its closing quote, or to the cursor when still open) or a comment
_LITERAL = re.compile(r'"(?:[^"\\\n]|\\[^\n])*(?:(?P<close>")|\\?)|#[^\n]*')


@dataclass(frozen=True)
class Completion:
    label: str
    kind: str  # "layer", "activation", "option", "value", "keyword", "block", …
    detail: str = ""


def _mask(before: str) -> str | None:
    """``before`` with strings and comments blanked (same length), or None when the
    cursor is inside one."""
    out = []
    last = 0
    for m in _LITERAL.finditer(before):
        if m.end() == len(before) and (m.group(0).startswith("#") or m.group("close") is None):
            return None
        out += [before[last : m.start()], " " * (m.end() - m.start())]
        last = m.end()
    return "".join(out) + before[last:]


@dataclass
class _Body:
    kind: str  # "model", "block", "repeat", "train", "verify" or "" (another brace)
    start: int  # offset after its '{'
    name: str = ""  # a block's name


def _bodies(masked: str) -> list[_Body]:
    """The braces still open before the cursor, outermost first."""
    stack: list[_Body] = []
    for m in re.finditer(r"[{}]", masked):
        if m.group(0) == "}":
            if stack:
                stack.pop()
            continue
        head = masked[max(0, m.start() - 400) : m.start()]
        kind, name = "", ""
        if d := re.search(rf"\b(model|block)\s+({_NAME})\s*(\([^(){{}}]*\))?\s*$", head):
            kind, name = d.group(1), d.group(2)
        elif s := re.search(r"\b(train|verify)\s*$", head):
            kind = s.group(1)
        elif re.search(r"\brepeat\b[^{};\n]*$", head):
            kind = "repeat"
        stack.append(_Body(kind, m.end(), name))
    return stack


def _open_call(masked: str, body_start: int) -> tuple[str, str, str] | None:
    """(callee, text after its opening bracket, the bracket) of the innermost ``(`` or ``[``
    still open before the cursor in the current body; callee '' when none precedes it."""
    depth = 0
    for i in range(len(masked) - 1, body_start - 1, -1):
        ch = masked[i]
        if ch in ")]":
            depth += 1
        elif ch in "([":
            if depth == 0:
                m = re.search(rf"({_NAME})\s*{'=?' if ch == '[' else ''}\s*$", masked[:i])  # a call's name; a list's option
                return (m.group(1) if m else "", masked[i + 1 :], ch)
            depth -= 1
    return None


def _top_level_args(inside: str) -> tuple[list[str], str]:
    """The arguments written so far inside a call (split at commas outside brackets), and
    the one being typed."""
    args, depth, cur = [], 0, []
    for ch in inside:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == "," and depth == 0:
            args.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    return args, "".join(cur)


def _names(fam, kind: str) -> list[Completion]:
    out = []
    for name in fam.names():
        cls = fam.lookup(name)
        if getattr(cls, "expression_only", False):  # the IR's `arithmetic`: written `a + b`, never by name
            continue
        out.append(Completion(name, kind, f"{name}({signature(cls)})"))
    return out


def _callee(name: str):
    """(family name, class) of a vocabulary word called as ``name(``."""
    for fam_name, fam in families().items():
        cls = fam.lookup(name)
        if cls is not None:
            return fam_name, cls
    return None, None


def _values(cls, option: str, in_list: bool, text: str) -> list[Completion]:
    """The values ``cls`` accepts for ``option`` (inside ``[…]`` when ``in_list``)."""
    out = [Completion(v, what.split(":")[0], what) for v, what in accepted(cls, option, in_list)]
    if option == "monitor":
        listed = re.search(r"\bmetrics\s*\[([^\]]*)\]", text)
        names = ["loss", *(re.findall(_NAME, listed.group(1)) if listed else [])]
        out += [Completion(p + v, "value") for p in ("val_", "") for v in dict.fromkeys(names) if v not in ("average", "macro", "micro", "threshold")]
    return out


def _in_call(callee: str, inside: str, blocks: dict[str, list[str]], text: str) -> list[Completion]:
    fam_name, cls = _callee(callee)
    args, typing_now = _top_level_args(inside)
    given = {m.group(1) for a in args if (m := re.match(rf"({_NAME})\s*=", a))}
    n_positional = sum(1 for a in args if a and not re.match(rf"{_NAME}\s*=(?!=)", a))
    value = re.match(rf"\s*({_NAME})\s*=\s*({_NAME})?$", typing_now)
    if value:  # option=value
        return _values(cls, value.group(1), False, text) if cls is not None else []
    if not re.fullmatch(rf"\s*({_NAME})?", typing_now):
        return []  # inside an expression: nothing to offer
    if cls is not None:
        positional = [k for k in getattr(cls, "positional", ()) if written(cls, k)][:n_positional]
        out = [Completion(f"{k}=", "option", f.description or "") for k, f in fields(cls).items() if k not in given and k not in positional and written(cls, k)]
    elif callee in blocks:
        params = blocks[callee]
        out = [Completion(f"{k}=", "option", "block parameter") for k in params[n_positional:] if k not in given]
    else:
        return []
    if fam_name == "layer" or callee in blocks:
        out += [Completion(f"{k}=", "option", d) for k, d in (("name", "the layer's name"), ("trainable", "false: frozen")) if k not in given]
    return out


def _section(kind: str, body: str, line_before: str, text: str) -> list[Completion]:
    cfg = TrainConfig if kind == "train" else VerifyConfig
    key = re.match(rf"\s*({_NAME})\s+(?:\[[^\]]*)?", line_before)
    if key and key.group(1) in cfg.model_fields:  # `key ` typed: its values
        rest = line_before[key.end() :]
        if not re.fullmatch(rf"(?:{_NAME})?", rest) and not re.fullmatch(rf".*[\[,]\s*(?:{_NAME})?", rest):
            return []
        return _values(cfg, key.group(1), "[" in line_before[key.end(1) :], text)
    if not re.fullmatch(rf"\s*({_NAME})?", line_before):
        return []
    set_already = set(re.findall(rf"(?:^|[\n;{{])\s*({_NAME})\s", body))
    return [Completion(k, "setting", f.description or "") for k, f in cfg.model_fields.items() if k != "kind" and k not in set_already]


def completions(text: str, line: int, col: int) -> list[Completion]:
    fams = families()
    lines = text.split("\n")
    if not 0 <= line < len(lines):
        return []
    before = "\n".join(lines[:line] + [lines[line][:col]])
    masked = _mask(before)
    if masked is None:
        return []  # inside a comment or a string
    masked_text = (_mask(text + "\n") or text).rstrip("\n")
    bodies = _bodies(masked)
    body = bodies[-1] if bodies else None
    line_before = masked[masked.rfind("\n") + 1 :]
    # the statement being typed: after the body's '{', a newline or ';'
    stmt = masked[max(body.start if body else 0, masked.rfind("\n") + 1, masked.rfind(";") + 1) :]
    blocks = {m.group(1): re.findall(rf"({_NAME})\s*(?:=[^,)]*)?(?:,|$)", m.group(2)) for m in re.finditer(rf"\bblock\s+({_NAME})\s*\(([^)]*)\)", masked_text)}
    if body is None:  # outside every definition
        if not re.fullmatch(rf"\s*({_NAME})?", stmt):
            return []
        out = [Completion("block", "keyword")]
        model_elsewhere = re.search(rf"(?m)^\s*model\s+{_NAME}", masked_text[: len(masked) - len(stmt)] + masked_text[len(masked) :])
        return out + ([] if model_elsewhere else [Completion("model", "keyword")])
    call = _open_call(masked, body.start)
    if call is not None and call[2] == "[" and call[0]:
        # a list: an option's (`masks=[`), or a setting's (`metrics [`)
        prefix = masked[: len(masked) - len(call[1]) - 1]
        owner = _open_call(prefix, body.start)
        if owner is not None and owner[2] == "(" and owner[0] and re.search(rf"[(,]\s*{re.escape(call[0])}\s*=\s*$", prefix):
            cls = _callee(owner[0])[1]
            if cls is None or not re.fullmatch(rf"(?:.*,)?\s*(?:{_NAME})?", call[1], re.S):
                return []
            return _values(cls, call[0], True, text)
    if body.kind in ("train", "verify") and (call is None or call[2] == "["):
        # the section's settings: before the cursor's line, and after it to the closing brace
        after = masked_text[len(masked) :]
        nl = after.find("\n")
        rest = "" if nl < 0 else after[nl : after.find("}") if after.find("}") > nl else len(after)]
        return _section(body.kind, masked[body.start : len(masked) - len(line_before)] + rest, line_before, text)
    if call is not None:
        return _in_call(call[0], call[1], blocks, text) if call[2] == "(" and call[0] else []
    if body.kind in ("model", "block") and re.match(rf"\s*input\s+{_NAME}\s*:\s*({_NAME})?$", stmt):
        return [Completion(d, "value", "dtype") for d in typing.get_args(DType)]
    # the start of a statement, or a link of a chain
    link = re.search(rf"(?:->|=|^)\s*({_NAME})?$", stmt)
    if link is None:
        return []
    enclosing = {b.name for b in bodies if b.kind == "block"}
    out = _names(fams["layer"], "layer") + _names(fams["activation"], "activation")
    out += [Completion(b, "block", "block of this file") for b in blocks if b not in enclosing]
    if link.group(0).lstrip().startswith(("->", "=")):
        return out + [Completion("repeat", "keyword")]
    own = masked_text[body.start :]  # (this body's sections so far, and after the cursor)
    keywords = {"model": ["input", "output", "repeat", "train", "verify"], "block": ["input", "output", "repeat"], "repeat": ["output", "repeat"]}.get(body.kind, [])
    keywords = [k for k in keywords if k not in ("train", "verify") or not re.search(rf"(?:^|[\n;{{]\s*){k}\s*\{{", own)]
    return out + [Completion(k, "keyword") for k in keywords]
