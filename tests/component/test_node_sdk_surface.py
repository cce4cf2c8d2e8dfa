"""What Trophy's Node SDK (`@trophyso/node` 1.0.42) requires beyond Trophy's OpenAPI document,
through the real app over fakes: a metric's `status`, a number for `maxParticipants` on a
board without a cap, `GET /streaks/rankings`, and the admin batch `POST /admin/v1/metrics/events`.

The SDK's parse rules are read from its serialization schemas (`MetricResponse.status` is
`"archived" | "active"`, `LeaderboardResponse.maxParticipants` a number, `StreakRankingUser`
`{userId, name?, streakLength}`); expected figures are written by hand from the documents put
into the fake views and the rules files (`tests/rules/writing.toml`, `leaderboards.toml`)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from starlette.testclient import TestClient

from schemas.commands import MetricTracked
from tests.component.fakes import BASE_URL, NOW_MS, Stack, view
from tests.rules import leaderboard_rules

ROOT = BASE_URL.removesuffix("/v1")
NO_CAP = 2**31 - 1  # docs/trophy-conformance.md: a board without a cap


def _streak(length: int, longest: int) -> dict[str, object]:
    dates = dict.fromkeys(("started", "periodStart", "periodEnd", "expires"))  # not read here
    return {"length": length, "longest": longest, "frequency": "daily", **dates}


@pytest.fixture
def streakers(stack: Stack) -> Stack:
    """ann 3 now (longest 3), bob 5 now (longest 5), cy 0 now (longest 9), dee 3 now (longest
    4), eve none."""
    stack.views.put(view("ann", name="Ann", streak=_streak(3, 3)))
    stack.views.put(view("bob", name="Bob", streak=_streak(5, 5)))
    stack.views.put(view("cy", streak=_streak(0, 9)))
    stack.views.put(view("dee", name="Dee", streak=_streak(3, 4)))
    stack.views.put(view("eve"))
    return stack


# --- a metric's status ----------------------------------------------------------------------


def test_every_metric_of_a_user_is_active(stack: Stack, http: TestClient) -> None:
    stack.views.put(view("ann", totals={"words-written": "12"}))
    every = http.get("/users/ann/metrics").json()
    assert [(m["key"], m["status"]) for m in every] == [
        ("words-written", "active"),
        ("chapters-finished", "active"),
    ]
    one = http.get("/users/ann/metrics/words-written").json()
    assert (one["status"], one["current"]) == ("active", 12)


# --- maxParticipants ------------------------------------------------------------------------


def test_a_board_without_a_cap_answers_the_largest_offset_as_its_cap() -> None:
    stack = Stack(leaderboard_rules())
    with stack.client() as http:
        every = {b["key"]: b["maxParticipants"] for b in http.get("/leaderboards").json()}
        one = http.get("/leaderboards/all-time-words").json()
    # weekly-words has `max_participants = 3`; the others have none
    assert every == {
        "all-time-words": NO_CAP,
        "weekly-words": 3,
        "night-owls": NO_CAP,
        "longest-streak": NO_CAP,
    }
    assert one["maxParticipants"] == NO_CAP


# --- GET /streaks/rankings ------------------------------------------------------------------


def test_active_rankings_longest_first_ties_by_user_id(streakers: Stack, http: TestClient) -> None:
    resp = http.get("/streaks/rankings")
    assert resp.status_code == 200
    assert resp.json() == [
        {"userId": "bob", "name": "Bob", "streakLength": 5},
        {"userId": "ann", "name": "Ann", "streakLength": 3},
        {"userId": "dee", "name": "Dee", "streakLength": 3},
    ]


def test_longest_rankings_with_a_limit(streakers: Stack, http: TestClient) -> None:
    resp = http.get("/streaks/rankings", params={"type": "longest", "limit": "2"})
    assert resp.status_code == 200
    assert resp.json() == [
        {"userId": "cy", "name": None, "streakLength": 9},
        {"userId": "bob", "name": "Bob", "streakLength": 5},
    ]


def test_no_streaks_no_rankings(http: TestClient) -> None:
    resp = http.get("/streaks/rankings", params={"type": "active", "limit": "100"})
    assert resp.status_code == 200 and resp.json() == []


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ({"limit": "0"}, "limit: expected an integer from 1 to 100, got 0"),
        ({"limit": "101"}, "limit: expected an integer from 1 to 100, got 101"),
        ({"limit": "ten"}, "limit: expected an integer from 1 to 100, got 'ten'"),
        ({"limit": ""}, "limit: expected an integer from 1 to 100, got ''"),
        ({"type": "current"}, "type: expected active or longest, got 'current'"),
        ({"type": ""}, "type: expected active or longest, got ''"),
    ],
)
def test_rankings_refuse_a_bad_limit_or_type(
    streakers: Stack, http: TestClient, query: dict[str, str], words: str
) -> None:
    resp = http.get("/streaks/rankings", params=query)
    assert resp.status_code == 422
    assert resp.json() == {"error": words}


def test_lost_views_answer_503_not_empty_rankings(streakers: Stack, http: TestClient) -> None:
    streakers.views.whole = False
    resp = http.get("/streaks/rankings")
    assert resp.status_code == 503 and resp.headers["retry-after"] == "1"


# --- POST /admin/v1/metrics/events ----------------------------------------------------------


def test_the_admin_batch_takes_a_bare_array(stack: Stack, http: TestClient) -> None:
    events = [
        {"key": "words-written", "user": {"id": "a", "name": "A"}, "value": 4},
        {"key": "chapters-finished", "user": {"id": "b"}, "value": 1, "idempotencyKey": "k"},
    ]
    resp = http.post(ROOT + "/admin/v1/metrics/events", json=events)
    assert resp.status_code == 202 and resp.json() == {"accepted": 2}
    got = [
        (c.event_id, c.time_ms, c.user.id, c.metric, c.value, c.idempotency_key)
        for c in stack.publisher.published
        if isinstance(c, MetricTracked)
    ]
    assert got == [
        ("ev-1", NOW_MS, "a", "words-written", Decimal(4), None),
        ("ev-2", NOW_MS, "b", "chapters-finished", Decimal(1), "k"),
    ]


def test_the_admin_batch_refuses_like_the_batch(stack: Stack, http: TestClient) -> None:
    resp = http.post(ROOT + "/admin/v1/metrics/events", json=[])
    assert resp.status_code == 422 and "send 1 to 1000 events" in resp.json()["error"]
    bad = [{"key": "no-such-metric", "user": {"id": "a"}, "value": 1}]
    resp = http.post(ROOT + "/admin/v1/metrics/events", json=bad)
    assert resp.status_code == 404 and "no-such-metric" in resp.json()["error"]
    assert stack.publisher.published == []


def test_other_admin_paths_stay_unserved(http: TestClient) -> None:
    assert http.get(ROOT + "/admin/v1/metrics/events").status_code == 404
    assert http.post(ROOT + "/admin/v1/streaks/freezes", json={}).status_code == 404


def test_the_openapi_document_lists_the_new_operations(http: TestClient) -> None:
    doc = http.get("/openapi.json").json()
    assert doc["paths"]["/v1/streaks/rankings"]["get"]["operationId"] == "streakRankings"
    assert doc["paths"]["/admin/v1/metrics/events"]["post"]["operationId"] == "adminBatchEvents"
    metric = doc["components"]["schemas"]["Metric"]
    assert metric["properties"]["status"] == {"type": "string", "enum": ["active"]}
