"""Generate the JSON Schema files in schemas/json/ from the models, for other languages.

    python -m schemas.export            # write the files
    python -m schemas.export --check    # exit 1 when the files are stale (CI, unit test)

The schemas describe the wire format the codecs produce: camelCase field names, the
`schema_version` / `type` envelope, decimals as strings (commands also accept numbers).
pydantic is used only here, at build time, never on the hot path.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from schemas import commands, records, state

OUT = Path(__file__).parent / "json"
COMMAND_TYPES = {
    "MetricTracked": "metric",
    "UserIdentified": "user",
    "AchievementAwarded": "achievement",
    "ClockTicked": "tick",
}
RECORD_TYPES = {
    "Progress": "progress",
    "AchievementCompleted": "achievement",
    "StreakChanged": "streak",
    "PointsChanged": "points",
    "DeadLetter": "dead_letter",
}
RENAMES = {"time_ms": "time"}  # commands only: the wire says "time"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _rewrite(node: Any, renames: dict[str, str]) -> Any:
    """camelCase every property name (and `required`), drop pydantic's titles."""
    if isinstance(node, list):
        return [_rewrite(item, renames) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title":
            continue
        if key == "properties":
            out[key] = {renames.get(k, _camel(k)): _rewrite(v, renames) for k, v in value.items()}
        elif key == "required":
            out[key] = [renames.get(k, _camel(k)) for k in value]
        else:
            out[key] = _rewrite(value, renames)
    return out


def _envelope(schema: dict[str, Any], tags: dict[str, str], version: int) -> dict[str, Any]:
    for name, tag in tags.items():
        definition = schema["$defs"][name]
        definition["properties"] = {
            "schema_version": {"const": version},
            "type": {"const": tag},
            **definition["properties"],
        }
        definition["required"] = ["schema_version", "type", *definition.get("required", [])]
    schema["oneOf"] = schema.pop("anyOf")
    return schema


def _document(title: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": title, **schema}


def build() -> dict[str, str]:
    """File name -> content of every generated schema."""
    cmd = _rewrite(TypeAdapter(commands.Command).json_schema(mode="validation"), RENAMES)
    rec = _rewrite(TypeAdapter(records.Record).json_schema(mode="serialization"), {})
    st = _rewrite(TypeAdapter(state.UserState).json_schema(mode="serialization"), {})
    st["$defs"]["HistoryEntry"] = {
        "description": "[period index, streak length, used a freeze]",
        "type": "array",
        "prefixItems": [{"type": "integer"}, {"type": "integer"}, {"type": "boolean"}],
        "minItems": 3,
        "maxItems": 3,
    }
    st["$defs"]["PointsState"]["properties"]["awards"] = {
        "description": "[trigger, seq, points, timeMs, total, count, [boost keys]], oldest first",
        "type": "array",
        "items": {"type": "array", "minItems": 7, "maxItems": 7},
    }
    st["$defs"]["PointsState"]["properties"]["days"] = {
        "description": "[local date ordinal, points added that day, total at its end]",
        "type": "array",
        "items": {
            "type": "array",
            "prefixItems": [{"type": "integer"}, {"type": "integer"}, {"type": "integer"}],
            "minItems": 3,
            "maxItems": 3,
        },
    }
    for name in ("PointsAward", "PointsDay"):
        st["$defs"].pop(name, None)
    st["properties"] = {
        "version": {"const": state.STATE_VERSION},
        **{k: v for k, v in st["properties"].items() if k != "version"},
    }
    docs = {
        "commands.schema.json": _document(
            "Podium command (podium.events)", _envelope(cmd, COMMAND_TYPES, commands.SCHEMA_VERSION)
        ),
        "records.schema.json": _document(
            "Podium derived record "
            "(podium.progress, .achievements, .streaks, .points, .events.dlq)",
            _envelope(rec, RECORD_TYPES, records.SCHEMA_VERSION),
        ),
        "state.schema.json": _document("Podium user state (podium.state)", st),
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
