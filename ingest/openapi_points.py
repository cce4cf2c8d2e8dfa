"""The points operations of the OpenAPI document (`ingest.openapi`): Trophy's paths, with the
rules' points system keys as the path enum and the statuses each operation answers."""

from __future__ import annotations

from typing import Any

from ingest.http import api_points
from schemas.rules import Rules

Schema = dict[str, Any]


def _query(name: str, schema: Schema, required: bool = False) -> Schema:
    return {"name": name, "in": "query", "required": required, "schema": schema}


def _get(op: str, params: list[Schema], ok: Schema, *errors: int) -> Schema:
    answers: Schema = {"200": {"description": "success", **_body(ok)}}
    for code in (401, 404, *errors):
        answers[str(code)] = {
            "description": "error",
            **_body({"$ref": "#/components/schemas/Error"}),
        }
    return {"get": {"operationId": op, "parameters": params, "responses": answers}}


def _body(schema: Schema) -> Schema:
    return {"content": {"application/json": {"schema": schema}}}


STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
NULL_STR: Schema = {"type": "string", "nullable": True}
KV: Schema = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["key", "value"],
        "properties": {"key": STR, "value": STR},
    },
}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: list[str], **props: Schema) -> Schema:
    return {"type": "object", "required": required, "properties": props}


def _array(name: str) -> Schema:
    return {"type": "array", "items": _ref(name)}


def points_components() -> Schema:
    """The points shapes (Trophy's `PointsLevel`, `PointsBoost`, `PointsTrigger`, ...)."""
    base = {
        "id": STR,
        "key": STR,
        "name": STR,
        "description": NULL_STR,
        "badgeUrl": NULL_STR,
        "maxPoints": {"type": "number", "nullable": True},
    }
    level = _obj(
        ["id", "key", "name", "description", "points"],
        id=STR,
        key=STR,
        name=STR,
        description=STR,
        badgeUrl=NULL_STR,
        points=INT,
    )
    boost = _obj(
        ["id", "name", "status", "start", "multiplier", "rounding"],
        id=STR,
        name=STR,
        status={"type": "string", "enum": ["active", "scheduled", "finished"]},
        start=STR,
        end=NULL_STR,
        multiplier={"type": "number"},
        rounding={"type": "string", "enum": ["down", "up", "nearest"]},
    )
    trigger = _obj(
        ["id", "type", "points", "status", "userAttributes", "created", "updated"],
        id=STR,
        type={
            "type": "string",
            "enum": ["metric", "achievement", "streak", "time", "user_creation"],
        },
        points=INT,
        status={"type": "string", "enum": ["active"]},
        userAttributes=KV,
        eventAttributes=KV,
        created={"type": "string", "format": "date-time"},
        updated={"type": "string", "format": "date-time"},
    )
    award = _obj(
        ["id", "awarded", "date", "total", "boosts"],
        id=STR,
        awarded=INT,
        date={"type": "string", "format": "date-time"},
        total=INT,
        trigger={"allOf": [_ref("PointsTrigger")], "nullable": True},
        boosts=_array("PointsBoost"),
    )
    level_or_null = {"allOf": [_ref("PointsLevel")], "nullable": True}
    user_points = _obj(
        ["id", "key", "name", "total", "awards"],
        **base,
        total=INT,
        level=level_or_null,
        awards=_array("PointsAward"),
    )
    changed = _obj(
        ["id", "key", "name", "total", "added", "awards"],
        **base,
        total=INT,
        added=INT,
        level=level_or_null,
        awards=_array("PointsAward"),
    )
    system = _obj(["id", "name", "triggers"], **base, triggers=_array("PointsTrigger"))
    system["properties"].pop("key")
    return {
        "PointsLevel": level,
        "PointsBoost": boost,
        "PointsTrigger": trigger,
        "PointsAward": award,
        "UserPoints": user_points,
        "EventPoints": {"type": "object", "additionalProperties": changed},
        "PointsSystem": system,
        "PointsRange": _obj(["from", "to", "users"], **{"from": INT}, to=INT, users=INT),
        "PointsLevelUsers": _obj(["level", "users"], level=_ref("PointsLevel"), users=INT),
        "PointsDay": _obj(
            ["date", "total", "change"],
            date={"type": "string", "format": "date"},
            total={"type": "number"},
            change={"type": "number"},
        ),
    }


def points_paths(rules: Rules, uid: Schema) -> Schema:
    """The user and system points paths (under /v1)."""
    key = {
        "name": "key",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": sorted(rules.points) or ["none"]},
    }
    awards = _query(
        "awards",
        {
            "type": "integer",
            "default": api_points.DEFAULT_AWARDS,
            "minimum": 1,
            "maximum": api_points.MAX_AWARDS,
        },
    )
    summary = [
        _query("aggregation", {"type": "string", "enum": list(api_points.AGGREGATIONS)}, True),
        _query("startDate", {"type": "string", "format": "date"}, True),
        _query("endDate", {"type": "string", "format": "date"}, True),
    ]
    attrs = _query("userAttributes", {"type": "string"})
    finished = _query("includeFinished", {"type": "boolean", "default": False})
    user = "/v1/users/{id}/points/{key}"
    days, boosts = _array("PointsDay"), _array("PointsBoost")
    return {
        user: _get("userPoints", [uid, key, awards], _ref("UserPoints"), 422),
        user + "/event-summary": _get("userPointsEventSummary", [uid, key, *summary], days, 422),
        user + "/boosts": _get("userPointsBoosts", [uid, key], boosts),
        "/v1/points/{key}": _get("pointsSystem", [key], _ref("PointsSystem")),
        "/v1/points/{key}/summary": _get("pointsSummary", [key, attrs], _array("PointsRange"), 422),
        "/v1/points/{key}/levels": _get("pointsLevels", [key], _array("PointsLevel")),
        "/v1/points/{key}/level-summary": _get(
            "pointsLevelSummary", [key], _array("PointsLevelUsers"), 422
        ),
        "/v1/points/{key}/boosts": _get("pointsBoosts", [key, finished], boosts),  # as Trophy's
    }
