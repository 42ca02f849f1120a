"""The language server, driven over its protocol (JSON-RPC on stdio, as an editor does):
diagnostics as the text changes, hover with a layer's shape and parameter count, and
completion of layer, option and activation names."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytest.importorskip("pygls")

from tests.lsp_client import Client  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

BAD = """model m {
  input x: float32[8]
  dense(16, activaton=relu)
  dense(3, activation=softmax)
}
"""
GOOD = BAD.replace("activaton", "activation")


@pytest.fixture(scope="module")
def client():
    c = Client()
    result = c.request("initialize", {"processId": os.getpid(), "rootUri": None, "capabilities": {}})
    caps = result["capabilities"]
    assert caps["hoverProvider"] and "completionProvider" in caps and caps["textDocumentSync"]
    c.notify("initialized", {})
    yield c
    c.close()


URI = "file:///tmp/specc-lsp-test/m.spec"


def test_diagnostics_follow_the_text(client):
    client.notify("textDocument/didOpen", {"textDocument": {"uri": URI, "languageId": "specc", "version": 1, "text": BAD}})
    (d,) = client.diagnostics(URI, 1)
    assert d["range"]["start"] == {"line": 2, "character": 12}  # 0-based: line 3, col 13 of check's message
    assert d["severity"] == 1 and d["source"] == "specc"
    assert "dense has no parameter 'activaton'" in d["message"] and "did you mean 'activation'?" in d["message"]
    client.notify("textDocument/didChange", {"textDocument": {"uri": URI, "version": 2}, "contentChanges": [{"text": GOOD}]})
    assert client.diagnostics(URI, 2) == []


def test_hover_shows_a_layers_shape_and_parameters(client):
    client.notify("textDocument/didChange", {"textDocument": {"uri": URI, "version": 3}, "contentChanges": [{"text": GOOD}]})
    assert client.diagnostics(URI, 3) == []
    h = client.request("textDocument/hover", {"textDocument": {"uri": URI}, "position": {"line": 2, "character": 4}})
    text = h["contents"]["value"]
    assert "`dense`" in text and "[batch, 16]" in text and "144 parameters" in text  # 8·16 + 16
    h = client.request("textDocument/hover", {"textDocument": {"uri": URI}, "position": {"line": 3, "character": 25}})
    assert "[batch, 3]" in h["contents"]["value"] and "51 parameters" in h["contents"]["value"]
    h = client.request("textDocument/hover", {"textDocument": {"uri": URI}, "position": {"line": 1, "character": 20}})
    assert h["contents"]["value"] == "input `x`: float32 [batch, 8]"  # on an input's declaration: the input


def test_completion_of_layers_options_and_activations(client):
    text = "model m {\n  input x: float32[8]\n  de\n}\n"
    client.notify("textDocument/didChange", {"textDocument": {"uri": URI, "version": 4}, "contentChanges": [{"text": text}]})
    client.diagnostics(URI, 4)
    labels = lambda r: {i["label"] for i in r["items"]}  # noqa: E731
    r = client.request("textDocument/completion", {"textDocument": {"uri": URI}, "position": {"line": 2, "character": 4}})
    assert {"dense", "conv2d", "lstm", "relu", "input"} <= labels(r)
    text = "model m {\n  input x: float32[8]\n  dense(4, \n}\n"
    client.notify("textDocument/didChange", {"textDocument": {"uri": URI, "version": 5}, "contentChanges": [{"text": text}]})
    client.diagnostics(URI, 5)
    r = client.request("textDocument/completion", {"textDocument": {"uri": URI}, "position": {"line": 2, "character": 11}})
    assert {"activation=", "use_bias=", "init=", "name="} <= labels(r) and "units=" not in labels(r)  # (given: dense(4, …))
    text = "model m {\n  input x: float32[8]\n  dense(4, activation=\n}\n"
    client.notify("textDocument/didChange", {"textDocument": {"uri": URI, "version": 6}, "contentChanges": [{"text": text}]})
    client.diagnostics(URI, 6)
    r = client.request("textDocument/completion", {"textDocument": {"uri": URI}, "position": {"line": 2, "character": 22}})
    assert {"relu", "gelu", "softmax", "leaky_relu"} <= labels(r) and "dense" not in labels(r)


def test_requests_for_a_document_never_opened_answer_nothing(client):
    """A hover or completion for a URI the editor never opened (pygls then reads the file
    from disk, and it does not exist) answers nothing instead of an internal error."""
    uri = "file:///tmp/specc-lsp-test/never-opened-or-written.spec"
    assert client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}}) is None
    r = client.request("textDocument/completion", {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}})
    assert r["items"] == []


def test_analysis_directly():
    from specc.lsp.completion import completions
    from specc.lsp.hover import hover_text

    # train section: a setting's family after its key
    text = "model m {\n  input x: float32[4]\n  dense(3)\n  train {\n    optimizer \n  }\n}\n"
    assert {"adam", "sgd", "adamw"} <= {c.label for c in completions(text, 4, 14)}
    assert {"loss", "callbacks", "epochs"} <= {c.label for c in completions(text, 4, 4)}
    # an input's dtype after `input name:`; never the IR's `arithmetic`, which no spec can call
    labels = {c.label for c in completions("model m {\n  input x: \n}\n", 1, 11)}
    assert labels == {"float16", "bfloat16", "float32", "float64", "int32", "int64", "bool"}
    assert "arithmetic" not in {c.label for c in completions("model m {\n  input x: float32[4]\n  \n}\n", 2, 2)}
    # a vocabulary word's parameters, even in a text that does not check
    assert "`conv2d(filters, kernel" in hover_text("model m {\n  conv2d(\n", 1, 4, None)


def test_shipped_textmate_grammar_is_generated_and_highlights_the_vocabulary():
    import re

    from specc.lsp.textmate import dumps, grammar

    shipped = ROOT / "editors" / "vscode" / "syntaxes" / "spec.tmLanguage.json"
    assert shipped.read_text() == dumps(), "regenerate: python -m specc.lsp.textmate > editors/vscode/syntaxes/spec.tmLanguage.json"
    pkg = json.loads((ROOT / "editors" / "vscode" / "package.json").read_text())
    (g,) = pkg["contributes"]["grammars"]
    assert g["scopeName"] == grammar()["scopeName"] and (ROOT / "editors" / "vscode" / g["path"]).resolve() == shipped
    assert pkg["contributes"]["languages"][0]["extensions"] == [".spec"]
    # the patterns are plain regular expressions: try them on a line of spec text
    repo = grammar()["repository"]
    layer = next(p for p in repo["vocabulary"]["patterns"] if "layer" in p["name"])
    line = "  conv2d(32, kernel=3, activation=relu, init=he_normal)  # a comment"
    assert re.findall(layer["match"], line)[0] == "conv2d"  # (activation= is an option: that pattern comes first)
    assert re.search(repo["comment"]["match"], line).group(0) == "# a comment"
    assert [m.group(1) for m in re.finditer(repo["option"]["match"], line)] == ["kernel", "activation", "init"]
    from specc.ir.ops import LAYERS

    # the train / verify sections' keys are highlighted where a statement starts, not a
    # tensor that happens to share a key's name
    setting = re.compile(repo["setting"]["match"], re.M)
    text = "  train {\n    loss mse; epochs 3\n    callbacks [early_stopping]\n    validation_split 0.2\n  }\n  verify { rtol64 1e-9 }\n  loss = x -> dense(2)\n"
    assert [m.group(1) for m in setting.finditer(text)] == ["loss", "epochs", "callbacks", "validation_split", "rtol64"]
    assert repo["setting"]["captures"]["1"]["name"].startswith("keyword.") and {"include": "#setting"} in grammar()["patterns"]
    for name in LAYERS.names():  # every layer is highlighted as one, never a prefix of another
        assert re.fullmatch(layer["match"], name), name


BLOCKS = """block two(n) {
  input x
  dense(n) -> dense(n)
}

