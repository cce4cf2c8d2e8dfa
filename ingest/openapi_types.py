"""OpenAPI 3.0 component schemas generated from the answer Structs (`ingest.http.answers`)
and the request bodies (`ingest.http.requests`): msgspec's JSON Schema, with what 3.0 spells
differently rewritten (a `null` alternative becomes `nullable`, a `Literal` gains its `type`,
a `const` becomes a one-value `enum`) and what 3.0 cannot say left out (`propertyNames`, the
length of a map's keys; an empty `required`)."""

from __future__ import annotations

from typing import Any

import msgspec

Schema = dict[str, Any]
REF = "#/components/schemas/{name}"
NULL: Schema = {"type": "null"}


def components(*types: Any) -> dict[str, Schema]:
    """The component schemas of `types` and of every Struct they refer to, by Struct name."""
    _, defs = msgspec.json.schema_components(types, ref_template=REF)
    return {name: openapi30(schema) for name, schema in defs.items()}


def openapi30(node: Any) -> Any:
    """A JSON Schema (2020-12, as msgspec writes it) as an OpenAPI 3.0 schema object."""
    if isinstance(node, list):
        return [openapi30(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: openapi30(value) for key, value in node.items() if key != "propertyNames"}
    if out.get("required") == []:
        del out["required"]
    if "const" in out:
        out["enum"] = [out.pop("const")]
    if "enum" in out and "type" not in out:
        out["type"] = _enum_type(out["enum"])
    if NULL in out.get("anyOf", ()):
        out = _nullable(out)
    return out


def _enum_type(values: list[Any]) -> str:
    if all(isinstance(v, str) for v in values):
        return "string"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "integer"
    raise ValueError(f"an enum of mixed types has no OpenAPI 3.0 type: {values!r}")


def _nullable(schema: Schema) -> Schema:
    """`anyOf: [X, null]` as X with `nullable: true` (a `$ref` wrapped in `allOf`, since 3.0
    ignores a `$ref`'s siblings)."""
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    options = [option for option in schema["anyOf"] if option != NULL]
    one: Schema = options[0] if len(options) == 1 else {"anyOf": options}
    if "$ref" in one:
        one = {"allOf": [one]}
    return {**one, **rest, "nullable": True}
