"""The model graph as a picture (``specc graph``), from the IR alone: Graphviz DOT or
Mermaid text, and SVG/PNG when Graphviz's ``dot`` program is installed.

Each input is an ellipse with its dtype and shape; each layer a box with its name, its op
(as ``specc check`` describes it), its output shape(s) and parameter count; edges carry
tensors from producer to consumer (a layer's second output is labelled ``:1``).  Layers of
one block instance or repetition (``encoder.0.…``) are drawn inside one frame, nested as
their names are.  Every label is escaped: names and descriptions are data, never syntax.
"""

from __future__ import annotations

import re
import shutil
import subprocess

from specc.ir.graph import Model
from specc.ir.types import fmt_shape

__all__ = ["to_dot", "to_mermaid", "render", "FORMATS", "RenderError", "dot_program"]

FORMATS = ("dot", "mermaid", "svg", "png")
MAX_LABEL = 160


class RenderError(Exception):
    """A picture could not be drawn (no Graphviz, or Graphviz failed)."""


def _clip(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL // 2 - 1] + "…" + text[-(MAX_LABEL // 2 - 1) :]


def _lines(model: Model):
    """(id, kind, label lines, scope path) for every input and node, then the edges."""
    ids: dict[str, str] = {}
    items = []
    for k, i in enumerate(model.inputs):
        ids[i.name] = f"in{k}"
        items.append((f"in{k}", "input", [_clip(i.name), f"{i.type.dtype}{fmt_shape(i.type.shape, batch=True)}"], ()))
    for k, n in enumerate(model.nodes):
        nid = f"n{k}"
        for t in n.outputs:
            ids[t] = nid
        params = sum(w.size for w in model.node_weights(n))
        shapes = " ".join(fmt_shape(t.shape, batch=True) for t in n.types)
        label = [_clip(n.name.rsplit(".", 1)[-1]), _clip(n.op.describe()), _clip(shapes)]  # the frame names the path
        if params:
            label.append(f"{params:,} params" + ("" if n.trainable else ", frozen"))
        items.append((nid, "layer", label, tuple(n.name.split(".")[:-1])))
    edges = []
    for k, n in enumerate(model.nodes):
        for t in n.inputs:
            tail = t.rsplit(":", 1)[1] if ":" in t and model.producer(t) is not None and t != model.producer(t).name else None
            edges.append((ids[t], f"n{k}", f":{tail}" if tail else None))
    return items, edges


def _dot_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(model: Model) -> str:
    items, edges = _lines(model)
    out = [
        f"digraph {_dot_str(model.name)} {{",
        "  rankdir=TB;",
        '  node [fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    tree: dict = {}
    for item in items:
        node = tree
        for part in item[3]:
            node = node.setdefault(part, {})
        node.setdefault(None, []).append(item)
    counter = [0]

    def emit(node: dict, path: tuple[str, ...], indent: str) -> None:
        for nid, kind, label, _ in node.get(None, []):
            shape = 'shape=ellipse, style=filled, fillcolor="#e8f0fe"' if kind == "input" else 'shape=box, style="rounded,filled", fillcolor="#f5f5f5"'
            out.append(f"{indent}{nid} [label={_dot_str(chr(10).join(label))}, {shape}];")
        for part, child in node.items():
            if part is None:
                continue
            counter[0] += 1
            out.append(f"{indent}subgraph cluster_{counter[0]} {{")
            out.append(f"{indent}  label={_dot_str('.'.join((*path, part)))}; style=dashed; color=gray50;")
            emit(child, (*path, part), indent + "  ")
            out.append(f"{indent}}}")

    emit(tree, (), "  ")
    for a, b, label in edges:
        out.append(f"  {a} -> {b}" + (f" [label={_dot_str(label)}]" if label else "") + ";")
    outs = [f"out{k}" for k in range(len(model.outputs))]
    for k, o in enumerate(model.outputs):
        out.append(f'  {outs[k]} [label={_dot_str("output " + _clip(o))}, shape=plaintext];')
        out.append(f"  {dict(_ids(model))[o]} -> {outs[k]};")
    out.append("}")
    return "\n".join(out) + "\n"


def _ids(model: Model):
    for k, i in enumerate(model.inputs):
        yield i.name, f"in{k}"
    for k, n in enumerate(model.nodes):
        for t in n.outputs:
            yield t, f"n{k}"


_MERMAID_CODES = {"#": "#35;", "&": "#amp;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "[": "#91;", "]": "#93;", "\n": "<br/>", "\r": ""}
_MERMAID_SPECIAL = re.compile("[" + re.escape("".join(_MERMAID_CODES)) + "]")


def _mermaid_str(s: str) -> str:
    # Mermaid labels: quoted, with entity codes for the characters its syntax uses (in one
    # pass: '#' starts an entity code itself), a line break as <br/>
    return _MERMAID_SPECIAL.sub(lambda m: _MERMAID_CODES[m.group()], s)


def to_mermaid(model: Model) -> str:
    items, edges = _lines(model)
    out = ["flowchart TB"]
    for nid, kind, label, _ in items:
        text = "<br/>".join(_mermaid_str(x) for x in label)
        out.append(f'  {nid}(["{text}"])' if kind == "input" else f'  {nid}["{text}"]')
    for a, b, label in edges:
        out.append(f"  {a} -->|{_mermaid_str(label)}| {b}" if label else f"  {a} --> {b}")
    ids = dict(_ids(model))
    for k, o in enumerate(model.outputs):
        out.append(f'  out{k}[/"output {_mermaid_str(_clip(o))}"/]')
        out.append(f"  {ids[o]} --> out{k}")
    return "\n".join(out) + "\n"


def dot_program() -> str | None:
    return shutil.which("dot")


def render(model: Model, fmt: str) -> bytes:
    """The graph in ``fmt`` (one of FORMATS) as bytes."""
    if fmt == "dot":
        return to_dot(model).encode()
    if fmt == "mermaid":
        return to_mermaid(model).encode()
    dot = dot_program()
    if dot is None:
        raise RenderError(f"drawing {fmt.upper()} needs Graphviz's dot program, which is not installed")
    try:
        done = subprocess.run([dot, f"-T{fmt}"], input=to_dot(model).encode(), capture_output=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RenderError(f"Graphviz's dot did not run: {e}") from None
    if done.returncode != 0:
        raise RenderError(f"Graphviz's dot failed: {done.stderr.decode(errors='replace').strip()[:500]}")
    return done.stdout
