"""The OpenAPI 3.0 document the gateway serves at /v1/openapi.json: Trophy's application
endpoints that Podium implements, with the rules' metric, achievement, points system and
leaderboard keys as enums (the points operations in `ingest.openapi_points`, the leaderboard
ones in `ingest.openapi_leaderboards`).

The component schemas are generated from the answer Structs (`ingest.http.answers*`) and the
request bodies' Structs (`ingest.http.requests`) by `ingest.openapi_types`; written here by
hand is only what no type says: the paths, their parameters and statuses, and a metric
event's body."""

from __future__ import annotations

from ingest.http import api
from ingest.http.answers import ACHIEVEMENT_ANSWERS, ANSWERS
from ingest.http.answers_leaderboards import LEADERBOARD_ANSWERS
from ingest.http.answers_points import POINTS_ANSWERS
from ingest.http.answers_wrapped import WRAPPED_ANSWERS
from ingest.http.requests import MAX_BATCH, PreferencesBody, UserBody
from ingest.openapi_leaderboards import leaderboard_paths
from ingest.openapi_parts import (
    NUM,
    STR,
    Schema,
    _admin_batch,
    _answers,
    _array,
    _event_summary,
    _json,
    _obj,
    _preferences,
    _ref,
    _streak_rankings,
)
from ingest.openapi_points import points_paths
from ingest.openapi_types import components
from ingest.openapi_wrapped import wrapped_path
from schemas.rules import Rules

NULLABLE = ("nullable", "default")  # of an optional `id`: null, by default


def _request_components() -> Schema:
    """The user a write carries and the preferences a PATCH gives, generated from the
    request bodies; what their types cannot say: where no path names the user, the body's
    user needs its `id` (`UpsertedUser`), and a PATCH of a user takes no `id` at all."""
    schemas = components(UserBody, PreferencesBody)
    user = schemas.pop("UserBody")
    given = {k: v for k, v in user["properties"].items() if k != "id"}
    user_id = {k: v for k, v in user["properties"]["id"].items() if k not in NULLABLE}
    upserted = dict(user, title="UpsertedUser", required=["id"])
    upserted["properties"] = {"id": user_id, **given}
    updated = dict(user, title="UpdatedUser", properties=given)
    return {**schemas, "UpsertedUser": upserted, "UpdatedUser": updated}


def _op(
    operation: str, params: list[Schema], answers: Schema, body: Schema | None = None
) -> Schema:
    """One operation: its id, parameters, answers (`_answers`) and required JSON body."""
    out: Schema = {"operationId": operation}
    if params:
        out["parameters"] = params
    if body is not None:
        out["requestBody"] = {"required": True, **_json(body)}
    out["responses"] = answers
    return out


def _param(name: str, where: str, schema: Schema, required: bool = False) -> Schema:
    return {"name": name, "in": where, "required": required, "schema": schema}


def _event_bodies(rules: Rules) -> tuple[Schema, Schema]:
    """A metric event and a batch's item, written by hand: the decoder reads `value` from
    the JSON text (`msgspec.Raw`), which its type cannot describe."""
    attrs = {"type": "object", "additionalProperties": STR}
    event = _obj(["user", "value"], user=_ref("UpsertedUser"), value=NUM, attributes=attrs)
    event["additionalProperties"] = False
    item = _obj(
        ["key", "user", "value"],
        key={"type": "string", "enum": sorted(rules.metrics)},
        user=_ref("UpsertedUser"),
        value=NUM,
        attributes=attrs,
        idempotencyKey=STR,
    )
    return event, item


