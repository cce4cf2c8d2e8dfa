"""The leaderboard operations of the OpenAPI document (`ingest.openapi`): Trophy's three
paths, with the rules' board keys as the path enum, Trophy's shapes and the statuses each
operation answers (503 while the board views are being rebuilt)."""

from __future__ import annotations

from ingest.http import api_leaderboards as lb
from ingest.openapi_parts import INT, NULL_STR, STR, Schema, _answers, _obj, _ref
from schemas.rules import Rules

DAY: Schema = {"type": "string", "format": "date"}
NULL_INT: Schema = {"type": "integer", "nullable": True}
STATUS: Schema = {"type": "string", "enum": ["active", "scheduled", "finished"]}


def _query(name: str, schema: Schema) -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema}


BOARD_REQUIRED = [
    "id",
    "key",
    "name",
    "description",
    "rankBy",
    "status",
    "breakdownAttribute",
    "breakdownAttributes",
    "start",
    "end",
    "startTime",
    "endTime",
    "maxParticipants",
    "runUnit",
    "runInterval",
    "userAttributes",
]


def _board() -> Schema:
    """Trophy's `LeaderboardResponse` with `status`: the rank-by pair only where it applies."""
    return _obj(
        BOARD_REQUIRED,
        id=STR,
        key=STR,
        name=STR,
        description=NULL_STR,
        rankBy={"type": "string", "enum": ["metric", "points", "streak"]},
        metricKey=STR,
        metricName=STR,
        pointsSystemKey=STR,
        pointsSystemName=STR,
        status=STATUS,
        breakdownAttribute=NULL_STR,
        breakdownAttributes={"type": "array", "items": STR},
        start=DAY,
        end={**DAY, "nullable": True},
        startTime=NULL_STR,
        endTime=NULL_STR,
        maxParticipants=INT,
        runUnit={"type": "string", "enum": ["day", "month", "year"], "nullable": True},
        runInterval=NULL_INT,
        userAttributes={"type": "array", "items": _obj(["key", "value"], key=STR, value=STR)},
    )


def _event_board() -> Schema:
    """Trophy's `MetricEventLeaderboardResponse`: a board the event moved the user on, the
    run it counted in, the ranks after and before it, the threshold, the user's group."""
    pair = _obj(["key", "value"], key=STR, value=STR)
    moved = _obj(
        ["rank", "previousRank", "threshold"],
        rank=NULL_INT,
        previousRank=NULL_INT,
        threshold=INT,
        breakdownAttributeValue=STR,
        breakdownAttributeValues={"type": "array", "items": pair},
    )
    return {"allOf": [_board(), moved]}


def leaderboard_components() -> Schema:
    """Trophy's `LeaderboardResponse` (with `status`), `LeaderboardRanking`,
    `LeaderboardEvent` and the two answers built on them."""
    ranking = _obj(
        ["userId", "userName", "rank", "value"], userId=STR, userName=NULL_STR, rank=INT, value=INT
    )
    event = _obj(
        ["date", "timestamp", "previousRank", "rank", "previousValue", "value"],
        date=DAY,
        timestamp={"type": "string", "format": "date-time"},
        previousRank=NULL_INT,
        rank=NULL_INT,
        previousValue=NULL_INT,
        value=NULL_INT,
    )
    rankings = _obj(["rankings"], rankings={"type": "array", "items": _ref("LeaderboardRanking")})
    user = _obj(
        ["rank", "value", "history"],
        rank=NULL_INT,
        value=NULL_INT,
        history={"type": "array", "items": _ref("LeaderboardEvent")},
    )
    return {
        "Leaderboard": _board(),
        "LeaderboardRanking": ranking,
        "LeaderboardEvent": event,
        "LeaderboardWithRankings": {"allOf": [_ref("Leaderboard"), rankings]},
        "UserLeaderboard": {"allOf": [_ref("Leaderboard"), user]},
        "EventLeaderboard": _event_board(),
    }


def _page(run: Schema) -> list[Schema]:
    """The query parameters of GET /v1/leaderboards/{key}."""
    return [
        _query("offset", {**INT, "minimum": 0, "maximum": lb.MAX_OFFSET, "default": 0}),
        _query(
            "limit", {**INT, "minimum": 0, "maximum": lb.MAX_LIMIT, "default": lb.DEFAULT_LIMIT}
        ),
        run,
        _query("userId", STR),
        _query("userAttributes", STR),
    ]


def leaderboard_paths(rules: Rules, uid: Schema) -> Schema:
    """GET /v1/leaderboards, /v1/leaderboards/{key}, /v1/users/{id}/leaderboards/{key}; the
    last two only when the rules have a board (their key is an enum of the rules' boards)."""
    key = {
        "name": "key",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": list(rules.leaderboards)},
    }
    run = _query("run", DAY)
    events = _query(
        "numEvents", {**INT, "minimum": 0, "maximum": lb.MAX_EVENTS, "default": lb.DEFAULT_EVENTS}
    )
    boards = {"type": "array", "items": _ref("Leaderboard")}
    finished = _query("includeFinished", {"type": "boolean", "default": False})
    listed = {
        "/v1/leaderboards": {
            "get": {
                "operationId": "listLeaderboards",
                "parameters": [finished],
                "responses": _answers(200, boards, 422),
            }
        },
    }
    if not rules.leaderboards:  # no key to name: the two reads of one board answer only 404
        return listed
    return {
        **listed,
        "/v1/leaderboards/{key}": {
            "get": {
                "operationId": "getLeaderboard",
                "parameters": [key, *_page(run)],
                "responses": _answers(200, _ref("LeaderboardWithRankings"), 404, 422, 503),
            }
        },
        "/v1/users/{id}/leaderboards/{key}": {
            "get": {
                "operationId": "userLeaderboard",
                "parameters": [uid, key, run, events],
                "responses": _answers(200, _ref("UserLeaderboard"), 404, 422, 503),
            }
        },
    }
