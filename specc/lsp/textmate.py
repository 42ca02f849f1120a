"""The TextMate grammar of ``.spec`` files (VS Code, Sublime, GitHub linguist-style
highlighters), generated from the language's keywords and the IR's vocabulary so it names
every layer, activation, initialiser, loss, optimizer, schedule, metric and callback, and
the train / verify sections' settings (loss, optimizer, epochs, rtol64, …).

``python -m specc.lsp.textmate > editors/vscode/syntaxes/spec.tmLanguage.json`` rewrites
the shipped file; a test checks that the shipped file is this output."""

from __future__ import annotations

import json

__all__ = ["grammar", "dumps"]


def _alternation(names) -> str:
    return r"\b(" + "|".join(sorted(set(names), key=lambda n: (-len(n), n))) + r")\b"


def grammar() -> dict:
    from specc.lsp.analysis import families

    from specc.ir.graph import TrainConfig, VerifyConfig

    fams = families()
    names = {k: [n for n in f.names()] for k, f in fams.items()}
    # the keys of the train / verify sections (loss, optimizer, epochs, rtol64, …): a statement's first word
    settings = [k for cfg in (TrainConfig, VerifyConfig) for k in cfg.model_fields if k != "kind"]
    return {
        "$schema": "https://raw.githubusercontent.com/martinring/tmlanguage/master/tmlanguage.json",
        "name": "specc",
        "scopeName": "source.specc",
        "fileTypes": ["spec"],
        "patterns": [
            {"include": "#comment"},
            {"include": "#string"},
            {"include": "#definition"},
            {"include": "#keyword"},
            {"include": "#setting"},
            {"include": "#dtype"},
            {"include": "#number"},
            {"include": "#constant"},
            {"include": "#option"},
            {"include": "#vocabulary"},
            {"include": "#operator"},
        ],
        "repository": {
            "comment": {"name": "comment.line.number-sign.specc", "match": "#.*$"},
            "string": {"name": "string.quoted.double.specc", "match": r'"([^"\\]|\\.)*"'},
            "definition": {
                "match": r"\b(model|block)\s+([A-Za-z_][A-Za-z0-9_]*)",
                "captures": {"1": {"name": "storage.type.specc"}, "2": {"name": "entity.name.type.specc"}},
            },
            "keyword": {"name": "keyword.control.specc", "match": r"\b(input|output|repeat|as|train|verify)\b"},
            "setting": {"match": r"(?:^|[{;])\s*" + _alternation(settings) + r"(?!\s*[=(]|\s*->)", "captures": {"1": {"name": "keyword.other.setting.specc"}}},
            "dtype": {"name": "support.type.dtype.specc", "match": r"\b(float16|bfloat16|float32|float64|int32|int64|bool)\b"},
            "number": {"name": "constant.numeric.specc", "match": r"\b([0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?|\.[0-9]+([eE][+-]?[0-9]+)?)\b"},
            "constant": {"name": "constant.language.specc", "match": r"\b(true|false|none)\b"},
            "option": {"match": r"\b([A-Za-z_][A-Za-z0-9_]*)\s*(=)(?!=)", "captures": {"1": {"name": "variable.parameter.specc"}, "2": {"name": "keyword.operator.assignment.specc"}}},
            "vocabulary": {
                "patterns": [
                    {"name": "support.class.layer.specc", "match": _alternation(names["layer"])},
                    {"name": "support.function.activation.specc", "match": _alternation(names["activation"])},
                    {"name": "support.function.initializer.specc", "match": _alternation(names["initializer"] + names["regularizer"])},
                    {"name": "support.function.training.specc", "match": _alternation(names["loss"] + names["optimizer"] + names["schedule"] + names["metric"] + names["callback"])},
                ]
            },
            "operator": {"name": "keyword.operator.specc", "match": r"->|\*\*|//|[-+*/%]"},
        },
    }


def dumps() -> str:
    return json.dumps(grammar(), indent=2) + "\n"


if __name__ == "__main__":  # pragma: no cover
    import sys

    sys.stdout.write(dumps())
