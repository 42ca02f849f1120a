"""The front end's fast paths compute exactly what the plain paths did.

The elaborator assembles ``Node``/``Model``/``Input``/``Scope`` from parts it has already
validated, without a second pydantic validation pass (specc.semantics.context.trusted):
each such object must equal — field by field, fields-set and JSON included — the object
pydantic's validation makes from the same values, and the model's own invariants must
still be checked."""

from __future__ import annotations

from pathlib import Path

import pytest

import specc
from specc.ir.graph import Input, Model, Node, Scope

SPECS = sorted((Path(__file__).resolve().parent.parent / "specs").glob("*.spec"))


def _validated(obj):
    cls = type(obj)
    return cls(**{k: getattr(obj, k) for k in cls.model_fields})


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_trusted_objects_equal_validated_ones(path):
    model = specc.load(path)
    for part in (*model.inputs, *model.nodes, *model.scopes):
        again = _validated(part)
        assert again == part
        assert again.model_dump() == part.model_dump()
        assert again.model_fields_set <= part.model_fields_set | set(type(part).model_fields)
        assert getattr(again, "span", None) == getattr(part, "span", None)
    again = _validated(model)
    assert again == model
    assert again.to_json() == model.to_json()
    assert Model.from_json(model.to_json()) == model


def test_trusted_objects_keep_their_types():
    model = specc.loads("model m {\n  input x: float32[4]\n  repeat 2 { dense(4) }\n  dense(2)\n}\n")
    assert type(model) is Model and all(type(n) is Node for n in model.nodes)
    assert all(type(i) is Input for i in model.inputs) and all(type(s) is Scope for s in model.scopes)
    assert model.nodes[0].model_fields_set == set(Node.model_fields)
    # frozen as validated objects are
    with pytest.raises(Exception):
        model.nodes[0].name = "other"  # type: ignore[misc]
    # a default that is a container is not shared between objects
    a, b = model.scopes
    assert a.args is not b.args or a.args == b.args == {}


def test_model_invariants_still_checked():
    model = specc.loads("model m {\n  input x: float32[4]\n  dense(2)\n}\n")
    bad = model.model_copy(update={"outputs": ("nowhere",)})
    with pytest.raises(ValueError, match="not a tensor of the model"):
        bad._check()


def _named_reference(tree, out):
    """The plain walk _named replaced: every dataclass field, every list."""
    import dataclasses

    from specc.errors import Span
    from specc.syntax import ast

    if isinstance(tree, ast.Call):
        for a in tree.args:
            if a.name == "name" and isinstance(a.value, (ast.Sym, ast.Str)):
                out.setdefault(str(getattr(a.value, "name", None) or getattr(a.value, "value", "")), []).append(a.value.span)
    if isinstance(tree, list):
        for item in tree:
            _named_reference(item, out)
    elif dataclasses.is_dataclass(tree) and not isinstance(tree, Span):
        for f in dataclasses.fields(tree):
            v = getattr(tree, f.name)
            if isinstance(v, list) or dataclasses.is_dataclass(v):
                _named_reference(v, out)


def test_named_layers_found_anywhere():
    from specc.semantics.shared import _named
    from specc.syntax.parser import parse

    # name= in blocks, block calls, repeats (as links too), nested calls, tensor expressions,
    # strings and symbols, the same name twice
    text = (
        "block b(c) {\n  input x\n  dense(c, name=inner)\n}\n"
        "model m {\n  input x: float32[4]\n  h = x -> b(4, name=blk)\n"
        '  g = (x -> dense(4, name="d1")) + h\n  k = g -> repeat 2 { dense(4, name=r) } -> bidirectional(lstm(4, name=q), name=bi)\n'
        "  (k, x) -> concat -> dense(2, name=r)\n}\n"
    )
    found: dict = {}
    _named(parse(text, "t.spec"), found)
    want: dict = {}
    _named_reference(parse(text, "t.spec"), want)
    assert found == want
    assert list(found) == ["inner", "blk", "d1", "r", "bi", "q"]
    assert len(found["r"]) == 2
    for path in SPECS:
        found, want = {}, {}
        _named(parse(path.read_text(), path.name), found)
        _named_reference(parse(path.read_text(), path.name), want)
        assert found == want, path


# ---------------------------------------------------------------- parse-tree positions


def _stock_lark():
    from lark import Lark

    from specc.syntax.parser import _OPTIONS, _PostLex, grammar_path

    return Lark(grammar_path().read_text(encoding="utf-8"), **_OPTIONS, postlex=_PostLex())


def _positions(tree):
    return [(t.data, sorted(vars(t.meta).items())) for t in tree.iter_subtrees()]


def _texts():
    from fuzzing import corpus

    corpus_dir = Path(__file__).resolve().parent.parent / "specc" / "selftest" / "corpus"
    yield from (p.read_text() for p in SPECS)
    yield from (p.read_text() for p in sorted(corpus_dir.glob("*.spec")))
    yield from (text for _, text in corpus(300, seed=3))


def test_positions_as_lark_computes_them():
    from lark.exceptions import LarkError

    from specc.syntax import positions
    from specc.syntax.parser import _lark

    fast, stock = _lark(), _stock_lark()
    assert positions.install(_stock_lark())  # the swap applies to this Lark version
    assert not any(type(cb).__name__ == "PropagatePositions" for cb in fast._callbacks.values())
    compared = 0
    for text in _texts():
        try:
            want = stock.parse(text)
        except LarkError as e:  # the same failure both ways
            with pytest.raises(type(e)):
                fast.parse(text)
            continue
        got = fast.parse(text)
        assert got == want
        assert _positions(got) == _positions(want)
        compared += 1
    assert compared > 100
