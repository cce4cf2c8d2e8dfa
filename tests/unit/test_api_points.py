"""The points shapes and query parameters of the HTTP API (`ingest.http.api_points`): ranges,
summaries and errors, with expected values worked out by hand."""

from __future__ import annotations

from datetime import date

import pytest

from ingest.http import api_points
from ingest.http.api import ApiError
from schemas.records import PointsAward, PointsChanged
from schemas.views import PointsDay
from tests.rules import points_rules
from tests.sent import sent

RULES = points_rules()
XP = RULES.points["xp"]
NOW = 1_764_547_200_000  # 2025-12-01T00:00:00.000Z


def test_summary_ranges_round_the_greatest_total_up_to_a_power_of_ten() -> None:
    ranges = api_points.summary_ranges(350)
    assert len(ranges) == 11
    assert ranges[0] == (0, 0)
    assert ranges[1] == (1, 100) and ranges[2] == (101, 200) and ranges[10] == (901, 1000)
    assert api_points.summary_ranges(1000)[10] == (901, 1000)
    assert api_points.summary_ranges(1001)[1] == (1, 1000)
    assert api_points.summary_ranges(0)[1:3] == [(1, 1), (2, 2)]  # at least 10


def test_count_ranges_puts_zero_totals_first() -> None:
    ranges = api_points.summary_ranges(250)  # width 100
    counts = api_points.count_ranges([0, 0, 1, 100, 101, 250, 1000], ranges)
    assert counts == [2, 2, 1, 1, 0, 0, 0, 0, 0, 0, 1]


def test_levels_count_users_between_thresholds() -> None:
    assert api_points.level_ranges(XP) == [(0, 99), (100, 499), (500, None)]
    assert api_points.count_levels([0, 99, 100, 499, 500, 7000], XP) == [2, 2, 2]


def test_event_summary_daily_weekly_monthly() -> None:
    days = [  # 2025-12-01 is a Monday
        PointsDay(date(2025, 11, 28), 20, 20),
        PointsDay(date(2025, 12, 1), 10, 30),
        PointsDay(date(2025, 12, 3), 5, 35),
    ]
    daily = sent(api_points.event_summary(days, "daily", date(2025, 11, 30), date(2025, 12, 3), 0))
    assert daily == [
        {"date": "2025-11-30", "total": 20, "change": 0},
        {"date": "2025-12-01", "total": 30, "change": 10},
        {"date": "2025-12-02", "total": 30, "change": 0},
        {"date": "2025-12-03", "total": 35, "change": 5},
    ]
    weekly = sent(
        api_points.event_summary(days, "weekly", date(2025, 11, 28), date(2025, 12, 7), 0)
    )
    assert weekly == [
        {"date": "2025-11-24", "total": 20, "change": 20},
        {"date": "2025-12-01", "total": 35, "change": 15},
    ]
    monthly = sent(
        api_points.event_summary(days, "monthly", date(2025, 11, 1), date(2025, 12, 31), 0)
    )
    assert monthly == [
        {"date": "2025-11-01", "total": 20, "change": 20},
        {"date": "2025-12-01", "total": 35, "change": 15},
    ]


def test_total_before_the_first_kept_day_is_that_days_start() -> None:
    assert api_points.total_at([PointsDay(date(1, 1, 10), 5, 105)], 3) == 100
    assert api_points.total_at([], 3) == 0


@pytest.mark.parametrize(
    ("aggregation", "start", "end", "names"),
    [
        (None, "2025-01-01", "2025-01-02", "aggregation"),
        ("hourly", "2025-01-01", "2025-01-02", "aggregation"),
        ("daily", None, "2025-01-02", "startDate"),
        ("daily", "2025-1-1", "2025-01-02", "startDate"),
        ("daily", "2025-01-01", "tomorrow", "endDate"),
        ("daily", "2025-01-02", "2025-01-01", "endDate"),
        ("daily", "2024-01-01", "2025-02-05", "endDate"),
    ],
)
def test_summary_params_refuse_with_422_naming_the_parameter(
    aggregation: str | None, start: str | None, end: str | None, names: str
) -> None:
    with pytest.raises(ApiError) as err:
        api_points.summary_params(aggregation, start, end)
    assert err.value.status == 422
    assert err.value.message.startswith(names + ":")


def test_summary_params_allow_400_days() -> None:
    assert api_points.summary_params("weekly", "2025-01-01", "2026-02-05") == (
        "weekly",
        date(2025, 1, 1),
        date(2026, 2, 5),
    )


@pytest.mark.parametrize("raw", ["0", "101", "ten"])
def test_awards_param_is_1_to_100(raw: str) -> None:
    with pytest.raises(ApiError) as err:
        api_points.awards_param(raw)
    assert err.value.status == 422 and "awards" in err.value.message
    assert api_points.awards_param(None) == 10 and api_points.awards_param("100") == 100


@pytest.mark.parametrize(
    ("raw", "included"),
    [
        (None, False),
        ("true", True),
        ("TRUE", True),
        ("false", False),
        ("maybe", False),
        ("", False),
    ],
)
def test_include_finished_is_true_only_for_true(raw: str | None, included: bool) -> None:
    assert api_points.include_finished_param(raw) is included


def test_boost_status_follows_the_clock() -> None:
    by_key = {b.key: b for b in XP.boosts}
    assert api_points.boost_status(by_key["pro-double"], NOW) == "active"
    assert api_points.boost_status(by_key["launch-triple"], NOW) == "finished"
    assert api_points.boost_status(by_key["future-half"], NOW) == "scheduled"
    keys = [b["id"] for b in sent(api_points.system_boosts(XP, NOW, include_finished=False))]
    assert keys == ["pro-double", "future-half"]
    assert [b["id"] for b in sent(api_points.user_boosts(XP, {"plan": "pro"}, NOW))] == [
        "pro-double"
    ]
    assert api_points.user_boosts(XP, {"plan": "free"}, NOW) == []


def _changed(system: str, previous: str | None, level: str | None) -> PointsChanged:
    award = PointsAward(
        id="u:points:xp:welcome:e", trigger="welcome", points=20, time_ms=NOW, total=20
    )
    return PointsChanged(
        id=award.id,
        user_id="u",
        system=system,
        event_id="e",
        time_ms=NOW,
        total=20,
        added=20,
        awards=(award,),
        previous_level=previous,
        level=level,
    )


def test_event_points_carry_the_level_only_when_it_changed() -> None:
    out = sent(
        api_points.event_points(
            [_changed("xp", None, "apprentice"), _changed("karma", None, None)], RULES, NOW
        )
    )
    assert set(out) == {"xp", "karma"}
    assert out["xp"]["level"]["key"] == "apprentice"
    assert "level" not in out["karma"]
    same = sent(api_points.event_points([_changed("xp", "apprentice", "apprentice")], RULES, NOW))
    assert "level" not in same["xp"]
    award = out["xp"]["awards"][0]
    assert (award["awarded"], award["total"], award["trigger"]["type"]) == (20, 20, "user_creation")
