"""Which vocabulary the selftest corpus exercises, derived from the IR registries.

Every registered layer, activation, initialiser, regulariser, loss, optimizer, schedule and
metric must appear in the corpus, and each of its parameters with a value other than its
default somewhere — a bug hidden behind a default (PyTorch's leaky slope 0.01, Keras'
BN momentum) is only seen where the spec says otherwise.  New vocabulary fails the
coverage test until the corpus exercises it."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from specc.ir.spec import Family, Spec

__all__ = ["families", "used", "missing", "CORPUS"]

CORPUS = Path(__file__).resolve().parent / "corpus"


def families() -> list[Family]:
    """Every vocabulary family the IR defines (found by walking ``specc.ir``: a family added
    later is covered by the rule without editing this file)."""
    import importlib
    import pkgutil

    import specc.ir

    found: dict[str, Family] = {}
    for info in pkgutil.walk_packages(specc.ir.__path__, "specc.ir."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, Family):
                found.setdefault(value.name, value)
    return [found[k] for k in sorted(found)]


def _walk(value, out: set[tuple[str, str]]) -> None:
    if isinstance(value, Spec):
        kind = value.kind  # type: ignore[attr-defined]
        out.add((kind, ""))
        for fname, finfo in type(value).model_fields.items():
            if fname == "kind":
                continue
            v = getattr(value, fname)
            if finfo.is_required() or fname in value.params():
                out.add((kind, fname))
            _walk(v, out)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _walk(v, out)


def used(models: Iterable) -> set[tuple[str, str]]:
    """(kind, "") for every item used, (kind, param) for every parameter given a
    non-default value, over the models."""
    out: set[tuple[str, str]] = set()
    for m in models:
        for n in m.nodes:
            _walk(n.op, out)
            if not n.trainable:
                out.add(("<node>", "trainable"))
            if n.shares is not None:
                out.add(("<node>", "shares"))  # a shared layer applied again
        if any(s.shares for s in m.scopes):
            out.add(("<scope>", "shares"))  # a shared block instance applied again
        if m.train is not None:
            _walk(m.train.loss, out)
            _walk(m.train.optimizer, out)
            _walk(m.train.schedule, out)
            _walk(m.train.metrics, out)
            _walk(getattr(m.train, "callbacks", ()), out)
    return out


def missing(models: Iterable) -> list[str]:
    """What the models do not exercise: 'family kind' or 'family kind.param'."""
    seen = used(models)
    gaps = []
    for fam in families():
        for kind, cls in sorted(fam.classes.items()):
            if (kind, "") not in seen:
                gaps.append(f"{fam.name} {kind}")
                continue
            for fname in cls.model_fields:
                if fname != "kind" and (kind, fname) not in seen:
                    gaps.append(f"{fam.name} {kind}.{fname}")
    if ("<node>", "trainable") not in seen:
        gaps.append("node trainable=false")
    if ("<node>", "shares") not in seen:
        gaps.append("node shares (a shared layer applied again)")
    if ("<scope>", "shares") not in seen:
        gaps.append("block shares (a shared block instance applied again)")
    return gaps
