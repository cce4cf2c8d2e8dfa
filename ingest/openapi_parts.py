"""Building blocks of the gateway's OpenAPI document (`ingest.openapi`), and the paths of the
user routes added beside Trophy's first ones (preferences, event summaries)."""

from __future__ import annotations

from typing import Any

from ingest.http import api

Schema = dict[str, Any]
STR: Schema = {"type": "string"}
NUM: Schema = {"type": "number"}
INT: Schema = {"type": "integer"}
BOOL: Schema = {"type": "boolean"}
NULL_STR: Schema = {"type": "string", "nullable": True}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: list[str], **props: Schema) -> Schema:
    return {"type": "object", "required": required, "properties": props}


def _array(name: str) -> Schema:
    return {"type": "array", "items": _ref(name)}


def _json(schema: Schema) -> Schema:
    return {"content": {"application/json": {"schema": schema}}}


def _answers(ok: int, schema: Schema, *errors: int) -> Schema:
    out: Schema = {str(ok): {"description": "success", **_json(schema)}}
    for code in (401, *errors):
        out[str(code)] = {"description": "error", **_json(_ref("Error"))}
    return out


def _preferences(uid: Schema) -> Schema:
    """GET and PATCH /v1/users/{id}/preferences (Trophy's `UserPreferencesResponse`)."""
    answer = _ref("Preferences")
    change = _ref("PreferencesBody")
    return {
        "get": {
            "operationId": "userPreferences",
            "parameters": [uid],
            "responses": _answers(200, answer, 404),
        },
        "patch": {
            "operationId": "updateUserPreferences",
            "parameters": [uid],
            "requestBody": {"required": True, **_json(change)},
            "responses": _answers(200, answer, 403, 404, 413, 422, 503),
        },
    }


def _event_summary(uid: Schema, metric: Schema) -> Schema:
    """GET /v1/users/{id}/metrics/{key}/event-summary."""
    day = {"type": "string", "format": "date"}
    query = [
        ("aggregation", {"type": "string", "enum": list(api.AGGREGATIONS)}),
        ("startDate", day),
        ("endDate", day),
    ]
    return {
        "get": {
            "operationId": "userMetricEventSummary",
            "parameters": [
                uid,
                metric,
                *({"name": n, "in": "query", "required": True, "schema": s} for n, s in query),
            ],
            "responses": _answers(200, _array("SummaryPoint"), 404, 422),
        }
    }


def _streak_rankings() -> Schema:
    """GET /v1/streaks/rankings (Trophy's Node SDK `streaks.rankings`)."""
    query = [
        ("limit", {**INT, "minimum": 1, "maximum": api.MAX_STREAK_RANKING}),
        ("type", {"type": "string", "enum": list(api.STREAK_RANKING_TYPES)}),
    ]
    return {
        "get": {
            "operationId": "streakRankings",
            "parameters": [
                {"name": name, "in": "query", "required": False, "schema": schema}
                for name, schema in query
            ],
            "responses": _answers(200, _array("StreakRankingUser"), 422, 503),
        }
    }


def _admin_batch(item: Schema) -> Schema:
    """POST /admin/v1/metrics/events (Trophy's admin `metrics.batch_events`): a bare array."""
    events = {"type": "array", "items": item, "minItems": 1, "maxItems": api.MAX_BATCH}
    return {
        "post": {
            "operationId": "adminBatchEvents",
            "requestBody": {"required": True, **_json(events)},
            "responses": _answers(202, _ref("Accepted"), 422, 404, 413, 503),
        }
    }
