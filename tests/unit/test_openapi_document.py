"""The gateway's OpenAPI document (`ingest.openapi`) is valid OpenAPI 3.0 (the meta-schema
schemathesis ships), every answer Struct (`ingest.http.answers`) has its component schema in
it, every `$ref` resolves, and the generated schemas say what Trophy's document says (expected
values written by hand from Trophy's `application.json`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema
import msgspec
import pytest
from schemathesis.specs.openapi.definitions import OPENAPI_30

from ingest.http import answers, answers_leaderboards, answers_points, answers_wrapped, api
from ingest.openapi import openapi_document
from schemas.rules import ROUNDINGS, TIME_UNITS
from tests.rules import writing_rules

RULES = writing_rules()
DOC = openapi_document(RULES)
SCHEMAS = DOC["components"]["schemas"]


ANSWER_MODULES = (answers, answers_points, answers_leaderboards, answers_wrapped)


def _answer_structs() -> list[type]:
    return [
        value
        for module in ANSWER_MODULES
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, msgspec.Struct)
        and value.__module__ == module.__name__
    ]


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_the_document_is_valid_openapi_3_0() -> None:
    assert DOC["openapi"].startswith("3.0.")
    errors = sorted(jsonschema.Draft4Validator(OPENAPI_30).iter_errors(DOC), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]


def test_the_meta_schema_refuses_json_schema_spellings_3_0_lacks() -> None:
    """The check above can fail: a `null` type (JSON Schema 2020-12) is not OpenAPI 3.0."""
    bad = {**DOC, "components": {"schemas": {"X": {"type": ["string", "null"]}}}}
    assert not jsonschema.Draft4Validator(OPENAPI_30).is_valid(bad)


@pytest.mark.parametrize("struct", _answer_structs(), ids=lambda s: s.__name__)
def test_every_answer_struct_has_its_schema(struct: type) -> None:
    assert struct.__name__ in SCHEMAS


def test_every_ref_resolves() -> None:
    prefix = "#/components/schemas/"
    refs = set(_refs(DOC))
    assert refs and all(r.startswith(prefix) for r in refs)
    assert {r.removeprefix(prefix) for r in refs} <= set(SCHEMAS)


def test_achievement_schemas_say_what_trophy_says() -> None:
    user = SCHEMAS["UserAchievement"]
    # Trophy: achievedAt required, ["string", "null"], date-time
    assert "achievedAt" in user["required"]
    assert user["properties"]["achievedAt"] == {
        "type": "string",
        "format": "date-time",
        "nullable": True,
    }
    assert set(user["properties"]["trigger"]["enum"]) == {
        "metric",
        "streak",
        "api",
        "achievement",
        "anniversary",
    }
    stats = SCHEMAS["AchievementWithStats"]
    assert {"completions", "rarity"} <= set(stats["required"])
    assert "achievedAt" not in stats["properties"]
    assert stats["properties"]["rarity"]["type"] == "number"
    done = SCHEMAS["AchievementCompletion"]
    assert done["properties"]["achievement"] == {"$ref": "#/components/schemas/UserAchievement"}


def test_achievement_answers_leave_out_what_does_not_apply() -> None:
    """Trophy sends `achievedAt: null` on a user's achievement not completed, no `achievedAt`
    on the catalogue's, and a trigger's own fields only for that trigger."""
    novella = RULES.achievements["novella"]  # a metric trigger at 20000 words
    user = msgspec.json.decode(msgspec.json.encode(api.achievement_json(novella, RULES, None)))
    assert user["achievedAt"] is None
    assert (user["metricId"], user["metricValue"]) == ("words-written", 20000)
    assert "streakLength" not in user and "key" not in user
    stats = msgspec.json.decode(msgspec.json.encode(api.with_stats(novella, RULES, 1, 3)))
    assert "achievedAt" not in stats
    assert (stats["completions"], stats["rarity"]) == (1, 33.33)


def test_user_metric_and_event_schemas_say_what_trophy_says() -> None:
    """Required fields as in Trophy's `EventResponse`, `User`, `MetricResponse` and
    `StreakResponse`; `status` is Podium's one value (Trophy's Node SDK requires it)."""
    event = SCHEMAS["EventResponse"]
    trophy_event = ["eventId", "metricId", "total", "achievements", "currentStreak"]
    assert {*trophy_event, "points", "leaderboards"} <= set(event["required"])
    assert event["properties"]["idempotencyKey"] == {"type": "string"}  # never null
    assert event["properties"]["currentStreak"] == {"$ref": "#/components/schemas/EventStreak"}
    assert "extended" in SCHEMAS["EventStreak"]["required"]
    assert SCHEMAS["EventStreak"]["properties"]["extended"]["type"] == "boolean"
    user = SCHEMAS["User"]
    trophy_user = ["id", "email", "name", "tz", "subscribeToEmails", "attributes", "control"]
    assert {*trophy_user, "created", "updated"} <= set(user["required"])
    assert user["properties"]["deviceTokens"]["nullable"] is True
    metric = SCHEMAS["Metric"]
    assert {"id", "key", "name", "current", "achievements", "status"} <= set(metric["required"])
    assert metric["properties"]["status"] == {"enum": ["active"], "type": "string"}
    streak = SCHEMAS["UserStreak"]
    assert {"length", "frequency", "extended", "streakHistory", "pauses"} <= set(streak["required"])
    assert set(streak["properties"]["frequency"]["enum"]) == {"daily", "weekly", "monthly"}
    assert "freezes" not in streak["required"]  # only when the rules give freezes


def test_the_operations_answer_the_generated_schemas() -> None:
    paths = DOC["paths"]

    def ok(path: str, method: str, status: str = "200") -> Any:
        return paths[path][method]["responses"][status]["content"]["application/json"]["schema"]

    ref = "#/components/schemas/"
    assert ok("/v1/users/{id}/streak", "get") == {"$ref": ref + "UserStreak"}
    assert ok("/v1/users/{id}", "get") == {"$ref": ref + "User"}
    assert ok("/v1/metrics/events", "post", "202") == {"$ref": ref + "Accepted"}
    assert ok("/v1/streaks/rankings", "get")["items"] == {"$ref": ref + "StreakRankingUser"}
    missing = paths["/v1/users/{id}"]["get"]["responses"]["404"]
    assert missing["content"]["application/json"]["schema"] == {"$ref": ref + "Error"}


def test_a_pending_answer_leaves_out_an_idempotency_key_not_given() -> None:
    req = api.parse_event({"user": {"id": "18"}, "value": 1}, "words-written", RULES, None)
    wire = msgspec.json.decode(msgspec.json.encode(api.pending_response("e1", req, RULES)))
    assert "idempotencyKey" not in wire
    assert (wire["pending"], wire["total"], wire["currentStreak"]["extended"]) == (True, 0, False)
    assert wire["currentStreak"]["started"] is None  # Trophy: required, null when none
    keyed = api.parse_event({"user": {"id": "18"}, "value": 1}, "words-written", RULES, "k")
    wire = msgspec.json.decode(msgspec.json.encode(api.pending_response("e1", keyed, RULES)))
    assert wire["idempotencyKey"] == "k"


def test_points_schemas_say_what_trophy_says() -> None:
    """Required fields and enums as in Trophy's `PointsTrigger`, `PointsBoost`, `PointsLevel`,
    `PointsSystemResponse` and `PointsRange`."""
    trigger = SCHEMAS["PointsTrigger"]
    assert set(trigger["required"]) == {
        "id",
        "type",
        "points",
        "status",
        "userAttributes",
        "created",
        "updated",
    }
    types = {"metric", "achievement", "streak", "time", "user_creation"}
    assert set(trigger["properties"]["type"]["enum"]) == types
    assert set(trigger["properties"]["timeUnit"]["enum"]) == {"hour", "day"}
    boost = SCHEMAS["PointsBoost"]
    assert set(boost["required"]) == {
        "id",
        "name",
        "status",
        "start",
        "end",
        "multiplier",
        "rounding",
    }
    assert boost["properties"]["end"]["nullable"] is True
    assert set(boost["properties"]["rounding"]["enum"]) == {"down", "up", "nearest"}
    level = SCHEMAS["PointsLevel"]
    assert set(level["required"]) == {"id", "key", "name", "description", "badgeUrl", "points"}
    system = SCHEMAS["PointsSystem"]
    assert "key" not in system["properties"]
    assert system["properties"]["maxPoints"]["nullable"] is True
    assert set(SCHEMAS["PointsRange"]["properties"]) == {"from", "to", "users"}
    change = SCHEMAS["PointsChange"]
    assert "level" not in change["required"]  # only when the level changed
    assert change["properties"]["level"] == {
        "allOf": [{"$ref": "#/components/schemas/PointsLevel"}],
        "nullable": True,
    }
    event_points = SCHEMAS["EventResponse"]["properties"]["points"]
    assert event_points["additionalProperties"] == {"$ref": "#/components/schemas/PointsChange"}


def test_leaderboard_schemas_say_what_trophy_says() -> None:
    """Trophy's `LeaderboardResponse` required fields, with Podium's deviation: a number for
    `maxParticipants` always (Trophy's Node SDK refuses null); its `LeaderboardRanking` and
    `LeaderboardEvent`; a write's boards by key."""
    board = SCHEMAS["Leaderboard"]
    trophy_board = {
        "id",
        "name",
        "key",
        "status",
        "description",
        "rankBy",
        "breakdownAttribute",
        "breakdownAttributes",
        "start",
        "end",
        "startTime",
        "endTime",
        "maxParticipants",
        "runUnit",
        "runInterval",
    }
    assert trophy_board <= set(board["required"])
    assert "metricKey" not in board["required"]  # only on a board ranked by a metric
    assert board["properties"]["maxParticipants"] == {"type": "integer"}
    assert set(board["properties"]["rankBy"]["enum"]) == {"points", "streak", "metric"}
    assert set(board["properties"]["runUnit"]["enum"]) == {"day", "month", "year"}
    assert board["properties"]["runUnit"]["nullable"] is True
    assert set(board["properties"]["status"]["enum"]) == {"active", "scheduled", "finished"}
    ranking = SCHEMAS["LeaderboardRanking"]
    assert set(ranking["required"]) == {"userId", "userName", "rank", "value"}
    event = SCHEMAS["LeaderboardEvent"]
    assert set(event["required"]) == {
        "date",
        "timestamp",
        "previousRank",
        "rank",
        "previousValue",
        "value",
    }
    moved = SCHEMAS["EventLeaderboard"]
    assert {"rank", "previousRank", "threshold"} <= set(moved["required"])
    boards = SCHEMAS["EventResponse"]["properties"]["leaderboards"]
    assert boards["additionalProperties"] == {"$ref": "#/components/schemas/EventLeaderboard"}


def test_wrapped_schemas_say_what_trophy_says() -> None:
    """Trophy's `WrappedMostActiveMonth` counts months from 0 to 11; `WrappedEntireYear` has
    the longest streak; the answer holds the `User`."""
    month = SCHEMAS["WrappedMostActiveMonth"]["properties"]["month"]
    assert (month["type"], month["minimum"], month["maximum"]) == ("integer", 0, 11)
    year = SCHEMAS["WrappedEntireYear"]
    assert "longestStreak" in year["required"]
    assert {"metrics", "points", "achievements", "leaderboards"} <= set(year["required"])
    answer = SCHEMAS["WrappedResponse"]["properties"]
    assert answer["user"] == {"$ref": "#/components/schemas/User"}


def test_request_bodies_are_the_decoders_types() -> None:
    """The user of a write needs an id of 1 to 255 characters (a PATCH takes none), no other
    field than Trophy's `UpsertedUser` ones, at most 50 attributes; `tz` may be null (the
    decoder takes it as absent); a PATCH of preferences gives channels by notification type."""
    user = SCHEMAS["UpsertedUser"]
    assert user["required"] == ["id"]
    assert user["properties"]["id"] == {"type": "string", "minLength": 1, "maxLength": 255}
    assert user["additionalProperties"] is False
    assert user["properties"]["attributes"]["maxProperties"] == 50
    assert user["properties"]["tz"]["nullable"] is True
    fields = {"email", "name", "tz", "signUpDate", "deviceTokens", "subscribeToEmails"}
    assert set(user["properties"]) == {"id", "attributes", *fields}
    updated = SCHEMAS["UpdatedUser"]
    assert "id" not in updated["properties"] and "required" not in updated
    body = DOC["paths"]["/v1/users/{id}/preferences"]["patch"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"]
    notifications = SCHEMAS[ref.rsplit("/", 1)[1]]["properties"]["notifications"]
    channels = SCHEMAS[notifications["$ref"].rsplit("/", 1)[1]]["properties"]["recap"]
    assert channels == {"type": "array", "items": {"type": "string", "enum": ["email", "push"]}}


def test_the_rules_tuples_are_their_literals() -> None:
    """A boost's roundings and a time trigger's units, as the rules parser checks them, are
    the values of the Literals the answers' enums come from (written out here by hand)."""
    assert ROUNDINGS == ("down", "up", "nearest")
    assert TIME_UNITS == {"hour": 3_600_000, "day": 86_400_000}
    assert SCHEMAS["PointsBoost"]["properties"]["rounding"]["enum"] == sorted(ROUNDINGS)
    assert SCHEMAS["PointsTrigger"]["properties"]["timeUnit"]["enum"] == sorted(TIME_UNITS)
