"""The JSON Schema files in schemas/json/ are generated from the models and must be current."""

from __future__ import annotations

import json
from decimal import Decimal

from schemas.commands import MetricTracked, User, encode_command
from schemas.export import OUT, stale


def test_the_generated_json_schemas_are_up_to_date() -> None:
    assert stale() == [], "run: python -m schemas.export"


def test_the_command_schema_describes_the_wire_names() -> None:
    schema = json.loads((OUT / "commands.schema.json").read_text(encoding="utf-8"))
    metric = schema["$defs"]["MetricTracked"]
    wire = json.loads(
        encode_command(
            MetricTracked(
                event_id="e",
                time_ms=1,
                user=User(id="u", tz="UTC"),
                metric="m",
                value=Decimal(1),
                attributes={"a": "b"},
                idempotency_key="k",
            )
        )
    )
    assert set(wire) <= set(metric["properties"])
    assert set(metric["required"]) <= set(wire)
    assert metric["properties"]["type"] == {"const": "metric"}
