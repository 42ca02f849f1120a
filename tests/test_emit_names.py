"""Name hygiene of `specc compile`: generated code works for every name the language accepts.

Every soft keyword (the hard ones are refused by the language), every builtin, every name
the generated code itself binds (module-level names, functions, parameters, attributes),
every attribute of an ``nn.Module`` and of a ``keras.Model`` is used as a model, block,
input, layer and tensor name; each generated module is imported, run, trained two steps
and compared with the in-memory model (`emit_support`).  Outside strings (the spec's file
path) reach the source escaped."""

from __future__ import annotations

import ast
import builtins
import keyword
from functools import cache
from pathlib import Path

import pytest
import torch
from emit_support import _check_keras, _check_torch, _import, _torch_model_class

import specc
from specc.backends.emit_common import Library, doc_text
from specc.backends.keras.emit import emit_keras
from specc.backends.torch.emit import emit_torch
from specc.ir.activations import ACTIVATIONS
from specc.ir.ops import LAYERS
from specc.semantics.elaborate import RESERVED_NAMES

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.spec"))
TRAIN = "train { loss mse; optimizer sgd(lr=0.1, momentum=0.5); schedule step(step_size=1, gamma=0.5) }"


def _legal(name: str) -> bool:
    return name.isidentifier() and name not in RESERVED_NAMES and not name.startswith("__")


def _generated_names(source: str) -> set[str]:
    """Every name a generated module binds or uses: globals, classes, functions, their
    parameters, locals and attributes."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name):
            out.add(node.id)
        elif isinstance(node, ast.Attribute):
            out.add(node.attr)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, ast.arg):
            out.add(node.arg)
        elif isinstance(node, ast.alias):
            out.add((node.asname or node.name).split(".")[0])
    return out


@cache
def hostile_names() -> tuple[str, ...]:
    import keras

    names = set(keyword.softkwlist) | set(dir(builtins)) | set(dir(torch.nn.Module())) | set(dir(keras.Model))
    names |= Library("specc.backends.torch.lib").bound | Library("specc.backends.keras.lib").bound
    for spec in SPECS:
        model = specc.load(spec)
        names |= _generated_names(emit_torch(model)) | _generated_names(emit_keras(model))
    names |= {"return_logits", "F", "LOSSES", "OPTIMIZER", "SpeccLoss", "specc_loss", "reset_parameters", "tf", "make_optimizer", "_"}
    return tuple(sorted(n for n in names if _legal(n)))


def _accepted(role: str, names) -> list[str]:
    """The names the language accepts in this role: a tensor, block or input may not
    have the name of a layer or an activation."""
    if role == "layer":
        return list(names)
    return [n for n in names if n not in LAYERS and n not in ACTIVATIONS]


def layer_spec(names) -> str:
    chain = " -> ".join(f"dense(3, name={n})" for n in names)
    return f"model m {{\n input inp_0: float32[3]\n inp_0 -> {chain}\n {TRAIN}\n}}"


def tensor_spec(names) -> str:
    lines, prev = [], "inp_0"
    for n in names:
        lines.append(f" {n} = {prev} -> dense(3)")
        prev = n
    return "model m {\n input inp_0: float32[3]\n" + "\n".join(lines) + f"\n {TRAIN}\n}}"


def input_spec(names) -> str:
    decl = "\n".join(f" input {n}: float32[2]" for n in names)
    return f"model m {{\n{decl}\n input extra_: float32[2]\n ({', '.join(names)}, extra_) -> concat -> dense(2)\n {TRAIN}\n}}"


def block_spec(names, repeat: bool = True) -> str:
    # each block used twice (one class / function shared), the first also inside a repeat
    blocks = "\n".join(f"block {n}(k=1) {{ input inp_0\n inp_0 -> dense(3) -> dense(3 * k) }}" for n in names)
    chain = " -> ".join(f"{n}(1) -> {n}(1)" for n in names)
    rep = f" -> repeat 2 {{ {names[0]}(1) }}" if repeat else ""
    return f"{blocks}\nmodel m {{\n input inp_0: float32[3]\n inp_0 -> {chain}{rep}\n {TRAIN}\n}}"


ROLES = {"layer": layer_spec, "tensor": tensor_spec, "input": input_spec, "block": block_spec}


@pytest.mark.parametrize("role", ROLES)
def test_every_name_in_every_role_torch(role, tmp_path):
    names = _accepted(role, hostile_names())
    assert len(names) > 300, len(names)
    _check_torch(specc.loads(ROLES[role](names)), tmp_path, f"t_{role}")


@pytest.mark.slow  # ~10 CPU-minutes (Keras builds, traces and trains ~800- to 1600-layer models): make test-slow
@pytest.mark.parametrize("role", ROLES)
def test_every_name_in_every_role_keras(role, tmp_path):
    names = _accepted(role, hostile_names())
    _check_keras(specc.loads(ROLES[role](names)), tmp_path, f"k_{role}")


def _keras_sample(names, every: int) -> list[str]:
    """In `make test` the Keras side sees every ``every``-th hostile name, the names specc's
    Keras runtime binds and the sample below (Keras costs ~0.3 s CPU per layer here)."""
    own = Library("specc.backends.keras.lib").bound | set(SAMPLE)
    return [n for i, n in enumerate(names) if i % every == 0 or n in own]


@pytest.mark.parametrize("role", ROLES)
def test_sampled_names_in_every_role_keras(role, tmp_path):
    names = _keras_sample(_accepted(role, hostile_names()), 48 if role == "block" else 24)
    assert len(names) > 40, len(names)
    _check_keras(specc.loads(ROLES[role](names)), tmp_path, f"ks_{role}")


def model_spec(name: str) -> str:
    # a block with the model's own name (and so the same class name) inside it
    block = name not in LAYERS and name not in ACTIVATIONS
    head = f"block {name}(k=1) {{ input inp_0\n inp_0 -> dense(3 * k) }}\n" if block else ""
    return f"{head}model {name} {{\n input inp_0: float32[3]\n inp_0 -> {name + '(1) -> ' if block else ''}dense(2)\n {TRAIN}\n}}"


def _top_level_bindings(source: str) -> list[str]:
    out = []
    for node in ast.parse(source).body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out += [(a.asname or a.name).split(".")[0] for a in node.names]
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out.append(node.name)
        elif isinstance(node, ast.Assign):
            out += [t.id for t in node.targets if isinstance(t, ast.Name)]
    return out


def test_every_name_as_model_name(tmp_path):
    """Each name as the model's name (with a block of that name inside): no module-level
    name of either generated module is bound twice or shadows a builtin, and the torch
    model class is named after the model; every 40th module is imported and run (the full
    equality check runs for a sample below: building ~800 models would take minutes)."""
    from specc.backends.emit_common import class_name

    for i, n in enumerate(hostile_names()):
        model = specc.loads(model_spec(n))
        for emit, suffix in ((emit_torch, "t"), (emit_keras, "k")):
            src = emit(model)
            bound = _top_level_bindings(src)
            assert len(bound) == len(set(bound)), (n, sorted(b for b in bound if bound.count(b) > 1))
            assert not set(bound) & set(dir(builtins)), n
            if suffix == "t":
                assert f"class {class_name(n)}(nn.Module)" in src or f"class {class_name(n)}_(nn.Module)" in src, n
            if i % 40 == 0:
                path = tmp_path / f"m{i}{suffix}.py"
                path.write_text(src)
                mod = _import(path, f"m{i}{suffix}")
                if suffix == "t":
                    assert _torch_model_class(mod)()(torch.ones(1, 3)).shape == (1, 2)
                else:
                    assert mod.build_model().name.endswith(n)


SAMPLE = ["_", "tf", "F", "keras", "layers", "ops", "nn", "torch", "math", "build_model", "compile_model", "make_optimizer", "Model", "print", "match", "dtype", "prefix", "LOSSES", "SpeccLoss", "specc_loss", "reset_parameters", "forward"]


@pytest.mark.parametrize("name", SAMPLE)
def test_model_names_agree(name, tmp_path):
    model = specc.loads(model_spec(name))
    _check_torch(model, tmp_path, f"tm_{name}")
    _check_keras(model, tmp_path, f"km_{name}")


HOSTILE_PATH = 'a"""b\\c\'\n\r\x00é.spec'