def _write_paths(rules: Rules, metric: Schema) -> Schema:
    """The metric events (one, a batch, the admin batch) and an achievement's completion."""
    event, item = _event_bodies(rules)
    batch = _obj(
        ["events"], events={"type": "array", "items": item, "minItems": 1, "maxItems": MAX_BATCH}
    )
    replay = {"description": "an idempotent replay", **_json(_ref("EventResponse"))}
    key = {"type": "string", "minLength": 1, "maxLength": api.MAX_IDEMPOTENCY_KEY}
    api_keys = sorted(k for k, a in rules.achievements.items() if a.trigger == "api")
    achievement = _param("key", "path", {"type": "string", "enum": api_keys or ["none"]}, True)
    tracked = _answers(201, _ref("EventResponse"), 422, 404, 413, 503)
    return {
        "/v1/metrics/{key}/event": {
            "post": _op(
                "trackEvent",
                [metric, _param("Idempotency-Key", "header", key)],
                {**tracked, "202": replay},
                event,
            )
        },
        "/v1/metrics/events": {
            "post": _op(
                "trackEvents", [], _answers(202, _ref("Accepted"), 422, 404, 413, 503), batch
            )
        },
        "/v1/achievements/{key}/complete": {
            "post": _op(
                "completeAchievement",
                [achievement],
                _answers(201, _ref("AchievementCompletion"), 422, 404, 503),
                _obj(["user"], user=_ref("UpsertedUser")),
            )
        },
        "/admin/v1/metrics/events": _admin_batch(item),
    }


def _user_paths(uid: Schema, metric: Schema) -> Schema:
    """A user: the user itself, its metrics, achievements and streak."""
    user, updated = _ref("User"), _ref("UpdatedUser")
    incomplete = _param("includeIncomplete", "query", {"type": "string", "enum": ["true", "false"]})
    periods = {"type": "integer", "minimum": 1, "maximum": api.MAX_HISTORY_PERIODS}
    return {
        "/v1/users": {
            "post": _op("createUser", [], _answers(201, user, 422, 413, 503), _ref("UpsertedUser"))
        },
        "/v1/users/{id}": {
            "get": _op("getUser", [uid], _answers(200, user, 404)),
            "put": _op("identifyUser", [uid], _answers(200, user, 422, 413, 503), updated),
            "patch": _op("updateUser", [uid], _answers(200, user, 422, 404, 413, 503), updated),
        },
        "/v1/users/{id}/metrics": {
            "get": _op("userMetrics", [uid], _answers(200, _array("Metric"), 404))
        },
        "/v1/users/{id}/metrics/{key}": {
            "get": _op("userMetric", [uid, metric], _answers(200, _ref("Metric"), 404))
        },
        "/v1/users/{id}/achievements": {
            "get": _op(
                "userAchievements",
                [uid, incomplete],
                _answers(200, _array("UserAchievementWithStats"), 422, 404),
            )
        },
        "/v1/users/{id}/streak": {
            "get": _op(
                "userStreak",
                [uid, _param("historyPeriods", "query", periods)],
                _answers(200, _ref("UserStreak"), 422, 404),
            )
        },
        "/v1/users/{id}/preferences": _preferences(uid),
        "/v1/users/{id}/metrics/{key}/event-summary": _event_summary(uid, metric),
        "/v1/users/{id}/wrapped": wrapped_path(uid),
    }


def _catalogue_paths() -> Schema:
    """The achievements and the streaks of every user."""
    user_ids = _param("userIds", "query", {"type": "string", "minLength": 1}, True)
    return {
        "/v1/achievements": {
            "get": _op(
                "listAchievements",
                [_param("userAttributes", "query", STR)],
                _answers(200, _array("AchievementWithStats"), 422),
            )
        },
        "/v1/streaks": {
            "get": _op("listStreaks", [user_ids], _answers(200, _array("StreakLength"), 422))
        },
        "/v1/streaks/rankings": _streak_rankings(),
    }


def openapi_document(rules: Rules) -> Schema:
    """The document for these rules: their keys are the path parameters' enums."""
    metric = _param("key", "path", {"type": "string", "enum": sorted(rules.metrics)}, True)
    uid = _param("id", "path", {"type": "string", "minLength": 1, "maxLength": api.MAX_ID}, True)
    answers = (*ACHIEVEMENT_ANSWERS, *ANSWERS, *POINTS_ANSWERS, *LEADERBOARD_ANSWERS)
    return {
        "openapi": "3.0.3",
        "info": {"title": "Podium (Trophy-compatible application API)", "version": "0.1.0"},
        "servers": [{"url": "/"}],
        "components": {
            "schemas": {**components(*answers, *WRAPPED_ANSWERS), **_request_components()},
            "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-KEY"}},
        },
        "security": [{"ApiKey": []}],
        "paths": {
            **_write_paths(rules, metric),
            **_catalogue_paths(),
            **_user_paths(uid, metric),
            **points_paths(rules, uid),
            **leaderboard_paths(rules, uid),
        },
    }
