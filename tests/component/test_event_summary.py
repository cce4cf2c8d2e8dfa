"""GET /users/{id}/metrics/{key}/event-summary through the real app over a fake view: the
kept days written out by hand, the expected points summed by hand."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.component.fakes import Stack, view

PATH = "/users/ann/metrics/words-written/event-summary"
DAYS = [  # [local day, added, total at its end]
    ["2024-01-01", "0.1", "10.1"],
    ["2024-01-03", "2.5", "12.6"],
    ["2024-01-09", "-1", "11.6"],
    ["2024-02-01", "100", "111.6"],
]


def _with_days(stack: Stack) -> None:
    stack.views.put(view("ann", metricDays={"words-written": DAYS}))


def test_daily_points_carry_the_total_at_each_days_end(stack: Stack, http: TestClient) -> None:
    _with_days(stack)
    q = {"aggregation": "daily", "startDate": "2023-12-31", "endDate": "2024-01-03"}
    resp = http.get(PATH, params=q)
    assert resp.status_code == 200, resp.text
    assert resp.json() == [
        {"date": "2023-12-31", "total": 10, "change": 0},  # before the first kept day
        {"date": "2024-01-01", "total": 10.1, "change": 0.1},
        {"date": "2024-01-02", "total": 10.1, "change": 0},
        {"date": "2024-01-03", "total": 12.6, "change": 2.5},
    ]


def test_weekly_and_monthly_points_are_whole_periods(stack: Stack, http: TestClient) -> None:
    _with_days(stack)
    weekly = http.get(
        PATH, params={"aggregation": "weekly", "startDate": "2024-01-03", "endDate": "2024-01-10"}
    ).json()
    assert weekly == [  # weeks start on Monday (the rules' week_start)
        {"date": "2024-01-01", "total": 12.6, "change": 2.6},
        {"date": "2024-01-08", "total": 11.6, "change": -1},
    ]
    monthly = http.get(
        PATH, params={"aggregation": "monthly", "startDate": "2024-01-15", "endDate": "2024-03-01"}
    ).json()
    assert monthly == [
        {"date": "2024-01-01", "total": 11.6, "change": 1.6},
        {"date": "2024-02-01", "total": 111.6, "change": 100},
        {"date": "2024-03-01", "total": 111.6, "change": 0},
    ]


def test_bad_parameters_are_422_and_unknowns_404(stack: Stack, http: TestClient) -> None:
    _with_days(stack)
    ok = {"aggregation": "daily", "startDate": "2024-01-01", "endDate": "2024-01-02"}
    for change, words in (
        ({"aggregation": "yearly"}, "aggregation"),
        ({"aggregation": None}, "aggregation"),
        ({"startDate": "2024-1-1"}, "startDate"),
        ({"endDate": None}, "endDate"),
        ({"endDate": "2023-12-31"}, "before startDate"),
        ({"startDate": "2022-11-26", "endDate": "2024-01-01"}, "400 days"),
    ):
        params = {k: v for k, v in {**ok, **change}.items() if v is not None}
        resp = http.get(PATH, params=params)
        assert resp.status_code == 422, (change, resp.text)
        assert words in resp.json()["error"], (change, resp.text)
    span = {"aggregation": "daily", "startDate": "2023-11-27", "endDate": "2024-12-31"}
    assert http.get(PATH, params=span).status_code == 200  # exactly 400 days apart
    assert (
        http.get("/users/nobody/metrics/words-written/event-summary", params=ok).status_code == 404
    )
    assert http.get("/users/ann/metrics/pages/event-summary", params=ok).status_code == 404
