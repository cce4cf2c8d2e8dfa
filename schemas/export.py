"""Generate the JSON Schema files in schemas/json/ from the msgspec structs, for other
languages.

    python -m schemas.export            # write the files
    python -m schemas.export --check    # exit 1 when the files are stale (CI, unit test)

The schemas describe the wire format the codecs produce (`msgspec.json.schema_components` of
the very types the codecs decode): camelCase field names, the `type` / `schema_version`
envelope, decimals as strings (a command's `value` also accepts a JSON number).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import msgspec

from schemas import commands, records, state, views

OUT = Path(__file__).parent / "json"
REF = "#/$defs/{name}"


def _union(title: str, types: tuple[Any, ...]) -> dict[str, Any]:
    (schema,), defs = msgspec.json.schema_components([types], ref_template=REF)
    for definition in defs.values():
        _envelope(definition)
    return _document(title, {**schema, "$defs": defs})


def _envelope(definition: dict[str, Any]) -> None:
    """The envelope as the decoders hold it: `type` and `schema_version` are single values,
    both required (`schema_version`'s default serves construction in code, not the wire)."""
    props = definition.get("properties", {})
    if "schema_version" not in props:
        return
    for name in ("type", "schema_version"):
        (only,) = props[name]["enum"]
        props[name] = {"const": only}
    definition["required"] = ["type", "schema_version"] + [
        name for name in definition["required"] if name not in ("type", "schema_version")
    ]


def _document(title: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": title, **schema}


def _commands() -> dict[str, Any]:
    doc = _union("Podium command (podium.events)", commands.Command)  # type: ignore[arg-type]
    value = doc["$defs"]["MetricTracked"]["properties"]["value"]
    doc["$defs"]["MetricTracked"]["properties"]["value"] = {
        "anyOf": [value, {"type": "number"}],
        "description": "a decimal string (exact), or a JSON number from direct producers",
    }
    return doc


def _state() -> dict[str, Any]:
    (schema,), defs = msgspec.json.schema_components([state.UserState], ref_template=REF)
    return _document("Podium user state (podium.state)", {**schema, "$defs": defs})


def _view() -> dict[str, Any]:
    (schema,), defs = msgspec.json.schema_components([views.UserView], ref_template=REF)
    return _document("Podium user view (the Redis document per user)", {**schema, "$defs": defs})


def build() -> dict[str, str]:
    """File name -> content of every generated schema."""
    docs = {
        "commands.schema.json": _commands(),
        "records.schema.json": _union(
            "Podium derived record "
            "(podium.progress, .achievements, .streaks, .points, .events.dlq)",
            records.Record,  # type: ignore[arg-type]
        ),
        "state.schema.json": _state(),
        "view.schema.json": _view(),
    }
    return {name: json.dumps(doc, indent=2, sort_keys=True) + "\n" for name, doc in docs.items()}


def stale() -> list[str]:
    """Names of the files that differ from what `build` generates."""
    return [
        name
        for name, text in build().items()
        if not (OUT / name).exists() or (OUT / name).read_text(encoding="utf-8") != text
    ]


def main(argv: list[str]) -> int:
    if "--check" in argv:
        names = stale()
        for name in names:
            print(f"stale: schemas/json/{name} (run: python -m schemas.export)")
        return 1 if names else 0
    OUT.mkdir(exist_ok=True)
    for name, text in build().items():
        (OUT / name).write_text(text, encoding="utf-8")
        print(f"wrote schemas/json/{name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
