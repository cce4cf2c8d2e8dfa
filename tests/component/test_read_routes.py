"""The gateway's read routes and /ready through the real app over fake views: each answer
parses into the Trophy SDK's own model and carries the figures of the view documents put in.

Expected figures are written out by hand from the rules file (`tests/rules/writing.toml`)
and the documents below; none is read back from the code under test."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient
from trophy.types import (
    AchievementWithStatsResponse,
    MetricResponse,
    StreakResponse,
    UserAchievementResponse,
)
from trophy.types import User as SdkUser

from ingest import telemetry
from ingest.app import build_app
from ingest.auth import KeyRing, hash_key
from tests.component.fakes import API_KEY, BASE_URL, NOW_MS, Stack, view

DAY = 86_400_000
ROOT = BASE_URL.removesuffix("/v1")


@pytest.fixture
def users(stack: Stack) -> Stack:
    """Three users: ann (two achievements, a 2-day streak), bob (one), cy (none)."""
    stack.views.put(
        view(
            "ann",
            name="Ann",
            tz="Europe/London",
            attributes={"plan": "pro"},
            totals={"words-written": "1250.5", "chapters-finished": "2"},
            achievements={"first-words": NOW_MS - 2 * DAY, "first-chapter": NOW_MS - DAY},
            streak={
                "length": 2,
                "frequency": "daily",
                "started": "2025-11-30",
                "periodStart": "2025-12-01",
                "periodEnd": "2025-12-01",
                "expires": "2025-12-02",
                "freezes": 1,
                "maxFreezes": 3,
                "freezeAutoEarnInterval": 7,
                "freezeAutoEarnAmount": 1,
                "longest": 2,
            },
            extendedMs=NOW_MS,
            history=[
                ["2025-11-29", "2025-11-29", 0, False, False],
                ["2025-11-30", "2025-11-30", 1, False, False],
                ["2025-12-01", "2025-12-01", 2, False, False],
            ],
        )
    )
    stack.views.put(
        view("bob", totals={"words-written": "3"}, achievements={"first-words": NOW_MS})
    )
    stack.views.put(view("cy"))
    return stack


def test_get_user(users: Stack, http: TestClient) -> None:
    resp = http.get("/users/ann")
    assert resp.status_code == 200
    user = SdkUser.model_validate(resp.json())
    assert (user.id, user.name, user.tz, user.attributes) == (
        "ann",
        "Ann",
        "Europe/London",
        {"plan": "pro"},
    )
    assert (user.subscribe_to_emails, user.control) == (True, False)  # never set: Trophy's true


def test_user_metrics_lists_every_metric_with_its_total(users: Stack, http: TestClient) -> None:
    resp = http.get("/users/ann/metrics")
    assert resp.status_code == 200
    metrics = [MetricResponse.model_validate(m) for m in resp.json()]
    assert [(m.key, m.name, m.current) for m in metrics] == [
        ("words-written", "Words written", 1250.5),
        ("chapters-finished", "Chapters finished", 2),
    ]
    words = {a.id: a.achieved_at for a in metrics[0].achievements}
    assert set(words) == {"first-words", "novella", "novelist", "pro-wordsmith"}
    assert words["novella"] is None and words["first-words"] is not None


def test_user_metric_of_a_user_without_a_total_is_zero(users: Stack, http: TestClient) -> None:
    resp = http.get("/users/cy/metrics/chapters-finished")
    assert resp.status_code == 200
    metric = MetricResponse.model_validate(resp.json())
    assert (metric.id, metric.current) == ("chapters-finished", 0)
    assert {a.id for a in metric.achievements} == {"first-chapter", "ten-chapters", "poet"}


def test_user_achievements_in_completion_order_with_rarity(users: Stack, http: TestClient) -> None:
    resp = http.get("/users/ann/achievements")
    assert resp.status_code == 200
    got = [UserAchievementResponse.model_validate(a) for a in resp.json()]
    # first-words: 2 of 3 users; first-chapter: 1 of 3
    assert [(a.id, a.completions, a.rarity) for a in got] == [
        ("first-words", 2, 66.67),
        ("first-chapter", 1, 33.33),
    ]
    assert [a["achievedAt"] for a in resp.json()] == [
        "2025-11-29T00:00:00.000Z",
        "2025-11-30T00:00:00.000Z",
    ]


def test_user_achievements_with_incomplete_ones_last(users: Stack, http: TestClient) -> None:
    resp = http.get("/users/ann/achievements", params={"includeIncomplete": "true"})
    assert resp.status_code == 200
    ids = [a["id"] for a in resp.json()]
    assert ids[:2] == ["first-words", "first-chapter"]
    assert len(ids) == 14 and len(set(ids)) == 14  # every achievement of the rules, once
    assert all(a["achievedAt"] is None for a in resp.json()[2:])


def test_user_streak_with_its_history(users: Stack, http: TestClient) -> None:
    resp = http.get("/users/ann/streak", params={"historyPeriods": "2"})
    assert resp.status_code == 200
    streak = StreakResponse.model_validate(resp.json())
    assert (streak.length, streak.started, streak.frequency) == (2, "2025-11-30", "daily")
    assert resp.json()["extended"] == "2025-12-01T00:00:00.000Z"
    assert [(h.period_start, h.length) for h in streak.streak_history] == [
        ("2025-11-30", 1),
        ("2025-12-01", 2),
    ]


def test_a_user_without_a_streak_has_length_zero(users: Stack, http: TestClient) -> None:
    resp = http.get("/users/cy/streak")
    assert resp.status_code == 200
    out = resp.json()
    assert (out["length"], out["extended"], out["streakHistory"]) == (0, None, [])


def test_achievements_with_stats_and_the_attribute_filter(users: Stack, http: TestClient) -> None:
    every = http.get("/achievements")
    assert every.status_code == 200
    stats = {a["id"]: a for a in every.json()}
    for item in every.json():
        AchievementWithStatsResponse.model_validate(item)
    assert len(stats) == 14
    assert (stats["first-words"]["completions"], stats["first-words"]["rarity"]) == (2, 66.67)
    assert (stats["novella"]["completions"], stats["novella"]["rarity"]) == (0, 0.0)
    free = http.get("/achievements", params={"userAttributes": "plan:free"}).json()
    assert {a["id"] for a in free} == set(stats) - {"pro-wordsmith"}


def test_streaks_of_several_users_longest_first(users: Stack, http: TestClient) -> None:
    resp = http.get("/streaks", params={"userIds": "cy,ann,nobody,ann"})
    assert resp.status_code == 200
    assert resp.json() == [
        {"userId": "ann", "streakLength": 2, "extended": "2025-12-01T00:00:00.000Z"},
        {"userId": "cy", "streakLength": 0, "extended": None},
        {"userId": "nobody", "streakLength": 0, "extended": None},
    ]


# --- /health and /ready ---------------------------------------------------------------------


def test_ready_when_every_part_answers(http: TestClient) -> None:
    resp = http.get(ROOT + "/ready")
    assert resp.status_code == 200
    assert resp.json() == {
        "status": "ready",
        "kafka": True,
        "progress": True,
        "redis": True,
        "views": True,
    }


@pytest.mark.parametrize("lost", ["whole", "boards_whole", "history_whole"])
def test_ready_says_the_views_are_being_rebuilt(stack: Stack, http: TestClient, lost: str) -> None:
    """While any epoch marker is missing (the projector rebuilds those views), the gateway
    still takes writes, so it stays ready; `views` false tells a client to wait before
    reading (`podium run`'s demo does)."""
    setattr(stack.views, lost, False)
    resp = http.get(ROOT + "/ready")
    assert resp.status_code == 200
    assert resp.json()["views"] is False


@pytest.mark.parametrize("down", ["kafka", "progress", "redis"])
def test_not_ready_names_what_is_down(stack: Stack, http: TestClient, down: str) -> None:
    part: Any = {"kafka": stack.publisher, "progress": stack.waiter}.get(down)
    if part is not None:
        part.ready = False
    else:
        stack.views.up = False
    resp = http.get(ROOT + "/ready")
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "1"
    body = resp.json()
    assert body["error"] == f"not ready: {down} unavailable"
    assert body[down] is False
    assert all(body[k] is True for k in ("kafka", "progress", "redis") if k != down)
    assert http.get(ROOT + "/health").json() == {"status": "ok"}


def test_lost_views_answer_503_not_a_false_404(users: Stack, http: TestClient) -> None:
    """Without the views' epoch marker (Redis lost them), a user the views do not hold may
    exist: the answer is 503 with Retry-After, never 404; a user still held is served."""
    users.views.whole = False
    for path in ("/users/nobody", "/users/nobody/metrics", "/users/nobody/streak"):
        resp = http.get(path)
        assert resp.status_code == 503, (path, resp.text)
        assert "rebuilt" in resp.json()["error"] and resp.headers["Retry-After"] == "1"
    assert http.get("/achievements").status_code == 503  # rarity would be partial
    for key, system in users.rules.points.items():  # so would the points summaries
        assert http.get(f"/points/{key}/summary").status_code == 503
        # a system without levels is refused (422) from the rules alone, views or not
        expected = 503 if system.levels else 422
        assert http.get(f"/points/{key}/level-summary").status_code == expected
    assert http.get("/users/ann").status_code == 200
    users.views.whole = True
    assert http.get("/users/nobody").status_code == 404


def test_an_unhandled_error_is_500_logged_and_counted(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug is Trophy's error shape with no detail, and `podium_gateway_internal_errors_total`
    moves (the log line carries the traceback)."""

    async def broken(user_id: str) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(stack.views, "user", broken)
    before = telemetry.INTERNAL_ERRORS._value.get()
    app = build_app(stack.gateway(), KeyRing([hash_key(API_KEY)]))
    with TestClient(
        app, base_url=BASE_URL, headers={"X-API-KEY": API_KEY}, raise_server_exceptions=False
    ) as http:
        resp = http.get("/users/ann")
    assert (resp.status_code, resp.json()) == (500, {"error": "internal error"})
    assert telemetry.INTERNAL_ERRORS._value.get() == before + 1
