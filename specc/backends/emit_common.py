"""Helpers shared by the source emitters of both backends.

Generated modules import only their framework: the specc library code a model needs
(classes and functions from ``specc/backends/<framework>/lib/``) is copied in, with what it
uses, found by reading the library's source with :mod:`ast` — nothing is executed.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import itertools
import keyword
import pkgutil
import re
from dataclasses import dataclass, field
from typing import Any

from specc.backends.common import Construct

__all__ = [
    "Library",
    "literal",
    "class_name",
    "safe_ident",
    "PYTHON_NAMES",
    "bound_names",
    "doc_text",
    "Var",
    "ScopeNode",
    "scope_tree",
    "steps_of",
    "local_names",
]

#: names generated code never binds: keywords (soft ones too), builtins and the module
#: attributes Python sets itself
PYTHON_NAMES = (
    frozenset(keyword.kwlist)
    | frozenset(keyword.softkwlist)
    | frozenset(dir(builtins))
    | {"__name__", "__doc__", "__file__", "__spec__", "__loader__", "__package__", "__builtins__", "__cached__", "__annotations__", "annotations"}
)


class Var(str):
    """A name the generated source refers to (rendered bare, e.g. the ``dtype`` argument)."""


@dataclass
class _Def:
    name: str
    module: str
    order: tuple[int, int]
    source: str
    refs: set[str]


class Library:
    """The top-level definitions of a self-contained library package (read once per
    package: :meth:`of`)."""

    _cache: dict[str, Library] = {}

    @classmethod
    def of(cls, package: str) -> Library:
        if package not in cls._cache:
            cls._cache[package] = cls(package)
        return cls._cache[package]

    def __init__(self, package: str):
        pkg = importlib.import_module(package)
        self.defs: dict[str, _Def] = {}
        self.imports: dict[str, list[str]] = {}
        for idx, info in enumerate(sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name)):
            modname = f"{package}.{info.name}"
            source = inspect.getsource(importlib.import_module(modname))
            tree = ast.parse(source)
            lines = source.splitlines()
            imports = []
            for node in tree.body:
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    if isinstance(node, ast.ImportFrom) and (node.level or node.module == "__future__"):
                        continue
                    imports.append(ast.get_source_segment(source, node))
                    continue
                names = _defined_names(node)
                if not names:
                    continue
                start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
                text = "\n".join(lines[start - 1 : node.end_lineno])
                refs = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | {
                    n.value.id for n in ast.walk(node) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
                }
                for name in names:
                    self.defs[name] = _Def(name, modname, (idx, start), text, refs)
            self.imports[modname] = imports

    @property
    def bound(self) -> set[str]:
        """Every module-level name the library's code binds (definitions and imports)."""
        out = set(self.defs)
        for lines in self.imports.values():
            for line in lines:
                out |= bound_names(line)
        return out

    def closure(self, names: set[str]) -> list[_Def]:
        """The definitions ``names`` need (themselves included), in source order."""
        todo, seen = list(names), set()
        while todo:
            n = todo.pop()
            if n in seen or n not in self.defs:
                continue
            seen.add(n)
            todo.extend(r for r in self.defs[n].refs if r in self.defs and r not in seen)
        out = {self.defs[n].source: self.defs[n] for n in seen}  # one entry per statement
        return sorted(out.values(), key=lambda d: d.order)

    def render(self, names: set[str]) -> tuple[list[str], str]:
        """(import lines, definitions source) for ``names``."""
        defs = self.closure(names)
        imports: list[str] = []
        for mod in dict.fromkeys(d.module for d in defs):
            for line in self.imports[mod]:
                if line not in imports:
                    imports.append(line)
        return imports, "\n\n\n".join(d.source for d in defs)


def bound_names(source: str) -> set[str]:
    """The names the top-level statements of ``source`` bind (imports, definitions, assignments)."""
    out: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out |= {(a.asname or a.name).split(".")[0] for a in node.names}
        else:
            out |= set(_defined_names(node))
    return out


def doc_text(text: str) -> str:
    """Outside text (a file path, a name) made safe inside a docstring or a comment: one
    line, backslashes, quotes and control characters escaped, non-ASCII kept readable."""
    return repr(str(text))[1:-1].replace('"', '\\"')


def _defined_names(node: ast.stmt) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    return []


