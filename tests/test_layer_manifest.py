"""The layer manifest (specc.ir.ops.MANIFEST) is what the layer modules register, and the
vocabulary is imported lazily: looking a layer up imports its module, not the others."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import textwrap

import specc.ir.ops as ops


def test_manifest_is_what_every_module_registers():
    registered: dict[str, str] = {}
    aliases: dict[str, str] = {}
    for info in pkgutil.iter_modules(ops.__path__):
        mod = importlib.import_module(f"specc.ir.ops.{info.name}")
        for kind, cls in ops.LAYERS.classes.items():
            if cls.__module__ == mod.__name__:
                registered[kind] = info.name
                aliases.update({a: kind for a in cls.aliases})
    assert registered == ops.MANIFEST, "a layer module's layers differ from specc.ir.ops.MANIFEST: update it"
    assert aliases == ops.ALIASES
    defining = set(ops.MANIFEST.values())
    every = {info.name for info in pkgutil.iter_modules(ops.__path__)}
    assert every - defining == set(ops.HELPER_MODULES), "a module of specc.ir.ops is neither in MANIFEST nor a helper"


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True).stdout


def test_a_small_spec_imports_only_its_layers_and_the_ir_still_round_trips():
    out = _run(
        """
        import sys, specc
        from specc.ir.graph import Model
        m = specc.loads("model m {\\n input x: float32[4]\\n dense(3, activation=relu)\\n}\\n", "m.spec")
        print(sorted(k.rsplit(".", 1)[1] for k in sys.modules if k.startswith("specc.ir.ops.")))
        assert "lstm" in specc.ir.ops.LAYERS and "nonsense" not in specc.ir.ops.LAYERS
        print(sorted(k.rsplit(".", 1)[1] for k in sys.modules if k.startswith("specc.ir.ops.")))
        back = Model.model_validate_json(m.model_dump_json())   # needs every layer: imports them
        assert back == m and back.nodes[0].op.units == 3
        print(len([k for k in sys.modules if k.startswith("specc.ir.ops.")]))
        """
    )
    first, second, count = out.splitlines()
    assert "dense" in first and "recurrent" not in first and "attention" not in first
    assert first == second, "membership tests must not import layer modules"
    assert int(count) == len(set(ops.MANIFEST.values())) + len(ops.HELPER_MODULES)


def test_unknown_layer_suggestion_and_schema_see_every_layer():
    out = _run(
        """
        import specc
        from specc.errors import SpecError
        try:
            specc.loads("model m {\\n input x: float32[4]\\n lstmm(3)\\n}\\n", "m.spec")
        except SpecError as e:
            print(e.diagnostics[0].message, "|", e.diagnostics[0].hint)
        from specc.ir.graph import Model
        kinds = Model.model_json_schema()["$defs"]
        print("LSTM" in kinds and "MultiHeadAttention" in kinds)
        """
    )
    msg, schema_ok = out.splitlines()
    assert "lstmm" in msg and "lstm" in msg.split("|")[1]
    assert schema_ok == "True"