block outer(n) {
  input x
  x -> two(n) -> dense(2)
}

model m {
  input x: float32[8]
  h = x -> two(4, name=t) -> dense(8)
  g = h -> t
  repeat 3 {
    two(8)
  }
  repeat 2 {
    dense(8)
  }
  outer(3)
  train {
    loss mse
    epochs 3
  }
}
"""


def test_hover_on_a_block_call_shows_the_blocks_output_and_totals(client):
    """A block used as a layer shows what a layer shows: its output shape and parameter
    count, the block's total (hand counts: dense(n) on k features has k·n + n)."""
    uri = "file:///tmp/specc-lsp-test/blocks.spec"
    assert client.open(uri, BLOCKS) == []
    text = client.hover(uri, 12, 12)  # two(4, name=t): 8·4+4 + 4·4+4
    assert "`t`" in text and "block `two(n=4)`" in text and "[batch, 4]" in text and "56 parameters" in text
    text = client.hover(uri, 13, 11)  # `h -> t`: the instance again, no weights of its own
    assert "`t_1`" in text and "[batch, 4]" in text and "0 parameters" in text and "`t`'s weights" in text
    # repeat 3 { two(8) } on g (4 features): on the call and on the keyword, the three
    # repetitions in all: (4·8+8 + 8·8+8) + 2·(8·8+8 + 8·8+8)
    for line, col in ((15, 5), (14, 3)):
        text = client.hover(uri, line, col)
        assert "3 repetitions of block `two(n=8)`" in text and "[batch, 8]" in text and "400 parameters in all" in text, (line, col)
    text = client.hover(uri, 17, 3)  # repeat 2 { dense(8) }: 2·(8·8+8)
    assert "2 repetitions of repeat body" in text and "144 parameters in all" in text
    text = client.hover(uri, 20, 3)  # outer(3): two(3) on 8 (27 + 12) then dense(2) (8)
    assert "block `outer(n=3)`" in text and "[batch, 2]" in text and "47 parameters" in text
    text = client.hover(uri, 7, 8)  # two(n) inside outer: one instance per outer call
    assert "`outer.two`" in text and "39 parameters" in text
    text = client.hover(uri, 11, 9)  # an input: its dtype and shape
    assert text == "input `x`: float32 [batch, 8]"