@pytest.mark.parametrize("emit", [emit_torch, emit_keras], ids=["torch", "keras"])
def test_outside_strings_are_escaped(emit, tmp_path):
    """A file path with quotes, backslashes, newlines and NUL reaches the source escaped:
    the module parses, and its docstring names the path."""
    model = specc.loads("model m { input x: float32[3]\n x -> dense(2) }")
    model = model.model_copy(update={"source": HOSTILE_PATH})
    src = emit(model)
    tree = ast.parse(src)
    doc = ast.get_docstring(tree)
    assert HOSTILE_PATH in doc  # as Python reads the docstring: exactly the path
    assert len(tree.body) > 3  # nothing swallowed into a string


def test_doc_text_round_trips():
    for s in [HOSTILE_PATH, "plain/path.spec", "x\\", '"', "'", '"""']:
        assert ast.literal_eval('"""' + doc_text(s) + '"""') == s


def test_attribute_names_never_hide_module_attributes():
    """A layer named like an nn.Module attribute (or a method of specc's classes) is stored
    under another attribute, the same one in the in-memory and the generated model."""
    from specc.backends.torch.module import SpeccModule
    from specc.backends.torch.plan import RESERVED_ATTRS, make_plan

    model = specc.loads("model m { input x: float32[3]\n x -> dense(3, name=reset_parameters) -> dense(2, name=run) }")
    module = SpeccModule(make_plan(model))
    assert {n for n in dir(module) if not n.startswith("__")} - set(dict(module.named_children())) <= RESERVED_ATTRS | {"T_destination", "dump_patches", "call_super_init"}
    assert sorted(dict(module.named_children())) == ["reset_parameters_", "run_"]


def test_generated_class_is_found(tmp_path):
    model = specc.loads("block m() { input x\n x -> dense(3) }\nmodel m { input x: float32[3]\n x -> m() -> dense(2) }")
    path = tmp_path / "mm.py"
    path.write_text(emit_torch(model))
    mod = _import(path, "mm")
    gen = _torch_model_class(mod)()
    assert gen(torch.ones(1, 3)).shape == (1, 2)
