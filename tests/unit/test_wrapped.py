"""processors.core.wrapped: every expected value is worked out by hand in the test (dates from
`datetime.date`, sums and shares written out), never by the module's own helpers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ingest.http.api_wrapped import year_param
from ingest.http.requests import ApiError
from ingest.http.wrapped import streak_of
from processors.core.summaries import KeptDay
from processors.core.wrapped import (
    Figures,
    Kept,
    StreakNow,
    StreakRun,
    activity,
    figures,
    longest_streak,
    percent_change,
    percentile,
    year_changes,
)
from schemas.views import StreakPeriod, UserView
from tests.rules import writing_rules
from tests.sent import sent


def o(text: str) -> int:
    return date.fromisoformat(text).toordinal()


def day(text: str, added: str, total: str) -> KeptDay:
    return KeptDay(o(text), Decimal(added), Decimal(total))


WORDS = [  # total 10 before the first kept day
    day("2024-12-30", "5", "15"),
    day("2025-01-02", "100", "115"),
    day("2025-01-03", "-20", "95"),
    day("2025-02-10", "300", "395"),
]
CHAPTERS = [day("2025-01-03", "1", "1"), day("2025-03-01", "2", "3")]


def test_figures_are_the_total_at_the_end_and_the_change_within() -> None:
    jan = figures(WORDS, o("2025-01-01"), o("2025-01-31"), Decimal(0))
    # start of January: 15; change 100 - 20 = 80; 80 / 15 = 533.33 %
    assert jan == Figures(Decimal("95"), Decimal("80"), Decimal("533.33"))
    before = figures(WORDS, o("2024-01-01"), o("2024-12-01"), Decimal(0))
    assert before == Figures(Decimal("10"), Decimal("0"), Decimal("0"))  # before the kept days
    after = figures(WORDS, o("2025-06-01"), o("2025-06-30"), Decimal(0))
    assert after == Figures(Decimal("395"), Decimal("0"), Decimal("0"))
    nothing_kept = figures([], o("2025-01-01"), o("2025-12-31"), Decimal("42"))
    assert nothing_kept == Figures(Decimal("42"), Decimal("0"), Decimal("0"))


@pytest.mark.parametrize(
    ("start", "change", "expected"),
    [
        ("0", "150000", "100"),  # Trophy's example: a year from nothing is +100
        ("0", "-3", "-100"),
        ("0", "0", "0"),
        ("12500", "2500", "20.00"),
        ("3000", "2000", "66.67"),
        ("-10", "5", "50.00"),  # against the size of a negative start
        ("3", "-1", "-33.33"),
    ],
)
def test_percent_change(start: str, change: str, expected: str) -> None:
    assert percent_change(Decimal(start), Decimal(change)) == Decimal(expected)


def test_activity_weighs_each_metric_alike_whatever_its_unit() -> None:
    act = activity([WORDS, CHAPTERS], 2025, week_start=0)
    # 2025's kept days: words |100|, |-20|, |300| (sum 420); chapters 1, 2 (sum 3).
    # scores: 01-02 100/420; 01-03 20/420 + 1/3 = 160/420; 02-10 300/420; 03-01 2/3 = 280/420
    assert act.day == o("2025-02-10")
    # weeks from Monday: 2024-12-30..2025-01-05 holds 01-02 and 01-03 (260/420)
    assert act.week == (o("2025-02-10"), o("2025-02-16"))  # 300/420 beats 260/420
    # months: January 260/420, February 300/420, March 280/420
    assert act.month == 2
    assert (act.days, act.weeks, act.months) == (4, 3, 3)  # 12-30 is in 2024: not counted


def test_activity_ties_go_to_the_earliest_and_nothing_to_the_first_period() -> None:
    tie = [day("2025-05-06", "7", "7"), day("2025-05-05", "7", "14")]
    tie.sort(key=lambda d: d.day)
    act = activity([tie], 2025, week_start=6)  # weeks from Sunday
    assert act.day == o("2025-05-05")
    assert act.week == (o("2025-05-04"), o("2025-05-10"))
    none = activity([WORDS], 2023, week_start=6)
    assert (none.days, none.weeks, none.months) == (0, 0, 0)
    assert none.day == o("2023-01-01")
    assert none.week == (o("2023-01-01"), o("2023-01-07"))  # 2023-01-01 was a Sunday
    assert none.month == 1


def test_a_zero_event_makes_a_day_active_but_scores_nothing() -> None:
    act = activity([[day("2025-04-01", "0", "0"), day("2025-04-09", "3", "3")]], 2025, 0)
    assert (act.days, act.weeks, act.months, act.day) == (2, 2, 1, o("2025-04-09"))


def _daily(start: str, lengths: list[int]) -> list[Kept]:
    first = o(start)
    return [Kept(first + i, first + i, n) for i, n in enumerate(lengths)]


def test_the_longest_streak_of_the_year_from_the_kept_history() -> None:
    history = _daily("2024-12-30", [1, 2, 3, 0, 1, 2, 2, 3, 4, 0])  # a freeze on 01-05
    got = longest_streak(history, 2025, StreakNow(0, None, "daily", 0))
    # 2024-12-30..2025-01-01 reaches 3 (in 2025 on 01-01); 01-03..01-07 reaches 4
    assert got == StreakRun(4, o("2025-01-03"), o("2025-01-07"), o("2025-01-03"))
    older = longest_streak(history, 2024, StreakNow(0, None, "daily", 0))
    assert older == StreakRun(2, o("2024-12-30"), o("2024-12-31"), o("2024-12-30"))
    assert longest_streak(history, 2023, StreakNow(0, None, "daily", 0)) == StreakRun(
        0, None, None, None
    )


def test_a_streak_begun_before_the_kept_history_has_no_known_start() -> None:
    history = _daily("2025-06-01", [8, 9, 10, 0])
    got = longest_streak(history, 2025, StreakNow(0, None, "daily", 0))
    assert got == StreakRun(10, None, o("2025-06-03"), None)
    alive = _daily("2025-06-01", [8, 9, 10])  # ... unless it is the streak still alive now
    got = longest_streak(alive, 2025, StreakNow(10, o("2025-05-24"), "daily", 0))
    assert got == StreakRun(10, o("2025-05-24"), o("2025-06-03"), o("2025-05-24"))


def test_a_paused_weekend_belongs_to_the_run_it_paused() -> None:
    """Friday 3 January 2025 starts it, the weekend pauses it at 1 (days off), Monday and
    Tuesday extend it to 3; the view's rows carry usedPause."""
    history = _daily("2025-01-03", [1, 1, 1, 2, 3, 0])
    got = longest_streak(history, 2025, StreakNow(0, None, "daily", 0))
    assert got == StreakRun(3, o("2025-01-03"), o("2025-01-07"), o("2025-01-03"))
    view = UserView(
        user_id="u",
        history=(
            StreakPeriod(date(2025, 1, 3), date(2025, 1, 3), 1, False, False),
            StreakPeriod(date(2025, 1, 4), date(2025, 1, 4), 1, False, True),
            StreakPeriod(date(2025, 1, 5), date(2025, 1, 5), 1, False, True),
            StreakPeriod(date(2025, 1, 6), date(2025, 1, 6), 2, False, False),
            StreakPeriod(date(2025, 1, 7), date(2025, 1, 7), 3, False, False),
        ),
    )
    assert sent(streak_of(view, writing_rules(), 2025)) == {
        "length": 3,
        "frequency": "daily",
        "periodStart": "2025-01-03",
        "periodEnd": "2025-01-07",
        "started": "2025-01-03",
    }


