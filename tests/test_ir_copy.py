"""IR items are frozen and shared (a copy of one is the object itself), so a changed copy
must be a new object: ``model_copy(update=…)`` once changed the original in place —
``without_dropout`` (then used by verify) switched dropout off in the caller's own model, and a planted
BN ε compounded on every build, so the harness's perturbed run computed something else."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

import specc
from specc.compiler import as_model
from specc.ir.spec import Spec
from specc.ir.transforms import without_dropout

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.spec")) + sorted((ROOT / "specc" / "selftest" / "corpus").glob("*.spec"))


def _items(model):
    for n in model.nodes:
        yield n.op
    if model.train is not None:
        yield model.train
        yield model.train.optimizer
        yield model.train.loss
    yield model.verify


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_model_copy_with_an_update_leaves_the_original(path):
    model = as_model(specc.load(path))
    seen = 0
    for item in _items(model):
        assert isinstance(item, Spec)
        for field in type(item).model_fields:
            if field == "kind":
                continue
            before = getattr(item, field)
            changed = item.model_copy(update={field: "<changed>"})
            assert changed is not item and getattr(changed, field) == "<changed>"
            assert getattr(item, field) == before, f"{item.kind}.{field} changed in place"
            seen += 1
        assert item.model_copy() is item and copy.copy(item) is item  # the cheap copy stays
    assert seen


def test_without_dropout_leaves_the_model_it_was_given():
    model = as_model(specc.loads(
        "model d { input x: float32[6, 8]\n lstm(4, dropout=0.2, recurrent_dropout=0.3)\n dropout(0.5)\n dense(2)\n"
        " train { loss mse; optimizer sgd(lr=0.1) } }"
    ))
    rates = [(n.op.kind, getattr(n.op, "rate", None), getattr(n.op, "dropout", None), getattr(n.op, "recurrent_dropout", None)) for n in model.nodes]
    quiet = without_dropout(model)
    assert [(n.op.kind, getattr(n.op, "rate", None), getattr(n.op, "dropout", None), getattr(n.op, "recurrent_dropout", None)) for n in model.nodes] == rates
    assert all(not getattr(n.op, f, 0) for n in quiet.nodes for f in ("rate", "dropout", "recurrent_dropout"))
