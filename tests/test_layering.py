"""The package's dependency structure: no import circles, and dependencies point down the pipeline.

Every ``import`` counts, including those inside functions (a lazy import still couples two
modules: the circle ``backends/torch/activations.py`` ↔ ``plan.py`` was one).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "specc"

#: the pipeline, top to bottom: a package may import only from its own rank or below.
RANKS = {
    "errors": 0, "version": 0, "_nogc": 0, "fsutil": 0, "extras": 0,
    "syntax": 1,
    "ir": 2,
    "semantics": 3, "api": 3, "summary": 3, "diagram": 3,
    "backends": 4,
    "weights": 5, "compiler": 5,
    "verification": 6, "train": 6, "export": 6, "testing": 7, "importers": 6, "selftest": 7, "lsp": 7,
    "cli": 8, "__main__": 9,
}


def _modules() -> dict[str, tuple[Path, list[str]]]:
    mods = {}
    for f in ROOT.rglob("*.py"):
        parts = ["specc", *f.relative_to(ROOT).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
            pkg = parts
        else:
            pkg = parts[:-1]
        mods[".".join(parts)] = (f, pkg)
    return mods


def _edges(mods) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for m, (f, pkg) in mods.items():
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg[: len(pkg) - node.level + 1]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                # ``from pkg import sub`` depends on ``pkg.sub`` (a module) or on ``pkg`` (a name in it)
                targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in mods else mod for a in node.names]
            else:
                continue
            edges[m].update(t for t in targets if t in mods and t != m)
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    x = stack.pop()
                    on_stack.discard(x)
                    comp.append(x)
                    if x == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def _package_dependencies(edges) -> set[tuple[str, str]]:
    """Module-level edges between specc's top-level packages, in either package's own packages."""
    bad = set()
    for src, targets in edges.items():
        for dst in targets:
            a, b = src.split(".")[1:2], dst.split(".")[1:2]
            if not a or not b or a == b:
                continue
            ra, rb = RANKS.get(a[0]), RANKS.get(b[0])
            if ra is not None and rb is not None and rb > ra:
                bad.add((src, dst))
    return bad


def test_no_import_circles():
    assert _cycles(_edges(_modules())) == []


def test_dependencies_point_down_the_pipeline():
    assert sorted(_package_dependencies(_edges(_modules()))) == []


def test_circle_detector_sees_a_circle():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(edges) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_every_top_level_module_has_a_rank():
    names = {p.stem if p.is_file() else p.name for p in ROOT.iterdir() if p.name != "__pycache__"}
    names = {n for n in names if n not in ("__init__", "grammar", "py")}
    assert names <= set(RANKS), f"give these a rank in RANKS: {sorted(names - set(RANKS))}"
