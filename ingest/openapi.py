"""The OpenAPI 3.0 document the gateway serves at /v1/openapi.json: Trophy's application
endpoints that Podium implements, with the rules' metric, achievement, points system and
leaderboard keys as enums (the points operations in `ingest.openapi_points`, the leaderboard
ones in `ingest.openapi_leaderboards`)."""

from __future__ import annotations

from ingest.http import api
from ingest.http.answers import ACHIEVEMENT_ANSWERS, ANSWERS
from ingest.http.answers_leaderboards import LEADERBOARD_ANSWERS
from ingest.http.answers_points import POINTS_ANSWERS
from ingest.http.answers_wrapped import WRAPPED_ANSWERS
from ingest.http.requests import PreferencesBody, UserBody
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


def openapi_document(rules: Rules) -> Schema:
    metric = {
        "name": "key",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": sorted(rules.metrics)},
    }
    api_keys = sorted(k for k, a in rules.achievements.items() if a.trigger == "api")
    ach = {
        "name": "key",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": api_keys or ["none"]},
    }
    uid = {
        "name": "id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "minLength": 1, "maxLength": api.MAX_ID},
    }
    event = _obj(
        ["user", "value"],
        user=_ref("UpsertedUser"),
        value=NUM,
        attributes={"type": "object", "additionalProperties": STR},
    )
    event["additionalProperties"] = False
    batch_item = _obj(
        ["key", "user", "value"],
        key={"type": "string", "enum": sorted(rules.metrics)},
        user=_ref("UpsertedUser"),
        value=NUM,
        attributes={"type": "object", "additionalProperties": STR},
        idempotencyKey=STR,
    )
    batch = _obj(
        ["events"],
        events={"type": "array", "items": batch_item, "minItems": 1, "maxItems": api.MAX_BATCH},
    )
    user_body = {"required": True, **_json(_ref("UpdatedUser"))}
    user = _ref("User")
    paths: Schema = {
        "/v1/metrics/{key}/event": {
            "post": {
                "operationId": "trackEvent",
                "parameters": [
                    metric,
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": api.MAX_IDEMPOTENCY_KEY,
                        },
                    },
                ],
                "requestBody": {"required": True, **_json(event)},
                "responses": {
                    **_answers(201, _ref("EventResponse"), 422, 404, 413, 503),
                    "202": {
                        "description": "an idempotent replay",
                        **_json(_ref("EventResponse")),
                    },
                },
            }
        },
        "/v1/metrics/events": {
            "post": {
                "operationId": "trackEvents",
                "requestBody": {"required": True, **_json(batch)},
                "responses": _answers(202, _ref("Accepted"), 422, 404, 413, 503),
            }
        },
        "/v1/achievements": {
            "get": {
                "operationId": "listAchievements",
                "parameters": [
                    {
                        "name": "userAttributes",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": _answers(200, _array("AchievementWithStats"), 422),
            }
        },
        "/v1/achievements/{key}/complete": {
            "post": {
                "operationId": "completeAchievement",
                "parameters": [ach],
                "requestBody": {
                    "required": True,
                    **_json(_obj(["user"], user=_ref("UpsertedUser"))),
                },
                "responses": _answers(201, _ref("AchievementCompletion"), 422, 404, 503),
            }
        },
        "/v1/streaks": {
            "get": {
                "operationId": "listStreaks",
                "parameters": [
                    {
                        "name": "userIds",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "minLength": 1},
                    }
                ],
                "responses": _answers(200, _array("StreakLength"), 422),
            }
        },
        "/v1/users": {
            "post": {
                "operationId": "createUser",
                "requestBody": {"required": True, **_json(_ref("UpsertedUser"))},
                "responses": _answers(201, user, 422, 413, 503),
            }
        },
        "/v1/users/{id}": {
            "get": {
                "operationId": "getUser",
                "parameters": [uid],
                "responses": _answers(200, _ref("User"), 404),
            },
            "put": {
                "operationId": "identifyUser",
                "parameters": [uid],
                "requestBody": user_body,
                "responses": _answers(200, user, 422, 413, 503),
            },
            "patch": {
                "operationId": "updateUser",
                "parameters": [uid],
                "requestBody": user_body,
                "responses": _answers(200, user, 422, 404, 413, 503),
            },
        },
        "/v1/users/{id}/metrics": {
            "get": {
                "operationId": "userMetrics",
                "parameters": [uid],
                "responses": _answers(200, _array("Metric"), 404),
            }
        },
        "/v1/users/{id}/metrics/{key}": {
            "get": {
                "operationId": "userMetric",
                "parameters": [uid, metric],
                "responses": _answers(200, _ref("Metric"), 404),
            }
        },
        "/v1/users/{id}/achievements": {
            "get": {
                "operationId": "userAchievements",
                "parameters": [
                    uid,
                    {
                        "name": "includeIncomplete",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["true", "false"]},
                    },
                ],
                "responses": _answers(200, _array("UserAchievementWithStats"), 422, 404),
            }
        },
        "/v1/users/{id}/streak": {
            "get": {
                "operationId": "userStreak",
                "parameters": [
                    uid,
                    {
                        "name": "historyPeriods",
                        "in": "query",
                        "required": False,
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": api.MAX_HISTORY_PERIODS,
                        },
                    },
                ],
                "responses": _answers(200, _ref("UserStreak"), 422, 404),
            }
        },
        **points_paths(rules, uid),
        **leaderboard_paths(rules, uid),
    }
    paths["/v1/users/{id}/preferences"] = _preferences(uid)
    paths["/v1/users/{id}/metrics/{key}/event-summary"] = _event_summary(uid, metric)
    paths["/v1/users/{id}/wrapped"] = wrapped_path(uid)
    paths["/v1/streaks/rankings"] = _streak_rankings()
    paths["/admin/v1/metrics/events"] = _admin_batch(batch_item)
    return {
        "openapi": "3.0.3",
        "info": {"title": "Podium (Trophy-compatible application API)", "version": "0.1.0"},
        "servers": [{"url": "/"}],
        "components": {
            "schemas": {
                **components(
                    *ACHIEVEMENT_ANSWERS,
                    *ANSWERS,
                    *POINTS_ANSWERS,
                    *LEADERBOARD_ANSWERS,
                    *WRAPPED_ANSWERS,
                ),
                **_request_components(),
            },
            "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-KEY"}},
        },
        "security": [{"ApiKey": []}],
        "paths": paths,
    }
