"""Dates at the ends of the calendar (0001-01-01, 9999-12-31) are answered, never 500: a
summary over December 9999 (its month has no next month), a week from Sunday that would
begin in year 0, a leaderboard run before the first day, a `signUpDate` whose UTC day is
outside the calendar. Expected answers are written out by hand."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from schemas.rules import Rules
from tests.component.fakes import Stack, view
from tests.rules import leaderboard_rules

SUMMARY = "/users/u1/metrics/{metric}/event-summary?aggregation={agg}&startDate={a}&endDate={b}"


@pytest.fixture(scope="module")
def rules() -> Rules:
    return leaderboard_rules()  # weeks from Sunday; the metric "words"


@pytest.fixture
def user(stack: Stack) -> Stack:
    stack.views.put(view("u1", metricDays={"words": [["9999-12-30", "5", "5"]]}))
    return stack


def _json(http: TestClient, path: str, method: str = "GET", body: Any = None) -> Any:
    resp = http.request(method, path, json=body)
    return resp.status_code, resp.json()


def test_a_monthly_summary_of_december_9999(user: Stack, http: TestClient) -> None:
    path = SUMMARY.format(metric="words", agg="monthly", a="9999-12-01", b="9999-12-31")
    assert _json(http, path) == (200, [{"date": "9999-12-01", "total": 5, "change": 5}])


def test_a_weekly_summary_from_0001_01_01_dates_its_first_week_by_its_first_day(
    user: Stack, http: TestClient
) -> None:
    # 0001-01-01 is a Monday: its week from Sunday would begin the day before, in year 0
    path = SUMMARY.format(metric="words", agg="weekly", a="0001-01-01", b="0001-01-08")
    assert _json(http, path) == (
        200,
        [
            {"date": "0001-01-01", "total": 0, "change": 0},
            {"date": "0001-01-07", "total": 0, "change": 0},
        ],
    )


@pytest.mark.parametrize(
    "path",
    [
        "/leaderboards/weekly-words?run=0001-01-01",
        "/users/u1/leaderboards/weekly-words?run=0001-01-06",
    ],
)
def test_a_run_before_the_first_day_is_a_404(user: Stack, http: TestClient, path: str) -> None:
    status, body = _json(http, path)
    assert status == 404
    assert "weekly-words" in body["error"] and "before 0001-01-01" in body["error"]


def test_the_first_whole_weekly_run_is_answered(user: Stack, http: TestClient) -> None:
    status, body = _json(http, "/leaderboards/weekly-words?run=0001-01-07")  # a Sunday
    assert status == 200 and body["rankings"] == []


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-01:00"])
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/users", lambda d: {"id": "u2", "signUpDate": d}),
        ("PUT", "/users/u2", lambda d: {"signUpDate": d}),
        (
            "POST",
            "/metrics/words/event",
            lambda d: {"user": {"id": "u2", "signUpDate": d}, "value": 1},
        ),
    ],
)
def test_a_sign_up_date_outside_the_calendar_in_utc_is_a_422(
    stack: Stack, http: TestClient, when: str, method: str, path: str, body: Any
) -> None:
    status, answer = _json(http, path, method, body(when))
    assert status == 422
    assert "signUpDate" in answer["error"] and "out of range" in answer["error"]
    assert stack.publisher.calls == 0