def literal(v: Any, render_construct) -> str:
    """Python source for a literal argument value (numbers, strings, tuples, Constructs)."""
    if isinstance(v, Construct):
        return render_construct(v)
    if isinstance(v, Var):
        return str(v)
    if isinstance(v, bool) or v is None:
        return repr(v)
    if isinstance(v, int):
        return repr(int(v))
    if isinstance(v, float):
        return repr(float(v))
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, tuple):
        inner = ", ".join(literal(i, render_construct) for i in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    if isinstance(v, list):
        return "[" + ", ".join(literal(i, render_construct) for i in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{literal(k, render_construct)}: {literal(val, render_construct)}" for k, val in v.items()) + "}"
    raise TypeError(f"cannot render {type(v).__name__} as source")  # pragma: no cover


def class_name(name: str) -> str:
    """``digits_cnn`` → ``DigitsCnn`` (a valid identifier)."""
    out = "".join(p[:1].upper() + p[1:] for p in re.split(r"[^A-Za-z0-9]+", name) if p)
    if not out or not out[0].isalpha():
        out = "Model" + out
    return out


def safe_ident(name: str, taken: set[str] | frozenset[str] = frozenset(), reserved: set[str] | frozenset[str] = frozenset()) -> str:
    """A valid identifier for ``name``, free in ``taken`` and ``reserved`` (deterministic
    and readable): a name the generated code or Python reserves gets a ``_`` (a spec's
    ``print`` becomes ``print_``); a name already taken in the scope gets a number
    (``dense``, ``dense_1``, …)."""
    base = name if name.isidentifier() and not keyword.iskeyword(name) else "x"
    while base.startswith("__"):  # class bodies mangle __x
        base = base[1:]
    while base in reserved or base in PYTHON_NAMES:
        base += "_"
    out, i = base, 1
    sep = "" if base.endswith("_") else "_"
    while out in taken or out in reserved or out in PYTHON_NAMES:
        out = f"{base}{sep}{i}"
        i += 1
    return out


@dataclass
class ScopeNode:
    """A block instance or repetition in a plan, with its steps and nested scopes in order."""

    path: str  # "" for the model, "encoder.0"
    block: str | None = None
    items: list = field(default_factory=list)  # steps and ScopeNodes
    inputs: list[str] = field(default_factory=list)  # variables read but not written inside
    outputs: list[str] = field(default_factory=list)  # variables written inside and used outside


def steps_of(sn: ScopeNode) -> list:
    """Every step of a scope, nested scopes included, in order."""
    out = []
    for item in sn.items:
        out.extend(steps_of(item) if isinstance(item, ScopeNode) else [item])
    return out


def scope_tree(model, steps, always: set[str]) -> ScopeNode:
    """Group plan steps (each with ``.scope``, ``.inputs``, ``.outputs``) by the model's
    scopes; ``always`` are variables every scope must return if it computes them."""
    scopes = {s.path: s for s in model.scopes}
    root = ScopeNode("")
    nodes = {"": root}

    def known(path: str) -> str:
        while path and path not in scopes:
            path = path.rsplit(".", 1)[0] if "." in path else ""
        return path

    def scope_node(path: str) -> ScopeNode:
        if path not in nodes:
            parent = scope_node(known(path.rsplit(".", 1)[0] if "." in path else ""))
            nodes[path] = ScopeNode(path, scopes[path].block)
            parent.items.append(nodes[path])
        return nodes[path]

    for step in steps:
        scope_node(known(step.scope)).items.append(step)
    total: dict[str, int] = {}
    for step in steps:
        for i in step.inputs:
            total[i] = total.get(i, 0) + 1
    _set_io(root, total, always)
    return root


def _set_io(sn: ScopeNode, total_reads: dict[str, int], always: set[str]) -> None:
    for item in sn.items:
        if isinstance(item, ScopeNode):
            _set_io(item, total_reads, always)
    written: set[str] = set()
    inputs: list[str] = []
    inside: dict[str, int] = {}
    writes: list[str] = []
    for st in steps_of(sn):
        for i in st.inputs:
            inside[i] = inside.get(i, 0) + 1
            if i not in written:
                inputs.append(i)
        written.update(st.outputs)
        writes.extend(st.outputs)
    sn.inputs = list(dict.fromkeys(inputs))
    sn.outputs = [o for o in dict.fromkeys(writes) if o in always or total_reads.get(o, 0) > inside.get(o, 0)]


def local_names(sn: ScopeNode, hints: dict[str, str], reserved: set[str]) -> dict[str, str]:
    """Variable names inside a scope's class/function: from the layer names, numbered
    locally, so identical block instances render identically (and share one definition)."""
    taken: set[str] = set()
    names: dict[str, str] = {}
    if len(sn.inputs) == 1:
        names[sn.inputs[0]] = safe_ident("x", taken, reserved)
        taken.add(names[sn.inputs[0]])
    for v in [*sn.inputs, *(o for st in steps_of(sn) for o in st.outputs)]:
        if v in names:
            continue
        name = safe_ident(hints.get(v, "x"), taken, reserved)
        taken.add(name)
        names[v] = name
    return names


GENERIC_NAMES = ("x", "h", "y", "z")


def reuse_names(sn: ScopeNode, names: dict[str, str], keep: set[str], protected: set[str], reserved: set[str]) -> dict[str, str]:
    """Write a scope's code as an expert would: a value takes over the name of an input that
    dies where it is made (``x = self.conv(x)``), so a chain reads as one variable and each
    intermediate is freed as soon as nothing needs it.  Chains of two or more values get
    short generic names (``x``, ``h``, …; a chain starting at a parameter keeps its name).

    ``keep``: values needed after the scope's last item (its outputs); ``protected``:
    parameters whose names must not be reused (the model's named inputs)."""
    items = sn.items
    last: dict[str, int] = {}
    for i, item in enumerate(items):
        for v in item.inputs:
            last[v] = i
    chain: dict[str, str] = {}  # value → the first value of its chain
    for i, item in enumerate(items):
        if not item.outputs:
            continue
        dying = next((v for v in item.inputs if last.get(v) == i and v not in keep and v not in protected), None)
        if dying is not None and item.outputs[0] not in item.inputs:
            chain[item.outputs[0]] = chain.get(dying, dying)
    members: dict[str, list[str]] = {}
    for v, root in chain.items():
        members.setdefault(root, [root]).append(v)
    out = dict(names)
    # names that stay: values outside any chain, and chains that start at a parameter
    taken = set(reserved) | {n for v, n in names.items() if v not in chain and v not in members}
    taken |= {names[root] for root in members if root in sn.inputs}
    generic = itertools.chain(GENERIC_NAMES, (f"x{i}" for i in itertools.count(1)))
    for root, vs in members.items():
        name = names[root] if root in sn.inputs else next(n for n in generic if n not in taken)
        taken.add(name)
        for v in vs:
            out[v] = name
    return out
