"""The leaderboard operations of the OpenAPI document (`ingest.openapi`): Trophy's three
paths, with the rules' board keys as the path enum and the statuses each operation answers
(503 while the board views are being rebuilt); the shapes are generated from
`ingest.http.answers_leaderboards`."""

from __future__ import annotations

from ingest.http import api_leaderboards as lb
from ingest.openapi_parts import INT, STR, Schema, _answers, _ref
from schemas.rules import Rules

DAY: Schema = {"type": "string", "format": "date"}


def _query(name: str, schema: Schema) -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema}


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
