"""The JSON Schema files in schemas/json/ are generated from the models and must be current."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import jsonschema
import pytest

from processors.core.views import user_view
from schemas.commands import MetricTracked, User, encode_command
from schemas.export import OUT, stale
from schemas.state import HistoryEntry, MetricDay, PointsDay, PointsState, StreakState, UserState
from schemas.views import encode_view
from tests.rules import writing_rules

_DAY = date(2024, 4, 2).toordinal()


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


def test_the_view_schema_validates_the_projectors_document() -> None:
    """A document the projector writes (every part filled) validates against the generated
    view schema, and one of the older layout (points days as ordinals) does not."""
    state = UserState(
        user_id="u",
        sign_up_date="2024-04-01",
        totals={"words-written": Decimal("12.5")},
        achievements={"first-words": 5},
        streak=StreakState(
            length=1,
            longest=1,
            started=_DAY,
            covered=_DAY,
            period=_DAY,
            history=(HistoryEntry(period=_DAY, length=1),),
        ),
        points={"xp": PointsState(total=7, days=(PointsDay(day=_DAY, added=7, total=7),))},
        metric_days={"words-written": (MetricDay(day=_DAY, added=Decimal(1), total=Decimal(1)),)},
    )
    doc = json.loads(encode_view(user_view(state, writing_rules())))
    schema = json.loads((OUT / "view.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(doc, schema, format_checker=jsonschema.FormatChecker())
    assert doc["points"]["xp"]["days"] == [["2024-04-02", 7, 7]]
    doc["points"]["xp"]["days"] = [[_DAY, 7, 7]]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema, format_checker=jsonschema.FormatChecker())
