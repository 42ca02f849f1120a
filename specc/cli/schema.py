"""``specc schema``: the JSON Schema of the IR (what ``specc check --json`` prints)."""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("schema", help="print the JSON Schema of the validated IR")
    p.set_defaults(func=run)


def run(args) -> int:
    from specc.ir.graph import Model

    schema = Model.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "specc model IR"
    print(json.dumps(schema, indent=2))
    return 0