def test_hover_on_the_other_statements(client):
    """A definition's name, an assignment's and an ``output``'s tensors, a setting."""
    uri = "file:///tmp/specc-lsp-test/blocks.spec"
    assert client.change(uri, BLOCKS, 2) == []
    # the model: 56 + 40 (dense(8) on 4) + 0 (t again) + 400 + 144 + 47
    assert client.hover(uri, 10, 7).startswith("model `m`: 687 parameters (0 frozen)")
    text = client.hover(uri, 0, 7)  # `two`: t, t_1, three repetitions, outer's
    assert "block `two`: used 6 times" in text and "56 parameters (the first)" in text
    assert client.hover(uri, 12, 2) == "`h`: float32 [batch, 8], the output of `dense`"
    assert "(train setting)" in client.hover(uri, 23, 5) and "`epochs`" in client.hover(uri, 23, 5)
    # a tensor used by name: what its definition says
    assert client.hover(uri, 13, 6) == "`h`: float32 [batch, 8], the output of `dense`"
    assert client.hover(uri, 7, 2) == "input `x` of block `outer`: float32 [batch, 8]"
    ops = "model m3 {\n  input x: float32[8]\n  a = x -> dense(4)\n  b = x -> dense(4)\n  a - b -> dense(2)\n}\n"
    assert client.change(uri, ops, 4) == []
    assert client.hover(uri, 4, 2) == "`a`: float32 [batch, 4], the output of `dense`"  # an operand, not the whole `a - b`
    assert client.hover(uri, 4, 6) == "`b`: float32 [batch, 4], the output of `dense_1`"
    assert "`a - b`" in client.hover(uri, 4, 4)  # the operator: the expression
    two = "model m2 {\n  input x: float32[8]\n  a = x -> dense(3)\n  b = x -> dense(5)\n  output a, b\n}\n"
    assert client.change(uri, two, 5) == []
    assert client.hover(uri, 4, 12) == "output `b`: float32 [batch, 5]"
    assert client.hover(uri, 4, 9) == "output `a`: float32 [batch, 3]"
    # 8·3+3 + 8·5+5; a dense uses each weight once per example (torchinfo counts biases too)
    assert client.hover(uri, 0, 8) == "model `m2`: 72 parameters (0 frozen), 72 MACs per example\n\noutput float32 [batch, 3]; float32 [batch, 5]"


@pytest.mark.parametrize("name", ["resnet_small", "siamese", "transformer_classifier", "masked_transformer"])
def test_every_position_answers_without_an_error(name):
    """Hover and completion at every position of example specs (blocks, shared instances,
    repeats, masks, train sections) and of cut-off copies (what is typed), with and without
    a model: an answer or nothing, never an exception (a JSON-RPC error in the editor)."""
    import random

    from specc.lsp.analysis import analyse
    from specc.lsp.completion import completions
    from specc.lsp.hover import hover_text

    full = (ROOT / "specs" / f"{name}.spec").read_text()
    rng = random.Random(name)
    answered = 0
    for text in [full, *(full[: rng.randrange(len(full))] for _ in range(3))]:
        model = analyse(text, name).model
        for line, src in enumerate(text.split("\n")):
            for col in range(len(src) + 1):
                answered += hover_text(text, line, col, model) is not None
                completions(text, line, col)
    assert answered > 100  # (and hover says something on most of a model's text)
