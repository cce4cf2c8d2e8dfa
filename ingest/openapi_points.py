"""The points operations of the OpenAPI document (`ingest.openapi`): Trophy's paths, with the
rules' points system keys as the path enum and the statuses each operation answers."""

from __future__ import annotations

from ingest.http import api_points
from ingest.openapi_parts import Schema, _answers, _array, _ref
from schemas.rules import Rules


def _query(name: str, schema: Schema, required: bool = False) -> Schema:
    return {"name": name, "in": "query", "required": required, "schema": schema}


def _get(op: str, params: list[Schema], ok: Schema, *errors: int) -> Schema:
    """A read of a system (or a user's points in it): 404 for an unknown one."""
    answers = _answers(200, ok, 404, *errors)
    return {"get": {"operationId": op, "parameters": params, "responses": answers}}


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
