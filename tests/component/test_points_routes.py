"""The points routes through the real app over fake views (`tests.component.fakes`): each
answer parses into the Trophy SDK's own model and carries the figures of the view documents
and Progress put in; each refusal has the status Trophy's OpenAPI document lists for the
operation and names what is wrong.

Expected figures are written out by hand from `tests/rules/points.toml` and the documents
below; none is read back from the code under test."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter
from starlette.testclient import TestClient
from trophy.types import (
    AchievementCompletionResponse,
    EventResponse,
    GetUserPointsResponse,
    PointsBoost,
    PointsLevel,
    PointsLevelSummaryResponseItem,
    PointsRange,
    PointsSystemResponse,
)
from trophy.users.types import UsersPointsEventSummaryResponseItem

from schemas.records import AchievementCompleted, PointsAward, PointsChanged, Progress
from schemas.rules import Rules
from tests.component.fakes import NOW_MS, Stack, view
from tests.rules import points_rules

DAY = 86_400_000
TODAY = "2025-12-01"  # NOW_MS's UTC date, a Monday
PRO = ["pro-double"]


@pytest.fixture(scope="module")
def rules() -> Rules:
    return points_rules()


@pytest.fixture
def users(stack: Stack) -> Stack:
    """ann (pro): 160 XP (journeyman) and 6 karma; bob: 20 XP; cy: no points at all."""
    ann_awards = [
        ["welcome", "ev-a1", 40, NOW_MS - DAY, 40, 1, PRO],
        ["per-100-words", "ev-a2", 60, NOW_MS, 100, 3, PRO],
        ["first-words", "ev-a2", 10, NOW_MS, 110, 1, PRO],
        ["poetry-chapter", "ev-a3", 50, NOW_MS + 1, 160, 1, PRO],
    ]
    stack.views.put(
        view(
            "ann",
            attributes={"plan": "pro"},
            points={
                "xp": {
                    "total": 160,
                    "level": "journeyman",
                    "awards": ann_awards,
                    "days": [["2025-11-30", 40, 40], [TODAY, 120, 160]],
                },
                "karma": {
                    "total": 6,
                    "level": None,
                    "awards": [["chapter", "ev-a3", 6, NOW_MS, 6, 2, []]],
                    "days": [[TODAY, 6, 6]],
                },
            },
        )
    )
    welcome = [["welcome", "ev-b1", 20, NOW_MS, 20, 1, []]]
    bob_xp = {"total": 20, "level": "apprentice", "awards": welcome, "days": [[TODAY, 20, 20]]}
    stack.views.put(view("bob", attributes={"plan": "free"}, points={"xp": bob_xp}))
    stack.views.put(view("cy"))
    return stack


def _list(model: Any, body: Any) -> list[Any]:
    return TypeAdapter(list[model]).validate_python(body)


# --- a user's points ------------------------------------------------------------------------


def test_user_points_total_level_and_newest_awards_first(users: Stack, http: TestClient) -> None:
    resp = http.get("/users/ann/points/xp")
    assert resp.status_code == 200, resp.text
    out = GetUserPointsResponse.model_validate(resp.json())
    assert (out.id, out.key, out.name, out.total) == ("xp", "xp", "XP", 160)
    assert out.level is not None and (out.level.key, out.level.points) == ("journeyman", 100)
    assert [a.id for a in out.awards] == [
        "ann:points:xp:poetry-chapter:ev-a3",
        "ann:points:xp:first-words:ev-a2",
        "ann:points:xp:per-100-words:ev-a2",
        "ann:points:xp:welcome:ev-a1",
    ]
    newest = out.awards[0]
    assert (newest.awarded, newest.total, newest.date) == (50, 160, "2025-12-01T00:00:00.001Z")
    assert newest.trigger is not None and newest.trigger.type == "metric"
    assert newest.trigger.event_attributes is not None
    assert [(p.key, p.value) for p in newest.trigger.event_attributes] == [("genre", "poetry")]
    assert [b.id for b in newest.boosts or []] == ["pro-double"]

    two = GetUserPointsResponse.model_validate(http.get("/users/ann/points/xp?awards=2").json())
    assert [a.awarded for a in two.awards] == [50, 10]


def test_a_user_without_points_has_zero_and_no_level(users: Stack, http: TestClient) -> None:
    out = GetUserPointsResponse.model_validate(http.get("/users/cy/points/xp").json())
    assert (out.total, out.level, out.awards) == (0, None, [])


@pytest.mark.parametrize(
    ("path", "status", "names"),
    [
        ("/users/ann/points/gold", 404, "points system 'gold'"),
        ("/users/nobody/points/xp", 404, "user 'nobody'"),
        ("/users/ann/points/xp?awards=0", 422, "awards"),
        ("/users/ann/points/xp?awards=101", 422, "awards"),
        ("/users/ann/points/xp?awards=all", 422, "awards"),
        ("/users/ann/points/gold/boosts", 404, "points system 'gold'"),
        ("/users/nobody/points/xp/boosts", 404, "user 'nobody'"),
        ("/users/ann/points/gold/event-summary", 404, "points system 'gold'"),
        ("/points/gold", 404, "points system 'gold'"),
        ("/points/gold/summary", 404, "points system 'gold'"),
        ("/points/gold/levels", 404, "points system 'gold'"),
        ("/points/gold/level-summary", 404, "points system 'gold'"),
        ("/points/gold/boosts", 404, "points system 'gold'"),
        ("/points/xp/summary?userAttributes=plan", 422, "userAttributes"),
        ("/points/karma/level-summary", 422, "points system 'karma' has no levels"),
    ],
)
def test_refusals_name_what_is_wrong(
    users: Stack, http: TestClient, path: str, status: int, names: str
) -> None:
    resp = http.get(path)
    assert resp.status_code == status, resp.text
    assert names in resp.json()["error"]


SUMMARY = "/users/ann/points/xp/event-summary"


def test_event_summary_daily_in_the_users_days(users: Stack, http: TestClient) -> None:
    q = "?aggregation=daily&startDate=2025-11-29&endDate=2025-12-02"
    resp = http.get(SUMMARY + q)
    assert resp.status_code == 200, resp.text
    rows = _list(UsersPointsEventSummaryResponseItem, resp.json())
    assert [(r.date, r.total, r.change) for r in rows] == [
        ("2025-11-29", 0, 0),
        ("2025-11-30", 40, 40),
        ("2025-12-01", 160, 120),
        ("2025-12-02", 160, 0),
    ]


def test_event_summary_weekly_starts_periods_on_the_rules_week_start(
    users: Stack, http: TestClient
) -> None:
    q = "?aggregation=weekly&startDate=2025-11-24&endDate=2025-12-07"
    rows = _list(UsersPointsEventSummaryResponseItem, http.get(SUMMARY + q).json())
    assert [(r.date, r.total, r.change) for r in rows] == [
        ("2025-11-24", 40, 40),
        ("2025-12-01", 160, 120),
    ]


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("?startDate=2025-11-01&endDate=2025-11-02", "aggregation"),
        ("?aggregation=yearly&startDate=2025-11-01&endDate=2025-11-02", "aggregation"),
        ("?aggregation=daily&endDate=2025-11-02", "startDate"),
        ("?aggregation=daily&startDate=2025-11-01&endDate=02/11/2025", "endDate"),
        ("?aggregation=daily&startDate=2025-11-02&endDate=2025-11-01", "endDate"),
        ("?aggregation=daily&startDate=2024-01-01&endDate=2025-12-01", "400 days"),
    ],
)
def test_event_summary_refuses_bad_parameters_with_422(
    users: Stack, http: TestClient, query: str, names: str
) -> None:
    resp = http.get(SUMMARY + query)
    assert resp.status_code == 422, resp.text
    assert names in resp.json()["error"]


def test_user_boosts_are_the_active_ones_the_user_is_eligible_for(
    users: Stack, http: TestClient
) -> None:
    ann = _list(PointsBoost, http.get("/users/ann/points/xp/boosts").json())
    assert [(b.id, b.status, b.multiplier, b.end) for b in ann] == [
        ("pro-double", "active", 2.0, None)
    ]
    assert http.get("/users/bob/points/xp/boosts").json() == []


# --- a system -------------------------------------------------------------------------------


def test_system_and_its_triggers(users: Stack, http: TestClient) -> None:
    resp = http.get("/points/xp")
    assert resp.status_code == 200, resp.text
    out = PointsSystemResponse.model_validate(resp.json())
    assert (out.id, out.name, out.description, out.max_points) == (
        "xp",
        "XP",
        "Experience for writing",
        None,
    )
    assert [(t.id, t.type, t.points, t.status) for t in out.triggers] == [
        ("per-100-words", "metric", 10, "active"),
        ("poetry-chapter", "metric", 25, "active"),
        ("first-words", "achievement", 5, "active"),
        ("beta-reader", "achievement", 40, "active"),
        ("welcome", "user_creation", 20, "active"),
    ]
    words = out.triggers[0]
    assert (words.metric_id, words.metric_name, words.metric_threshold) == (
        "words-written",
        "Words written",
        100,
    )
    assert out.triggers[3].achievement_name == "Beta reader"
    karma = PointsSystemResponse.model_validate(http.get("/points/karma").json())
    assert karma.max_points == 50


def test_summary_is_eleven_ranges_over_the_users_with_a_standing(
    users: Stack, http: TestClient
) -> None:
    resp = http.get("/points/xp/summary")
    assert resp.status_code == 200, resp.text
    ranges = _list(PointsRange, resp.json())
    # totals 160 and 20 (cy has no standing in xp): 160 rounds up to 1000, ranges of 100
    assert [(r.from_, r.to) for r in ranges[:3]] == [(0, 0), (1, 100), (101, 200)]
    assert ranges[-1].to == 1000 and len(ranges) == 11
    assert [r.users for r in ranges] == [0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]


def test_summary_filtered_by_user_attributes(users: Stack, http: TestClient) -> None:
    ranges = _list(PointsRange, http.get("/points/xp/summary?userAttributes=plan:pro").json())
    assert [r.users for r in ranges] == [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    free = _list(PointsRange, http.get("/points/xp/summary?userAttributes=plan:free").json())
    # bob's 20 XP alone: the greatest rounds up to 100, ten ranges of 10
    assert [(r.from_, r.to, r.users) for r in free[:3]] == [(0, 0, 0), (1, 10, 0), (11, 20, 1)]
    assert sum(r.users for r in free) == 1 and free[-1].to == 100


def test_levels_and_level_summary(users: Stack, http: TestClient) -> None:
    levels = _list(PointsLevel, http.get("/points/xp/levels").json())
    assert [(lv.key, lv.name, lv.points, lv.description) for lv in levels] == [
        ("apprentice", "Apprentice", 0, ""),
        ("journeyman", "Journeyman", 100, "100 XP"),
        ("master", "Master", 500, ""),
    ]
    assert levels[2].badge_url == "https://example.com/badges/master.png"
    resp = http.get("/points/xp/level-summary")
    assert resp.status_code == 200, resp.text
    summary = _list(PointsLevelSummaryResponseItem, resp.json())
    assert [(s.level.key, s.users) for s in summary] == [
        ("apprentice", 1),  # bob (20); cy was never awarded xp: no level, not counted
        ("journeyman", 1),  # ann (160)
        ("master", 0),
    ]
    assert http.get("/points/karma/levels").json() == []


def test_system_boosts_leave_finished_ones_out_unless_asked(users: Stack, http: TestClient) -> None:
    default = _list(PointsBoost, http.get("/points/xp/boosts").json())
    assert [(b.id, b.status) for b in default] == [
        ("pro-double", "active"),
        ("future-half", "scheduled"),
    ]
    every = _list(PointsBoost, http.get("/points/xp/boosts?includeFinished=true").json())
    assert [(b.id, b.status) for b in every] == [
        ("pro-double", "active"),
        ("launch-triple", "finished"),
        ("future-half", "scheduled"),
    ]
    for odd in ("maybe", "", "1", "False"):  # Trophy lists no 422 here: the default
        resp = http.get(f"/points/xp/boosts?includeFinished={odd}")
        assert (resp.status_code, _list(PointsBoost, resp.json())) == (200, default), odd
    assert _list(PointsBoost, http.get("/points/xp/boosts?includeFinished=TRUE").json()) == every
    launch = every[1]
    assert (launch.start, launch.end, launch.multiplier, launch.rounding) == (
        "2020-01-01T00:00:00.000Z",
        "2020-02-01T00:00:00.000Z",
        3.0,
        "down",
    )


# --- points in the write answers ------------------------------------------------------------


def _award(system: str, trigger: str, points: int, total: int) -> PointsAward:
    return PointsAward(
        id=f"u1:points:{system}:{trigger}:ev-1",
        trigger=trigger,
        points=points,
        time_ms=NOW_MS,
        total=total,
    )


def _changed(
    system: str, awards: tuple[PointsAward, ...], before: str | None, after: str | None
) -> PointsChanged:
    return PointsChanged(
        id=awards[0].id,
        user_id="u1",
        system=system,
        event_id="ev-1",
        time_ms=NOW_MS,
        total=awards[-1].total,
        added=sum(a.points for a in awards),
        awards=awards,
        previous_level=before,
        level=after,
    )


def test_an_event_answer_carries_only_the_systems_it_changed(
    stack: Stack, http: TestClient
) -> None:
    xp = _changed("xp", (_award("xp", "per-100-words", 20, 120),), "apprentice", "journeyman")
    karma = _changed("karma", (_award("karma", "chapter", 3, 9),), None, None)
    stack.waiter.hand(
        Progress(
            id="u1:progress:ev-1",
            event_id="ev-1",
            user_id="u1",
            command="metric",
            time_ms=NOW_MS,
            metric="words-written",
            points=(xp, karma),
        )
    )
    resp = http.post("/metrics/words-written/event", json={"user": {"id": "u1"}, "value": 200})
    assert resp.status_code == 201, resp.text
    out = EventResponse.model_validate(resp.json())
    assert set(out.points) == {"xp", "karma"}
    gained = out.points["xp"]
    assert (gained.total, gained.added) == (120, 20)
    assert gained.level is not None and gained.level.key == "journeyman"
    assert [(a.id, a.awarded, a.total) for a in gained.awards] == [
        ("u1:points:xp:per-100-words:ev-1", 20, 120)
    ]
    assert (out.points["karma"].total, out.points["karma"].added) == (9, 3)
    assert "level" not in resp.json()["points"]["karma"]  # unchanged: left out


def test_a_completion_answer_carries_its_points(stack: Stack, http: TestClient) -> None:
    done = AchievementCompleted(
        id="u1:beta-reader",
        user_id="u1",
        achievement="beta-reader",
        achieved_at_ms=NOW_MS,
        trigger="api",
        event_id="ev-1",
    )
    xp = _changed("xp", (_award("xp", "beta-reader", 40, 40),), None, "apprentice")
    stack.waiter.hand(
        Progress(
            id="u1:progress:ev-1",
            event_id="ev-1",
            user_id="u1",
            command="achievement",
            time_ms=NOW_MS,
            achievements=(done,),
            points=(xp,),
        )
    )
    resp = http.post("/achievements/beta-reader/complete", json={"user": {"id": "u1"}})
    assert resp.status_code == 201, resp.text
    out = AchievementCompletionResponse.model_validate(resp.json())
    assert list(out.points) == ["xp"]
    assert (out.points["xp"].total, out.points["xp"].added) == (40, 40)
    trigger = out.points["xp"].awards[0].trigger
    assert trigger is not None and trigger.achievement_id == "beta-reader"


def test_the_openapi_document_lists_the_points_operations(http: TestClient) -> None:
    doc = http.get("/openapi.json").json()
    ops = {
        (path, op["operationId"])
        for path, item in doc["paths"].items()
        for op in item.values()
        if "/points" in path
    }
    assert {p for p, _ in ops} == {
        "/v1/users/{id}/points/{key}",
        "/v1/users/{id}/points/{key}/event-summary",
        "/v1/users/{id}/points/{key}/boosts",
        "/v1/points/{key}",
        "/v1/points/{key}/summary",
        "/v1/points/{key}/levels",
        "/v1/points/{key}/level-summary",
        "/v1/points/{key}/boosts",
    }
    summary = doc["paths"]["/v1/users/{id}/points/{key}/event-summary"]["get"]
    assert sorted(summary["responses"]) == ["200", "401", "404", "422"]  # as Trophy's
    boosts = doc["paths"]["/v1/points/{key}/boosts"]["get"]
    assert sorted(boosts["responses"]) == ["200", "401", "404"]  # as Trophy's: no 422
    key = doc["paths"]["/v1/points/{key}"]["get"]["parameters"][0]
    assert key["schema"]["enum"] == ["karma", "xp"]
