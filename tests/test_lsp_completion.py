"""Completion offers only what ``specc check`` accepts where the cursor is: an option's
values as that layer validates them (``padding=causal`` on conv1d only), options not given
yet and never the ones specc sets itself, the keywords of the body the cursor is in, and
nothing inside a comment or a string."""

from __future__ import annotations

import pytest

pytest.importorskip("pygls")

import specc  # noqa: E402
from tests.lsp_client import start  # noqa: E402

MODEL = "model m {{\n  input x: float32[{shape}]\n  {line}\n}}\n"


def at(text: str) -> tuple[str, int, int]:
    """The text without its ``|`` and the (line, character) where it was (ASCII here)."""
    i = text.index("|")
    before = text[:i]
    return text.replace("|", "", 1), before.count("\n"), len(before.split("\n")[-1])


@pytest.fixture(scope="module")
def client():
    c, _ = start()
    yield c
    c.close()


def complete(client, text: str, version=[0]) -> set[str]:  # noqa: B006 - a counter across calls
    version[0] += 1
    text, line, col = at(text)
    uri = "file:///tmp/specc-lsp-test/completion.spec"
    if version[0] == 1:
        client.open(uri, text, version[0])
    else:
        client.change(uri, text, version[0])
    return client.completion(uri, line, col)


def test_padding_offers_what_the_layer_accepts(client):
    two_d = complete(client, MODEL.format(shape="8, 8, 3", line="conv2d(8, 3, padding=|)"))
    assert two_d == {"valid", "same"}  # causal: 1-D layers only
    assert "causal" in complete(client, MODEL.format(shape="16, 3", line="conv1d(8, 3, padding=|)"))
    assert "causal" not in complete(client, MODEL.format(shape="16, 3", line="maxpool1d(2, padding=|)"))  # pooling: never
    # a call over several lines: the option is still conv2d's
    assert complete(client, MODEL.format(shape="8, 8, 3", line="conv2d(8, 3,\n    padding=|)")) == {"valid", "same"}
    # bidirectional's layer: the recurrent layers, nothing else
    assert complete(client, MODEL.format(shape="6, 3", line="bidirectional(layer=|)")) == {"simple_rnn", "lstm", "gru"}


# what the minimal call of a layer needs beyond integers for its required options
_NEEDS = {"activation": ["fn=relu"], "dropout": ["rate=0.5"], "bidirectional": ["layer=lstm(2)"], "permute": ["dims=[2, 1]"], "reshape": ["shape=[24]"]}
_SHAPES = {0: "6, 4", 1: "16, 4", 2: "8, 8, 4"}
_INTEGER_INPUT = {"embedding", "sinusoidal_embedding"}
_AFTER = {"embedding": " -> global_avgpool1d"}  # (a padding mask must not reach the output)


def test_every_offered_choice_checks_and_every_other_is_refused():
    """For every layer and every option with enumerated choices (``Literal`` values,
    true / false), the value is offered exactly when ``specc check`` accepts the layer
    written with it — the front end is the oracle, not the completion's own validation."""
    from specc.ir.ops import LAYERS
    from specc.lsp.analysis import accepted, fields, option_family, written

    compared = layers = 0
    for name in LAYERS.kinds():
        cls = LAYERS.lookup(name)
        if getattr(cls, "expression_only", False) or name in ("add", "multiply", "concat"):
            continue  # (merges take several inputs: their options have no choices)
        base = _NEEDS.get(name, [f"{k}=2" for k, f in fields(cls).items() if f.is_required()])
        dtype = "int32" if name in _INTEGER_INPUT else "float32"
        extra = ", dim=4" if name == "embedding" and "dim=2" not in base else ""

        def checks(more: list[str]) -> tuple[bool, str]:
            text = f"model m {{\n  input x: {dtype}[{'6' if dtype == 'int32' else _SHAPES[getattr(cls, 'spatial', 0)]}]\n  x -> {name}({', '.join(base + more)}{extra}){_AFTER.get(name, '')}\n}}\n"
            try:
                specc.loads(text)
                return True, ""
            except specc.SpecError as e:
                return False, e.diagnostics[0].message

        ok, why = checks([])
        assert ok, (name, why)  # the minimal call itself checks
        layers += 1
        for option in fields(cls):
            if not written(cls, option):
                continue
            offered = {v for v, _ in accepted(cls, option)}
            for value in option_family(cls, option)[1]:
                good, why = checks([f"{option}={value}"])
                assert good == (value in offered), (name, option, value, why)
                compared += 1
    assert layers >= 30 and compared >= 80, (layers, compared)


