"""The README stays true: it names every item of the vocabulary, and its examples check."""

from __future__ import annotations

import re
from pathlib import Path

import specc
from specc.ir.activations import ACTIVATIONS
from specc.ir.initializers import INITIALIZERS
from specc.ir.losses import LOSSES
from specc.ir.metrics import METRICS
from specc.ir.ops import LAYERS
from specc.ir.optimizers import OPTIMIZERS
from specc.ir.schedules import SCHEDULES

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_readme_lists_the_whole_vocabulary():
    missing = [
        f"{fam.name} {name}"
        for fam in (LAYERS, ACTIVATIONS, INITIALIZERS, LOSSES, OPTIMIZERS, SCHEDULES, METRICS)
        for name in fam.classes
        if f"`{name}" not in README and f"{name}`" not in README and f"{name}(" not in README
    ]
    assert not missing, missing


def test_readme_spec_examples_check():
    blocks = re.findall(r"```text\n(.*?)```", README, flags=re.S)
    assert len(blocks) >= 2
    for text in blocks:
        specc.loads(text)
