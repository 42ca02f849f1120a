"""``specc graph`` (DOT, Mermaid, SVG/PNG through Graphviz where installed) and ``specc
completion`` (argcomplete code for bash, zsh, fish; the completions themselves)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import specc
from specc.diagram import RenderError, render, to_dot, to_mermaid

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}

GRAPH = """
block enc(dim) {
  input x
  a = x -> multi_head_attention(heads=2, key_dim=dim // 2)
  (x, a) -> add -> layer_norm
}
model g {
  input tokens: int32[12]
  input extra: float32[4]
  e = tokens -> embedding(vocab=50, dim=8)
  out, h = e -> repeat 2 { enc(8) } -> gru(6, return_state=true)
  m = (h, extra) -> concat -> dense(3, activation=softmax)
  output m, out
}
"""


def cli(*args, cwd=ROOT, env=ENV):
    return subprocess.run([sys.executable, "-m", "specc", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


def test_dot_has_every_layer_edge_shape_and_frame():
    m = specc.loads(GRAPH)
    dot = to_dot(m)
    ids = dict(re.findall(r"^\s*(\w+) \[label=\"([^\"]*)", dot, flags=re.M))
    assert len([i for i in ids if i.startswith("n")]) == len(m.nodes) and {"in0", "in1"} <= set(ids)
    edges = set(re.findall(r"^\s*(\w+) -> (\w+)", dot, flags=re.M))
    assert len(edges) == sum(len(n.inputs) for n in m.nodes) + len(m.outputs)
    # the gru's state (its second output, gru:1) feeds the concat: labelled :1
    gru = next(k for k, n in enumerate(m.nodes) if n.op.kind == "gru")
    cat = next(k for k, n in enumerate(m.nodes) if n.op.kind == "concat")
    assert re.search(rf"n{gru} -> n{cat} \[label=\":1\"\]", dot)
    assert "[batch, 12, 8]" in ids["n0"] and "400 params" in ids["n0"]  # shapes and parameter counts
    assert dot.count("subgraph cluster_") == 3 and 'label="enc.0"' in dot and 'label="enc.1"' in dot


def test_labels_are_escaped():
    m = specc.loads('model q {\n input x: float32[3]\n dense(2, name=d)\n}\n')
    m2 = m.model_copy(update={"name": 'we"ird\\name'})
    dot = to_dot(m2)
    assert 'digraph "we\\"ird\\\\name" {' in dot
    mer = to_mermaid(m.model_copy(update={"nodes": m.nodes}))
    assert mer.startswith("flowchart TB\n") and '#91;batch, 2#93;' in mer  # [ ] are Mermaid syntax


def test_mermaid_labels_escape_every_character_of_its_syntax():
    """'#' starts Mermaid's entity codes, a raw line break ends the statement: a name
    holding them (or quotes, brackets, <, &) stays one label, shown as written."""
    m = specc.loads('model q {\n input x: float32[3]\n dense(2, name=d)\n}\n')
    hostile = 'a"b<i>#x;]\n\u00e9&amp;[c]'
    node = m.nodes[0].model_copy(update={"name": hostile})
    mer = to_mermaid(m.model_copy(update={"nodes": [node], "outputs": [hostile]}))
    assert 'n0["a#quot;b#lt;i#gt;#35;x;#93;<br/>\u00e9#amp;amp;#91;c#93;<br/>dense(2)' in mer
    assert len(mer.splitlines()) == 6  # flowchart, input, layer, edge, output, edge


def test_cli_text_formats_and_files(tmp_path):
    spec = tmp_path / "g.spec"
    spec.write_text(GRAPH)
    r = cli("graph", str(spec))
    assert r.returncode == 0 and r.stdout == to_dot(specc.load(spec))
    r = cli("graph", str(spec), "-o", str(tmp_path / "g.mmd"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "g.mmd").read_text() == to_mermaid(specc.load(spec))
    r = cli("graph", str(spec), "-o", str(tmp_path / "g.txt"))
    assert r.returncode == 2 and "cannot tell the format" in r.stderr


def test_an_unwritable_output_is_exit_2_as_for_every_command(tmp_path):
    spec = tmp_path / "g.spec"
    spec.write_text(GRAPH)
    (tmp_path / "file").write_text("")
    r = cli("graph", str(spec), "-o", str(tmp_path / "file" / "g.dot"))  # a file where a folder should be
    assert r.returncode == 2 and "cannot write" in r.stderr and "Traceback" not in r.stderr


def test_svg_and_png_through_graphviz_or_a_clear_error(tmp_path):
    spec = tmp_path / "g.spec"
    spec.write_text(GRAPH)
    if shutil.which("dot"):
        r = cli("graph", str(spec), "-o", str(tmp_path / "g.svg"))
        assert r.returncode == 0, r.stderr
        svg = (tmp_path / "g.svg").read_text()
        assert svg.lstrip().startswith("<?xml") and "multi_head_attention(2, 4)" in svg and "[batch, 12, 8]" in svg
        r = cli("graph", str(spec), "-o", str(tmp_path / "g.png"))
        assert r.returncode == 0 and (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # without Graphviz: exit 2 (an environment that cannot do the job), no file, and the text formats suggested
    bare = {**ENV, "PATH": str(tmp_path / "empty")}
    r = cli("graph", str(spec), "-o", str(tmp_path / "none.svg"), env=bare)
    assert r.returncode == 2 and "needs Graphviz's dot program" in r.stderr and "none.dot" in r.stderr
    assert not (tmp_path / "none.svg").exists()
    with pytest.raises(RenderError):
        os.environ["PATH"], saved = str(tmp_path / "empty"), os.environ["PATH"]
        try:
            render(specc.loads(GRAPH), "png")
        finally:
            os.environ["PATH"] = saved


# --------------------------------------------------------------------------- completion


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_code_for_each_shell(shell):
    pytest.importorskip("argcomplete")
    r = cli("completion", shell)
    assert r.returncode == 0 and "specc" in r.stdout and "_ARGCOMPLETE" in r.stdout
    if shell == "bash" and shutil.which("bash"):
        assert subprocess.run(["bash", "-n"], input=r.stdout, text=True).returncode == 0  # parses


def complete(line: str, tmp_path: Path) -> list[str]:
    out = tmp_path / "completions"
    env = {**ENV, "_ARGCOMPLETE": "1", "COMP_LINE": line, "COMP_POINT": str(len(line)), "_ARGCOMPLETE_STDOUT_FILENAME": str(out)}
    subprocess.run([sys.executable, "-m", "specc"], env=env, capture_output=True, timeout=60, cwd=tmp_path)
    return sorted(out.read_text().replace("\v", "\n").split()) if out.exists() else []


def test_completions_come_from_the_parser(tmp_path):
    pytest.importorskip("argcomplete")
    assert "train" in complete("specc tr", tmp_path) and "graph" in complete("specc gr", tmp_path)
    assert complete("specc train x.spec --backend ", tmp_path) == ["keras", "torch"]
    assert "--tensorboard" in complete("specc train x.spec --tens", tmp_path)
    assert {"bash", "fish", "zsh"} <= set(complete("specc completion ", tmp_path))
