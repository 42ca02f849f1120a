"""A small JSON Schema (2020-12) validator for the keywords pydantic's schemas use, so the
tests can check ``specc schema`` against ``specc check --json`` without the jsonschema
package (it is not a dependency of specc)."""

from __future__ import annotations

from typing import Any

__all__ = ["validate", "SchemaError", "KEYWORDS"]

#: every keyword this validator understands; `unknown_keywords` finds any other
KEYWORDS = {
    "$schema", "$defs", "$ref", "title", "description", "default", "discriminator", "examples",
    "type", "properties", "required", "additionalProperties", "items", "prefixItems", "minItems",
    "maxItems", "anyOf", "oneOf", "allOf", "const", "enum", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum",
}  # fmt: skip

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


class SchemaError(AssertionError):
    pass


def unknown_keywords(schema: Any, found: set[str] | None = None, in_props: bool = False) -> set[str]:
    """Keywords used in ``schema`` that this validator does not implement."""
    found = set() if found is None else found
    if isinstance(schema, dict):
        for k, v in schema.items():
            if in_props:  # keys of "properties"/"$defs"/"mapping" are names, not keywords
                unknown_keywords(v, found)
                continue
            if k not in KEYWORDS:
                found.add(k)
            if k in ("properties", "$defs"):
                unknown_keywords(v, found, in_props=True)
            elif k not in ("discriminator", "default", "const", "enum", "examples"):  # values, not schemas
                unknown_keywords(v, found)
    elif isinstance(schema, list):
        for v in schema:
            unknown_keywords(v, found)
    return found


def validate(value: Any, schema: dict, root: dict | None = None, path: str = "$") -> None:
    """Raise SchemaError (with a JSON path) unless ``value`` satisfies ``schema``."""
    root = schema if root is None else root
    if "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/$defs/"):
            raise SchemaError(f"{path}: unsupported $ref {ref}")
        validate(value, root["$defs"][ref.removeprefix("#/$defs/")], root, path)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_TYPES[t](value) for t in types):
            raise SchemaError(f"{path}: {value!r} is not of type {schema['type']}")
    if "const" in schema and value != schema["const"]:
        raise SchemaError(f"{path}: {value!r} != const {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        raise SchemaError(f"{path}: {value!r} not in {schema['enum']}")
    if _TYPES["number"](value):
        for key, ok in (
            ("minimum", lambda b: value >= b),
            ("maximum", lambda b: value <= b),
            ("exclusiveMinimum", lambda b: value > b),
            ("exclusiveMaximum", lambda b: value < b),
        ):
            if key in schema and not ok(schema[key]):
                raise SchemaError(f"{path}: {value!r} violates {key} {schema[key]}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                raise SchemaError(f"{path}: missing required property {name!r}")
        for name, item in value.items():
            if name in props:
                validate(item, props[name], root, f"{path}.{name}")
            else:
                extra = schema.get("additionalProperties", True)
                if extra is False:
                    raise SchemaError(f"{path}: unexpected property {name!r}")
                if isinstance(extra, dict):
                    validate(item, extra, root, f"{path}.{name}")
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            raise SchemaError(f"{path}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            raise SchemaError(f"{path}: more than {schema['maxItems']} items")
        prefix = schema.get("prefixItems", [])
        for i, item in enumerate(value):
            if i < len(prefix):
                validate(item, prefix[i], root, f"{path}[{i}]")
            elif isinstance(schema.get("items"), dict):
                validate(item, schema["items"], root, f"{path}[{i}]")
            elif schema.get("items") is False:
                raise SchemaError(f"{path}: unexpected item {i}")
    for sub in schema.get("allOf", []):
        validate(value, sub, root, path)
    if "anyOf" in schema and not any(_ok(value, s, root, path) for s in schema["anyOf"]):
        raise SchemaError(f"{path}: {_short(value)} matches none of anyOf")
    if "oneOf" in schema:
        n = sum(_ok(value, s, root, path) for s in schema["oneOf"])
        if n != 1:
            raise SchemaError(f"{path}: {_short(value)} matches {n} of oneOf, not exactly one")


def _ok(value: Any, schema: dict, root: dict, path: str) -> bool:
    try:
        validate(value, schema, root, path)
    except SchemaError:
        return False
    return True


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 80 else text[:77] + "..."
