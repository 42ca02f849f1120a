"""``specc check``: one summary per file with the right totals, ``--json`` IR that reads back
equal, ``specc schema`` that validates it, and no framework imported on the way."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from schema_lite import SchemaError, unknown_keywords, validate

import specc
from specc.ir.graph import Model

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.spec"))
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def specc_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "specc", *args], capture_output=True, text=True, env=ENV, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def check_all() -> subprocess.CompletedProcess:
    return specc_cli("check", *[str(p) for p in SPECS])


@pytest.fixture(scope="module")
def schema() -> dict:
    r = specc_cli("schema")
    assert (r.returncode, r.stderr) == (0, "")
    return json.loads(r.stdout)


def summaries(stdout: str) -> dict[str, str]:
    """The summary printed for each file, keyed by the file shown in its header."""
    parts = re.split(r"^Model: ", stdout, flags=re.M)
    assert parts[0] == ""
    out = {}
    for part in parts[1:]:
        head = part.splitlines()[0]
        m = re.fullmatch(r"(\w+)  \((.+)\)", head)
        assert m, head
        out[m.group(2)] = part
    return out


def test_check_prints_one_summary_per_file(check_all):
    assert (check_all.returncode, check_all.stderr) == (0, "")
    got = summaries(check_all.stdout)
    assert sorted(got) == sorted(str(p) for p in SPECS)


@pytest.mark.parametrize("path", SPECS, ids=[p.name for p in SPECS])
def test_summary_totals_are_the_models_counts(check_all, path):
    text = summaries(check_all.stdout)[str(path)]
    model = specc.load(path)
    trainable, frozen = model.count_params()
    assert text.startswith(f"{model.name}  ({path})\n")
    assert f"\nTotal params: {trainable + frozen:,} (" in text
    assert f"\nTrainable params: {trainable:,}\n" in text
    assert f"\nNon-trainable params: {frozen:,}\n" in text
    # one row per input and node, each with its parameter count
    for node in model.nodes:
        count = sum(w.size for w in model.node_weights(node))
        assert re.search(rf"^{re.escape(node.name)} .* {count:,}(\s|$)", text, flags=re.M), node.name


def test_summary_of_a_known_model_exactly():
    r = specc_cli("check", "specs/mlp_binary.spec")
    assert r.returncode == 0
    assert r.stdout == (
        "Model: mlp_binary  (specs/mlp_binary.spec)\n"
        "Layer      Op                             Output shape         Params    MACs\n"
        "─────────────────────────────────────────────────────────────────────────────\n"
        "features   input                          float32[batch, 20]        0       0\n"
        "dense      dense(64, activation=relu)     [batch, 64]           1,344   1,344\n"
        "dense_1    dense(1, activation=sigmoid)   [batch, 1]               65      65\n"
        "Total params: 1,409 (5.50 KB as float32)\n"
        "Trainable params: 1,409\n"
        "Non-trainable params: 0\n"
        "MACs per example: 1,409 (2.82 KFLOPs)\n"  # 20·64 + 64 and 64 + 1: a weight is one multiply-add
        "Activations per example: 65 values, 260 B (forward/backward pass size as torchinfo counts it: 520 B)\n"
        "Outputs: dense_1 [batch, 1]\n"
        "Training: loss binary_crossentropy; optimizer adam; metrics [accuracy, precision, recall]; batch 32, epochs 10, seed 0\n"
    )


def test_frozen_and_non_trainable_weights_in_the_summary(tmp_path):
    p = tmp_path / "bn.spec"
    p.write_text("model bn {\n  input x: float32[6]\n  dense(4, trainable=false)\n  batch_norm\n}\n")
    r = specc_cli("check", str(p))
    assert r.returncode == 0
    assert "dense (frozen)" in r.stdout
    assert "Total params: 44 (176 B as float32)\n" in r.stdout  # dense 6·4+4 = 28, batch_norm 4·4 = 16
    assert "Trainable params: 8\nNon-trainable params: 36\n" in r.stdout  # gamma+beta; frozen dense + statistics


def test_quiet_prints_nothing_for_valid_files(tmp_path):
    r = specc_cli("check", "-q", *[str(p) for p in SPECS])
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


# --------------------------------------------------------------------------- --json and schema


@pytest.mark.parametrize("path", SPECS, ids=[p.name for p in SPECS])
def test_json_reads_back_equal_and_validates(path, schema):
    r = specc_cli("check", "--json", str(path))
    assert (r.returncode, r.stderr) == (0, "")
    (result,) = json.loads(r.stdout)  # one file: still a list of one result
    assert (result["file"], result["ok"], result["diagnostics"]) == (str(path), True, [])
    model = Model.from_json(json.dumps(result["model"]))
    assert model == specc.load(path)
    assert model.count_params() == specc.load(path).count_params()
    assert result["summary"]["params"] == sum(model.count_params())
    assert result["summary"]["flops"] == 2 * result["summary"]["macs"]
    validate(result["model"], schema)


def test_json_has_one_shape_for_good_bad_and_several_files(tmp_path, schema):
    bad = tmp_path / "bad.spec"
    bad.write_text("model m {\n  input x: float32[4]\n  dense(0)\n}\n")
    good = ROOT / "specs" / "mlp_binary.spec"
    shapes = []
    for files in ([good], [bad], [good, bad]):
        r = specc_cli("check", "--json", *map(str, files))
        assert r.returncode == (1 if bad in files else 0)
        data = json.loads(r.stdout)
        assert isinstance(data, list) and [d["file"] for d in data] == list(map(str, files))
        shapes += [sorted(d) for d in data]
    assert all(s == ["diagnostics", "file", "model", "ok", "summary"] for s in shapes)
    assert Model.from_json(json.dumps(data[0]["model"])) == specc.load(good)
    validate(data[0]["model"], schema)
    assert data[1] == {
        "file": str(bad),
        "ok": False,
        "model": None,
        "summary": None,
        "diagnostics": [
            {
                "severity": "error",
                "message": "dense.units: input should be greater than 0 (got 0)",
                "file": str(bad),
                "line": 3,
                "col": 9,
                "end_line": 3,
                "end_col": 10,
                "expected": "units: an integer > 0 — number of output features",
                "hint": None,
                "notes": [],
            }
        ],
    }
    assert r.stderr.startswith(f"{bad}:3:9: error: dense.units")


def test_json_diagnostics_keep_their_notes(tmp_path):
    from specc.errors import Diagnostic, Span

    d = Diagnostic(Span("f.spec", 2, 3, 2, 7), "boom", notes=["first note", "second"])
    assert d.to_json()["notes"] == ["first note", "second"]
    assert (d.to_json()["end_line"], d.to_json()["end_col"]) == (2, 7)


LONG = """
block encoder(dim) {
  input x
  a = x -> multi_head_attention(heads=2, key_dim=dim // 2, name=attention_with_a_rather_long_descriptive_name)
  (x, a) -> add -> layer_norm
}
model wide_names {
  input tokens_of_the_input_sequence_with_a_long_name: int32[16]
  embedding(vocab=100, dim=8)
  repeat 2 { encoder(8) }
  global_avgpool1d
  dense(3, activation=softmax, init=variance_scaling(scale=2.0, mode=fan_out, distribution=truncated_normal))
}
"""


def test_table_is_not_wrapped_when_stdout_is_not_a_terminal(tmp_path):
    path = tmp_path / "wide.spec"
    path.write_text(LONG)
    r = subprocess.run([sys.executable, "-m", "specc", "check", str(path)], capture_output=True, text=True, env={**ENV, "COLUMNS": "60"}, timeout=120)
    assert r.returncode == 0, r.stderr
    model = specc.load(path)
    lines = r.stdout.splitlines()
    for n in model.nodes:  # every layer is one row holding its whole name, op and inputs
        row = [line for line in lines if line.startswith(n.name + " ")]
        assert len(row) == 1, (n.name, lines)
        assert n.op.describe() in row[0]
        assert ", ".join(n.inputs) in row[0]
    assert len(lines) == len(model.nodes) + len(model.inputs) + 9  # title, header, rule and 6 lines of totals


def test_schema_is_a_2020_12_schema_of_the_model(schema):
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "specc model IR"
    assert schema["type"] == "object"
    assert schema["required"] == ["name", "inputs", "nodes", "outputs"]
    assert unknown_keywords(schema) == set()  # the validator below understands all of it
    # every layer kind of the IR has its definition
    from specc.ir.ops import LAYERS

    op_refs = schema["$defs"]["Node"]["properties"]["op"]["discriminator"]["mapping"]
    assert sorted(op_refs) == sorted(LAYERS.classes)


@pytest.mark.parametrize(
    ("path", "change"),
    [
        (("nodes", 0, "op", "units"), "sixty-four"),
        (("nodes", 0, "op", "units"), 0),
        (("nodes", 0, "op", "kind"), "dense2"),
        (("nodes", 0, "op", "activation"), {"kind": "rellu"}),
        (("nodes", 0, "trainable"), "yes"),
        (("inputs", 0, "type", "dtype"), "float8"),
        (("nodes", 0, "unexpected"), 1),
    ],
)
def test_schema_rejects_invalid_ir(schema, path, change):
    data = json.loads(specc.load(ROOT / "specs" / "mlp_binary.spec").to_json())
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = change
    with pytest.raises(SchemaError):
        validate(data, schema)
    with pytest.raises(ValueError):  # so does the reader (pydantic's ValidationError is a ValueError)
        Model.from_json(json.dumps(data))


def _jsonschema_runner() -> list[str] | None:
    """A Python that has the jsonschema package: this one, or the system's."""
    if importlib.util.find_spec("jsonschema") is not None:
        return [sys.executable]
    for exe in ("python3", "python"):
        path = shutil.which(exe)
        if path and subprocess.run([path, "-c", "import jsonschema"], capture_output=True, timeout=60).returncode == 0:
            return [path]
    return None


def test_schema_validates_the_json_with_the_reference_validator_where_available(schema, tmp_path):
    # The structural validator above always runs; where the jsonschema package exists (the
    # system Python has it here, specc's venv does not), it must agree on valid and invalid IR.
    runner = _jsonschema_runner()
    docs = [json.loads(specc.load(p).to_json()) for p in SPECS]
    broken = json.loads(specc.load(SPECS[0]).to_json())
    broken["nodes"][0]["op"]["kind"] = "dense2"
    (tmp_path / "schema.json").write_text(json.dumps(schema))
    (tmp_path / "docs.json").write_text(json.dumps([*docs, broken]))
    for d in docs:
        validate(d, schema)
    with pytest.raises(SchemaError):
        validate(broken, schema)
    if runner is None:
        return
    script = (
        "import json, sys, jsonschema\n"
        "schema = json.load(open(sys.argv[1])); docs = json.load(open(sys.argv[2]))\n"
        "v = jsonschema.Draft202012Validator(schema)\n"
        "print(json.dumps([v.is_valid(d) for d in docs]))\n"
    )
    r = subprocess.run([*runner, "-c", script, str(tmp_path / "schema.json"), str(tmp_path / "docs.json")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [True] * len(docs) + [False]


# --------------------------------------------------------------------------- no frameworks

WRAPPER = """
import runpy, sys
sys.argv = ["specc", *sys.argv[1:]]
try:
    runpy.run_module("specc", run_name="__main__", alter_sys=True)
except SystemExit as e:
    code = e.code
heavy = [m for m in ("torch", "tensorflow", "keras", "jax") if m in sys.modules]
print("IMPORTED:" + ",".join(heavy) + " EXIT:" + str(code), file=sys.stderr)
"""


@pytest.mark.parametrize(
    ("args", "exit_code"),
    [
        (["check", "specs/transformer_classifier.spec", "specs/text_bilstm.spec", "specs/cnn_small.spec"], 0),
        (["check", "--json", "specs/rnn_tagger.spec"], 0),
        (["check", "specs/no_such.spec"], 1),
        (["fmt", "--check", "specs/mnist_cnn.spec"], 0),
        (["schema"], 0),
    ],
)
def test_check_fmt_schema_do_not_import_frameworks(args, exit_code):
    r = subprocess.run([sys.executable, "-c", WRAPPER, *args], capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=300)
    assert r.stderr.splitlines()[-1] == f"IMPORTED: EXIT:{exit_code}", r.stderr


def test_the_wrapper_would_notice_an_import():
    # the same wrapper reports a framework when one is imported (here by the keras backend)
    code = WRAPPER.replace('runpy.run_module("specc"', 'import specc.backends.keras.plan; runpy.run_module("specc"')
    r = subprocess.run([sys.executable, "-c", code, "schema"], capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=300)
    assert "IMPORTED:" in r.stderr and "keras" in r.stderr.splitlines()[-1]
