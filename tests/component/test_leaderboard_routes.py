"""The leaderboard routes through the real app over fake views (`tests.component.fakes`): each
answer parses into the Trophy SDK's own model and carries the entries put into the fake
sorted sets; each refusal has a status Trophy's OpenAPI document lists for the operation and
names what is wrong.

Rules: `tests/rules/leaderboards.toml` (weeks from Sunday). The fake clock is Monday
2025-12-01 00:00 UTC, so the weekly run is the one from Sunday 2025-11-30, the daily
`night-owls` run is 2025-12-01 in UTC but 2025-11-30 in New York, and `monthly-chapters`
(31 Jan to 30 Jun 2025, runs from the 31st or a shorter month's last day) is finished.
Run names and group names below are written out by hand from those rules."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from typing import Any

import pytest
from pydantic import TypeAdapter
from starlette.testclient import TestClient
from trophy import LeaderboardsAllResponseItem
from trophy.types import LeaderboardResponseWithRankings, UserLeaderboardResponseWithHistory

from schemas.rules import Rules
from schemas.views import HistoryDay
from tests.component.fakes import NOW_MS, Stack, view
from tests.rules import leaderboard_rules

ALL_TIME = "all-time-words|all|"
WEEK = "weekly-words|2025-11-30|"
PRO_EU = "plan=pro&region=eu"


@pytest.fixture(scope="module")
def rules() -> Rules:
    return leaderboard_rules()


@pytest.fixture
def boards(stack: Stack) -> Stack:
    """all-time-words: bob and ann tie on 500 (bob reached it first), cy and dee tie on 300.5
    at the same millisecond (user id decides), eve has 100."""
    v = stack.views
    v.put(view("ann", name="Ann", tz="Europe/London"))
    v.put(view("bob", name="Bob"))
    v.put(view("ny", name="Nia", tz="America/New_York"))
    v.put(view("pia", attributes={"plan": "pro", "region": "eu"}))
    v.put(view("quin", attributes={"plan": "pro"}))  # no region: in no group
    v.score(ALL_TIME, "ann", 500, NOW_MS - 10)
    v.score(ALL_TIME, "bob", 500, NOW_MS - 20)
    v.score(ALL_TIME, "dee", 300.5, NOW_MS - 5)
    v.score(ALL_TIME, "cy", 300.5, NOW_MS - 5)
    v.score(ALL_TIME, "eve", 100)
    return stack


def _get(http: TestClient, path: str) -> LeaderboardResponseWithRankings:
    resp = http.get(path)
    assert resp.status_code == 200, resp.text
    return LeaderboardResponseWithRankings.model_validate(resp.json())


def _ranks(out: LeaderboardResponseWithRankings) -> list[tuple[str, int, int]]:
    return [(r.user_id, r.rank, r.value) for r in out.rankings]


# --- GET /leaderboards ----------------------------------------------------------------------


def _all(http: TestClient, query: str = "") -> list[Any]:
    resp = http.get("/leaderboards" + query)
    assert resp.status_code == 200, resp.text
    return TypeAdapter(list[LeaderboardsAllResponseItem]).validate_python(resp.json())


def test_all_leaves_finished_boards_out_unless_asked(http: TestClient) -> None:
    assert [(b.key, b.status) for b in _all(http)] == [
        ("all-time-words", "active"),
        ("weekly-words", "active"),
        ("night-owls", "active"),
        ("longest-streak", "active"),
    ]
    every = _all(http, "?includeFinished=true")
    assert [b.key for b in every] == [
        "all-time-words",
        "weekly-words",
        "monthly-chapters",
        "night-owls",
        "longest-streak",
    ]
    assert every[2].status == "finished"
    assert [b.key for b in _all(http, "?includeFinished=false")] == [
        "all-time-words",
        "weekly-words",
        "night-owls",
        "longest-streak",
    ]


def test_all_carries_each_boards_configuration(http: TestClient) -> None:
    by_key = {b.key: b for b in _all(http, "?includeFinished=true")}
    weekly = by_key["weekly-words"]
    assert (weekly.id, weekly.name, weekly.description) == (
        "weekly-words",
        "Weekly words",
        "Words this week, from Sunday",
    )
    assert (weekly.rank_by, weekly.metric_key, weekly.metric_name) == ("metric", "words", "Words")
    assert (weekly.run_unit, weekly.run_interval, weekly.max_participants) == ("day", 7, 3)
    assert (weekly.start, weekly.end, weekly.breakdown_attributes) == ("1970-01-01", None, [])
    monthly = by_key["monthly-chapters"]
    assert (monthly.start, monthly.end, monthly.run_unit) == ("2025-01-31", "2025-06-30", "month")
    assert monthly.breakdown_attributes == ["plan", "region"]
    assert monthly.breakdown_attribute is None  # deprecated; one attribute only
    owls = by_key["night-owls"]
    assert (owls.start_time, owls.end_time) == ("22:00", "06:00")
    streak = by_key["longest-streak"]
    assert (streak.rank_by, streak.run_unit, streak.run_interval) == ("streak", None, None)
    assert streak.metric_key is None and streak.user_attributes == []


# --- GET /leaderboards/{key} ----------------------------------------------------------------


def test_rankings_in_the_views_order_with_names_and_floored_values(
    boards: Stack, http: TestClient
) -> None:
    out = _get(http, "/leaderboards/all-time-words")
    assert (out.key, out.status, out.run_unit) == ("all-time-words", "active", None)
    assert _ranks(out) == [
        ("bob", 1, 500),
        ("ann", 2, 500),
        ("cy", 3, 300),
        ("dee", 4, 300),
        ("eve", 5, 100),
    ]
    assert [r.user_name for r in out.rankings] == ["Bob", "Ann", None, None, None]


def test_offset_and_limit_page_the_rankings(boards: Stack, http: TestClient) -> None:
    page = _get(http, "/leaderboards/all-time-words?offset=1&limit=2")
    assert _ranks(page) == [("ann", 2, 500), ("cy", 3, 300)]
    assert _get(http, "/leaderboards/all-time-words?limit=0").rankings == []
    assert _get(http, "/leaderboards/all-time-words?offset=5").rankings == []
    assert len(_get(http, "/leaderboards/all-time-words?limit=1000").rankings) == 5


def test_user_id_counts_the_offset_from_the_users_place(boards: Stack, http: TestClient) -> None:
    assert _ranks(_get(http, "/leaderboards/all-time-words?userId=cy&limit=2")) == [
        ("cy", 3, 300),
        ("dee", 4, 300),
    ]
    assert _ranks(_get(http, "/leaderboards/all-time-words?userId=cy&offset=1")) == [
        ("dee", 4, 300),
        ("eve", 5, 100),
    ]
    assert _get(http, "/leaderboards/all-time-words?userId=nobody").rankings == []


def test_the_cap_hides_participants_beyond_it(boards: Stack, http: TestClient) -> None:
    for i, user in enumerate(("u1", "u2", "u3", "u4")):
        boards.views.score(WEEK, user, 40 - i)
    assert [r.user_id for r in _get(http, "/leaderboards/weekly-words").rankings] == [
        "u1",
        "u2",
        "u3",
    ]
    assert _ranks(_get(http, "/leaderboards/weekly-words?offset=2&limit=5")) == [("u3", 3, 38)]
    assert _get(http, "/leaderboards/weekly-words?userId=u4").rankings == []
    assert _get(http, "/leaderboards/weekly-words?userId=u3&offset=1").rankings == []


def test_run_names_a_run_by_a_date_in_it(boards: Stack, http: TestClient) -> None:
    boards.views.score("weekly-words|2025-11-23|", "old", 7)
    boards.views.score(WEEK, "new", 9)
    for day in ("2025-11-23", "2025-11-25", "2025-11-29"):
        assert _ranks(_get(http, f"/leaderboards/weekly-words?run={day}")) == [("old", 1, 7)]
    assert _ranks(_get(http, "/leaderboards/weekly-words?run=2025-11-30")) == [("new", 1, 9)]
    assert _ranks(_get(http, "/leaderboards/weekly-words")) == [("new", 1, 9)]


def test_the_current_run_is_todays_in_the_users_zone(boards: Stack, http: TestClient) -> None:
    boards.views.score("night-owls|2025-11-30|", "ny", 5)  # Sunday evening in New York
    boards.views.score("night-owls|2025-12-01|", "ann", 3)  # Monday in UTC (and London)
    assert _ranks(_get(http, "/leaderboards/night-owls?userId=ny")) == [("ny", 1, 5)]
    assert _ranks(_get(http, "/leaderboards/night-owls")) == [("ann", 1, 3)]
    assert _ranks(_get(http, "/leaderboards/night-owls?userId=ann")) == [("ann", 1, 3)]


def test_user_attributes_choose_a_breakdown_group(boards: Stack, http: TestClient) -> None:
    boards.views.score(f"monthly-chapters|2025-06-30|{PRO_EU}", "pia", 4)
    boards.views.score("monthly-chapters|2025-06-30|plan=free&region=eu", "fred", 6)
    boards.views.score(f"monthly-chapters|2025-05-31|{PRO_EU}", "pia", 2)
    # finished: without run= the last run, the one from 30 June
    out = _get(http, "/leaderboards/monthly-chapters?userAttributes=region:eu,plan:pro")
    assert (out.status, _ranks(out)) == ("finished", [("pia", 1, 4)])
    free = _get(http, "/leaderboards/monthly-chapters?userAttributes=plan:free,region:eu")
    assert _ranks(free) == [("fred", 1, 6)]
    may = "/leaderboards/monthly-chapters?run=2025-06-15&userAttributes=plan:pro,region:eu"
    assert _ranks(_get(http, may)) == [("pia", 1, 2)]


@pytest.mark.parametrize(
    ("path", "status", "names"),
    [
        ("/leaderboards/nope", 404, "leaderboard 'nope'"),
        ("/leaderboards/nope/x", 404, "no such endpoint"),
        ("/leaderboards?includeFinished=maybe", 422, "includeFinished"),
        ("/leaderboards/all-time-words?offset=-1", 422, "offset"),
        ("/leaderboards/all-time-words?offset=x", 422, "offset"),
        ("/leaderboards/all-time-words?limit=1001", 422, "limit"),
        ("/leaderboards/all-time-words?limit=", 422, "limit"),
        ("/leaderboards/all-time-words?run=2025-13-01", 422, "run"),
        ("/leaderboards/all-time-words?run=20251201", 422, "run"),
        ("/leaderboards/all-time-words?userAttributes=plan:pro", 422, "no breakdown"),
        ("/leaderboards/monthly-chapters", 422, "missing plan, region"),
        ("/leaderboards/monthly-chapters?userAttributes=plan:pro", 422, "missing region"),
        (
            "/leaderboards/monthly-chapters?userAttributes=plan:pro,region:eu,tier:1",
            422,
            "unknown tier",
        ),
        ("/leaderboards/monthly-chapters?userAttributes=plan", 422, "userAttributes"),
        (
            "/leaderboards/monthly-chapters?run=2025-07-01&userAttributes=plan:a,region:b",
            404,
            "no run on 2025-07-01: it runs from 2025-01-31 until 2025-06-30",
        ),
        (
            "/leaderboards/monthly-chapters?run=2025-01-30&userAttributes=plan:a,region:b",
            404,
            "no run on 2025-01-30",
        ),
        ("/users/ann/leaderboards/nope", 404, "leaderboard 'nope'"),
        ("/users/nobody/leaderboards/all-time-words", 404, "user 'nobody'"),
        ("/users/ann/leaderboards/all-time-words?numEvents=101", 422, "numEvents"),
        ("/users/ann/leaderboards/all-time-words?numEvents=-1", 422, "numEvents"),
        ("/users/ann/leaderboards/all-time-words?run=yesterday", 422, "run"),
        ("/users/pia/leaderboards/monthly-chapters?run=2025-07-01", 404, "no run on 2025-07-01"),
    ],
)
def test_refusals_name_what_is_wrong(
    boards: Stack, http: TestClient, path: str, status: int, names: str
) -> None:
    resp = http.get(path)
    assert resp.status_code == status, resp.text
    assert names in resp.json()["error"]


def test_lost_board_views_answer_503_not_an_empty_board(boards: Stack, http: TestClient) -> None:
    boards.views.boards_whole = False
    for path in ("/leaderboards/all-time-words", "/users/ann/leaderboards/all-time-words"):
        resp = http.get(path)
        assert resp.status_code == 503, resp.text
        assert "being rebuilt" in resp.json()["error"]
        assert resp.headers["retry-after"] == "1"
    assert http.get("/leaderboards").status_code == 200  # the rules alone


# --- GET /users/{id}/leaderboards/{key} -----------------------------------------------------


def _user(http: TestClient, path: str) -> UserLeaderboardResponseWithHistory:
    resp = http.get(path)
    assert resp.status_code == 200, resp.text
    return UserLeaderboardResponseWithHistory.model_validate(resp.json())


def test_a_users_rank_and_value_without_history(boards: Stack, http: TestClient) -> None:
    out = _user(http, "/users/ann/leaderboards/all-time-words")
    assert (out.key, out.rank, out.value, out.history) == ("all-time-words", 2, 500, [])
    assert _user(http, "/users/ann/leaderboards/all-time-words?numEvents=0").rank == 2
    bob = _user(http, "/users/bob/leaderboards/weekly-words")  # not in this week's run
    assert (bob.rank, bob.value) == (None, None)


def test_a_users_run_and_group(boards: Stack, http: TestClient) -> None:
    boards.views.score("night-owls|2025-11-30|", "ny", 5)
    assert _user(http, "/users/ny/leaderboards/night-owls").rank == 1  # New York's Sunday
    assert _user(http, "/users/ny/leaderboards/night-owls?run=2025-12-01").rank is None
    boards.views.score(f"monthly-chapters|2025-06-30|{PRO_EU}", "pia", 4.9)
    pia = _user(http, "/users/pia/leaderboards/monthly-chapters")
    assert (pia.status, pia.rank, pia.value) == ("finished", 1, 4)
    quin = _user(http, "/users/quin/leaderboards/monthly-chapters")  # no region: no group
    assert (quin.rank, quin.value) == (None, None)


def test_a_user_beyond_the_cap_is_not_on_the_board(boards: Stack, http: TestClient) -> None:
    for i, user in enumerate(("u1", "u2", "u3", "ann")):
        boards.views.score(WEEK, user, 40 - i)
    out = _user(http, "/users/ann/leaderboards/weekly-words")
    assert (out.rank, out.value) == (None, None)
    boards.views.score(WEEK, "ann", 39.5)
    assert _user(http, "/users/ann/leaderboards/weekly-words").rank == 2


def _days(first: str, steps: list[tuple[int | None, float | None]]) -> list[HistoryDay]:
    """Consecutive days from `first`, each ending at (rank, value) and starting where the day
    before ended (the first from nothing), as the projector keeps them."""
    start = date.fromisoformat(first).toordinal()
    befores = [(None, None), *steps[:-1]]
    return [
        HistoryDay(
            start + i, pr, r, None if pv is None else D(str(pv)), None if v is None else D(str(v))
        )
        for i, ((pr, pv), (r, v)) in enumerate(zip(befores, steps, strict=True))
    ]


def _events(out: UserLeaderboardResponseWithHistory) -> list[tuple[Any, ...]]:
    return [(e.date, e.previous_rank, e.rank, e.previous_value, e.value) for e in out.history]


def test_a_users_history_is_its_latest_days_oldest_first(boards: Stack, http: TestClient) -> None:
    steps: list[tuple[int | None, float | None]] = [(9 - i, 10.5 * (i + 1)) for i in range(9)]
    steps += [(2, 120.25), (2, 130), (1, 500)]  # twelve days, 2025-11-20 to 2025-12-01
    boards.views.histories[(ALL_TIME, "ann")] = _days("2025-11-20", steps)
    out = _user(http, "/users/ann/leaderboards/all-time-words")
    assert len(out.history) == 10  # numEvents' default
    assert _events(out)[:2] == [("2025-11-22", 8, 7, 21, 31), ("2025-11-23", 7, 6, 31, 42)]
    assert _events(out)[-1] == ("2025-12-01", 2, 1, 130, 500)
    assert out.history[-1].timestamp.isoformat() == "2025-12-01T00:00:00+00:00"
    every = _user(http, "/users/ann/leaderboards/all-time-words?numEvents=100")
    assert _events(every)[0] == ("2025-11-20", None, 9, None, 10)
    assert [e.date for e in every.history] == [f"2025-11-{d}" for d in range(20, 31)] + [
        "2025-12-01"
    ]
    two = _user(http, "/users/ann/leaderboards/all-time-words?numEvents=2")
    assert _events(two) == [("2025-11-30", 2, 2, 120, 130), ("2025-12-01", 2, 1, 130, 500)]
    assert _user(http, "/users/ann/leaderboards/all-time-words?numEvents=0").history == []


def test_the_history_is_of_the_run_and_group_asked(boards: Stack, http: TestClient) -> None:
    boards.views.histories[(WEEK, "ann")] = _days("2025-11-30", [(1, 7), (2, 7)])
    boards.views.histories[("weekly-words|2025-11-23|", "ann")] = _days("2025-11-24", [(3, 4)])
    assert _events(_user(http, "/users/ann/leaderboards/weekly-words")) == [
        ("2025-11-30", None, 1, None, 7),
        ("2025-12-01", 1, 2, 7, 7),
    ]
    old = _user(http, "/users/ann/leaderboards/weekly-words?run=2025-11-29")
    assert _events(old) == [("2025-11-24", None, 3, None, 4)]
    boards.views.histories[(f"monthly-chapters|2025-06-30|{PRO_EU}", "pia")] = _days(
        "2025-06-30", [(1, 4.9)]
    )
    assert _events(_user(http, "/users/pia/leaderboards/monthly-chapters")) == [
        ("2025-06-30", None, 1, None, 4)
    ]
    assert _user(http, "/users/quin/leaderboards/monthly-chapters").history == []  # no group


def test_a_day_off_the_capped_board_is_no_snapshot(boards: Stack, http: TestClient) -> None:
    boards.views.histories[(WEEK, "ann")] = _days("2025-11-29", [(None, 5), (3, 9), (None, 9)])
    assert _events(_user(http, "/users/ann/leaderboards/weekly-words")) == [
        ("2025-11-30", None, 3, None, 9),
        ("2025-12-01", 3, None, 9, None),
    ]


def test_lost_histories_answer_503_not_an_empty_history(boards: Stack, http: TestClient) -> None:
    boards.views.history_whole = False
    resp = http.get("/users/ann/leaderboards/all-time-words")
    assert resp.status_code == 503, resp.text
    assert resp.headers["retry-after"] == "1"
    assert http.get("/leaderboards/all-time-words").status_code == 200  # rankings need none


def test_the_openapi_document_lists_the_leaderboard_operations(http: TestClient) -> None:
    doc = http.get("/openapi.json").json()
    paths = doc["paths"]
    statuses = {
        "/v1/leaderboards": ["200", "401", "422"],
        "/v1/leaderboards/{key}": ["200", "401", "404", "422", "503"],
        "/v1/users/{id}/leaderboards/{key}": ["200", "401", "404", "422", "503"],
    }
    for path, codes in statuses.items():
        assert sorted(paths[path]["get"]["responses"]) == codes, path
    params = {p["name"] for p in paths["/v1/leaderboards/{key}"]["get"]["parameters"]}
    assert params == {"key", "offset", "limit", "run", "userId", "userAttributes"}


def test_a_user_id_no_user_can_have_in_the_query_is_not_on_the_board(
    boards: Stack, http: TestClient
) -> None:
    for uid in ("x" * 256, "a\0b"):
        resp = http.get("/leaderboards/all-time-words", params={"userId": uid})
        assert resp.status_code == 200, resp.text
        assert resp.json()["rankings"] == []
