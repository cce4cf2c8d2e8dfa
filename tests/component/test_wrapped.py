"""GET /users/{id}/wrapped through the real app over a fake view: the kept days, achievements
and streak history written out by hand, every expected figure worked out by hand beside it,
and the answer read back with the `trophy` SDK's own `WrappedResponse` model."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from starlette.testclient import TestClient
from trophy.types import WrappedResponse

from tests.component.fakes import Stack, view

PATH = "/users/ann/wrapped"


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def o(text: str) -> int:
    return date.fromisoformat(text).toordinal()


ANN = view(
    "ann",
    tz="America/New_York",
    totals={"words-written": "1550", "chapters-finished": "2"},
    metricDays={
        "words-written": [
            ["2024-12-31", "50", "50"],
            ["2025-01-06", "100", "150"],
            ["2025-01-07", "400", "550"],
            ["2025-03-10", "1000", "1550"],
        ],
        "chapters-finished": [["2025-01-07", "2", "2"]],
    },
    points={
        "xp": {
            "total": 25,
            "level": None,
            "awards": [],
            "days": [["2024-12-31", 5, 5], ["2025-01-07", 20, 25]],
        }
    },
    achievements={
        "first-words": ms("2024-12-31T17:00:00"),
        "first-chapter": ms("2025-01-07T15:00:00"),  # 10:00 in New York
        "published": ms("2025-01-01T03:00:00"),  # still 2024-12-31 in New York
    },
    history=[
        ["2025-01-06", "2025-01-06", 1, False, False],
        ["2025-01-07", "2025-01-07", 2, False, False],
    ],
)


def figures(total: float, change: float, percent: float, **more: Any) -> dict[str, Any]:
    return {"currentTotal": total, "changeThisPeriod": change, "percentChange": percent, **more}


def words(*args: float, **more: Any) -> dict[str, Any]:
    return {"name": "Words written", "units": "words", **figures(*args, **more), "byAttribute": {}}


def chapters(*args: float, **more: Any) -> dict[str, Any]:
    return {"name": "Chapters finished", "units": "chapters", **figures(*args, **more)} | {
        "byAttribute": {}
    }


def points(xp: dict[str, Any]) -> dict[str, Any]:
    return {
        "xp": {"name": "XP", "description": None, **xp},
        "coins": {"name": "Coins", "description": None, **figures(0, 0, 0)},
    }


def test_the_year_in_review(stack: Stack, http: TestClient) -> None:
    stack.views.put(ANN)
    stack.views.years[("metric", "words-written", 2025)] = {"ann": 1500, "bob": 2000, "cy": 100}
    stack.views.years[("points", "xp", 2025)] = {"ann": 20, "bob": 20}
    resp = http.get(PATH, params={"year": "2025"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    WrappedResponse.model_validate(body)  # the SDK reads it
    act = body["activity"]
    # active: 01-06, 01-07, 03-10; weeks from Monday 01-06 and 03-10; January and March
    assert (act["daysActive"], act["weeksActive"], act["monthsActive"]) == (3, 2, 2)
    # shares: words 100, 400, 1000 of 1500; chapters 2 of 2 on 01-07 -> 01-07 scores most
    day = act["mostActiveDay"]
    assert day["date"] == "2025-01-07"
    assert day["metrics"] == {
        "words-written": words(550, 400, 266.67),  # 400 on a start of 150
        "chapters-finished": chapters(2, 2, 100),  # from nothing: +100 (Trophy's example)
    }
    assert day["points"] == points(figures(25, 20, 400))  # 20 on a start of 5
    assert [a["id"] for a in day["achievements"]] == ["first-chapter"]
    assert day["leaderboards"] == {}
    week = act["mostActiveWeek"]
    assert (week["start"], week["end"]) == ("2025-01-06", "2025-01-12")
    assert week["metrics"]["words-written"] == words(550, 500, 1000)  # 500 on 50
    month = act["mostActiveMonth"]
    assert month["month"] == 0 and month["metrics"] == week["metrics"]
    year = act["entireYear"]
    assert year["metrics"] == {
        "words-written": words(1550, 1500, 3000, percentileThisPeriod=66.67),  # 2 of 3 <= ann
        "chapters-finished": chapters(2, 2, 100),  # nobody scored: no percentile
    }
    assert year["points"] == points(figures(25, 20, 400, percentileThisPeriod=100.0))
    assert [a["id"] for a in year["achievements"]] == ["first-chapter"]  # published: 2024
    assert year["longestStreak"] == {
        "length": 2,
        "frequency": "daily",
        "periodStart": "2025-01-06",
        "periodEnd": "2025-01-07",
        "started": "2025-01-06",
    }


def test_an_earlier_year_and_a_year_without_activity(stack: Stack, http: TestClient) -> None:
    stack.views.put(ANN)
    act = http.get(PATH, params={"year": 2024}).json()["activity"]
    assert (act["daysActive"], act["mostActiveDay"]["date"]) == (1, "2024-12-31")
    assert act["entireYear"]["metrics"]["words-written"] == words(50, 50, 100)
    assert [a["id"] for a in act["entireYear"]["achievements"]] == ["first-words", "published"]
    quiet = http.get(PATH, params={"year": 2019}).json()["activity"]
    assert (quiet["daysActive"], quiet["weeksActive"], quiet["monthsActive"]) == (0, 0, 0)
    assert quiet["mostActiveDay"]["date"] == "2019-01-01"  # every day ties at nothing
    assert (quiet["mostActiveWeek"]["start"], quiet["mostActiveMonth"]["month"]) == (
        "2018-12-31",
        0,
    )
    assert quiet["entireYear"]["metrics"]["words-written"] == words(0, 0, 0)
    assert quiet["entireYear"]["longestStreak"] == {
        "length": 0,
        "frequency": "daily",
        "periodStart": None,
        "periodEnd": None,
        "started": None,
    }


def test_the_year_defaults_to_the_current_one_and_is_checked(
    stack: Stack, http: TestClient
) -> None:
    stack.views.put(ANN)  # the fake clock: 2025-12-01 (still 2025-11-30 in New York)
    default = http.get(PATH).json()
    assert default == http.get(PATH, params={"year": 2025}).json()
    for bad in ("2026", "0", "-3", "twenty", "", "2025.0"):
        resp = http.get(PATH, params={"year": bad})
        assert resp.status_code == 422, (bad, resp.text)
        assert resp.json()["error"].startswith("year: expected an integer from 1 to 2025"), bad
    assert http.get(PATH, params={"year": 1}).status_code == 200
    assert http.get("/users/nobody/wrapped").status_code == 404


def test_lost_views_answer_503_not_a_partial_percentile(stack: Stack, http: TestClient) -> None:
    stack.views.put(ANN)
    stack.views.whole = False
    resp = http.get(PATH)
    assert resp.status_code == 503 and resp.headers["retry-after"] == "1"


def test_the_openapi_document_lists_wrapped(http: TestClient) -> None:
    op = http.get("/openapi.json").json()["paths"]["/v1/users/{id}/wrapped"]["get"]
    assert [p["name"] for p in op["parameters"]] == ["id", "year"]
    assert set(op["responses"]) == {"200", "401", "404", "422", "503"}