def test_options_not_given_yet_and_never_the_ones_specc_sets(client):
    labels = complete(client, MODEL.format(shape="8, 8, 3", line="conv2d(8, 3, |)"))
    assert {"padding=", "stride=", "activation=", "name="} <= labels and not {"filters=", "kernel="} & labels  # given positionally
    labels = complete(client, MODEL.format(shape="8, 8, 3", line="conv2d(8, kernel=3, padding=same, |)"))
    assert "kernel=" not in labels and "padding=" not in labels and "stride=" in labels
    assert "masked=" not in complete(client, MODEL.format(shape="6, 3", line="lstm(4, |)"))
    assert "masks=" not in complete(client, MODEL.format(shape="6, 3", line="multi_head_attention(heads=2, key_dim=2, |)"))
    # a block's parameters, those not given yet
    text = "block b(n, k=2) {\n  input x\n  dense(n)\n}\n" + MODEL.format(shape="4", line="b(3, |)")
    assert complete(client, text) == {"k=", "name=", "trainable="}


def test_keywords_of_the_body_the_cursor_is_in(client):
    top = complete(client, "|\nblock b(n) {\n  input x\n  dense(n)\n}\n")
    assert top == {"model", "block"}  # no layer outside a definition
    assert complete(client, "block b(n) {\n  input x\n  dense(n)\n}\n" + MODEL.format(shape="4", line="b(3)") + "|\n") == {"block"}  # one model a file
    in_block = complete(client, "block b(n) {\n  input x\n  |\n}\n" + MODEL.format(shape="4", line="b(3)"))
    assert {"dense", "relu", "input", "output", "repeat"} <= in_block and not {"train", "verify", "b", "model"} & in_block
    in_repeat = complete(client, MODEL.format(shape="4", line="repeat 2 {\n    |\n  }"))
    assert {"dense", "repeat", "output"} <= in_repeat and not {"input", "train"} & in_repeat
    trained = MODEL.format(shape="4", line="dense(3)\n  train {\n    loss mse\n    optimizer sgd\n  }\n  |")
    labels = complete(client, trained)
    assert {"dense", "verify"} <= labels and "train" not in labels  # a model has one train section
    # a train section: the settings not set yet
    labels = complete(client, MODEL.format(shape="4", line="dense(3)\n  train {\n    loss mse\n    |\n    epochs 3\n  }"))
    assert {"optimizer", "metrics", "batch"} <= labels and not {"loss", "epochs"} & labels
    # a link of a chain, and the right side of an assignment
    for line in ("x -> |", "h = |", "h = x\n      -> |"):
        assert {"dense", "relu", "repeat"} <= complete(client, MODEL.format(shape="4", line=line)), line


def test_nothing_inside_a_comment_or_a_string(client):
    assert complete(client, MODEL.format(shape="4", line="dense(3)  # dense(|")) == set()
    assert complete(client, MODEL.format(shape="4", line='dense(3, name="de|")')) == set()
    assert complete(client, MODEL.format(shape="8, 8, 3", line="conv2d(8, kernel=[|")) == set()  # numbers, no words
    assert complete(client, MODEL.format(shape="4", line="dense(3, activation=relu) * |")) == set()  # an expression
    # after a comment or a string closed on the line: completion as usual
    assert "activation=" in complete(client, MODEL.format(shape="4", line='dense(3, name="a", |)'))
    assert "dense" in complete(client, "# a comment with dense( and train {\n" + MODEL.format(shape="4", line="|"))