def test_a_weekly_streak_starts_on_a_known_day_only_when_it_is_the_current_one() -> None:
    mon = o("2025-03-03")
    weeks = [Kept(mon + 7 * i, mon + 7 * i + 6, n) for i, n in enumerate([1, 2, 0])]
    got = longest_streak(weeks, 2025, StreakNow(0, None, "weekly", 0))
    assert got == StreakRun(2, mon, o("2025-03-16"), None)  # the day within the week: unknown


def test_year_changes_score_only_the_years_kept_whole() -> None:
    whole, partial = year_changes(WORDS, keep=400)  # total 10 before: days were dropped
    assert whole == {2025: Decimal("380")} and partial == [2024]
    fresh = [day("2024-12-30", "5", "5"), day("2025-01-02", "100", "105")]
    assert year_changes(fresh, keep=400) == ({2024: Decimal(5), 2025: Decimal(100)}, [])
    assert year_changes(fresh, keep=2) == ({2025: Decimal(100)}, [2024])  # at the bound
    assert year_changes([], keep=400) == ({}, [])


def test_percentile_is_the_share_at_or_below() -> None:
    assert percentile(3, 4) == 75.0
    assert percentile(1, 3) == 33.33
    assert percentile(0, 0) == 0.0


def test_year_param() -> None:
    assert year_param(None, 2025) == 2025
    assert year_param("1", 2025) == 1
    for raw in ("0", "2026", "-1", "", "20.5", "٢٠٢٠", " 2020", "1_000", "9" * 40):
        with pytest.raises(ApiError) as err:
            year_param(raw, 2025)
        assert err.value.status == 422 and err.value.message.startswith("year:"), raw
