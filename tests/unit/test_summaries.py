"""Event summaries: the per-day history the fold keeps for a metric, and its aggregation into
daily, weekly and monthly periods, held to a brute-force sum over the raw events."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.core import metrics
from processors.core.fold import evolve
from processors.core.periods import period_bounds, period_index
from processors.core.summaries import summarize
from schemas.commands import MetricTracked, User
from schemas.state import MetricDay
from tests.unit.strategies import RULES

D0 = date(2024, 1, 1).toordinal()  # a Monday
values = st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False)
events = st.lists(st.tuples(st.integers(0, 70), values), max_size=40)


def _fold(evs: list[tuple[int, Decimal]]) -> tuple[MetricDay, ...]:
    days: tuple[MetricDay, ...] = ()
    total = Decimal(0)
    for offset, value in evs:
        total += value
        days = metrics.record_day(days, D0 + offset, value, total, RULES.limits.metric_days)
    return days


@given(
    events, st.sampled_from(["daily", "weekly", "monthly"]), st.integers(0, 60), st.integers(0, 30)
)
def test_summaries_equal_the_sums_over_the_raw_events(
    evs: list[tuple[int, Decimal]], aggregation: str, start: int, span: int
) -> None:
    days = _fold(evs)
    assert [d.day for d in days] == sorted({D0 + o for o, _ in evs})
    first, last = D0 + start, D0 + start + span
    got = summarize(days, first, last, aggregation, week_start=0)
    expected = []
    for index in range(period_index(first, aggregation), period_index(last, aggregation) + 1):
        lo, hi = period_bounds(index, aggregation)
        change = sum((v for o, v in evs if lo <= D0 + o <= hi), Decimal(0))
        total = sum((v for o, v in evs if D0 + o <= hi), Decimal(0))
        expected.append((lo, total, change))
    assert [tuple(p) for p in got] == expected


def test_a_worked_week_in_decimals() -> None:
    days = _fold([(0, Decimal("0.1")), (0, Decimal("0.2")), (2, Decimal("1.5")), (9, Decimal(-1))])
    assert days == (
        MetricDay(day=D0, added=Decimal("0.3"), total=Decimal("0.3")),
        MetricDay(day=D0 + 2, added=Decimal("1.5"), total=Decimal("1.8")),
        MetricDay(day=D0 + 9, added=Decimal(-1), total=Decimal("0.8")),
    )
    weekly = summarize(days, D0 + 3, D0 + 8, "weekly")  # Thu of week 1 to Tue of week 2
    assert [tuple(p) for p in weekly] == [
        (D0, Decimal("1.8"), Decimal("1.8")),  # whole periods, dated by their first day
        (D0 + 7, Decimal("0.8"), Decimal(-1)),
    ]
    daily = summarize(days, D0 + 1, D0 + 2, "daily")
    assert [tuple(p) for p in daily] == [
        (D0 + 1, Decimal("0.3"), Decimal(0)),
        (D0 + 2, Decimal("1.8"), Decimal("1.5")),
    ]


def test_a_late_event_moves_later_totals() -> None:
    days = _fold([(5, Decimal(10)), (1, Decimal(3)), (5, Decimal(1)), (3, Decimal(2))])
    assert days == (
        MetricDay(day=D0 + 1, added=Decimal(3), total=Decimal(3)),
        MetricDay(day=D0 + 3, added=Decimal(2), total=Decimal(5)),
        MetricDay(day=D0 + 5, added=Decimal(11), total=Decimal(16)),
    )


def test_the_history_is_bounded_to_the_latest_days() -> None:
    """The latest `[limits] metric_days` days with a change are kept: a range within them is
    exact (Trophy's ranges span at most 400 days); before them, a period shows the total
    before the kept days and no change (documented)."""
    bound = RULES.limits.metric_days
    assert bound == 400  # the default: Trophy's longest summary range
    days = _fold([(i, Decimal(1)) for i in range(bound + 5)])
    assert len(days) == bound and days[0].day == D0 + 5 and days[-1].total == bound + 5
    inside = summarize(days, D0 + 5, D0 + bound + 4, "daily")
    assert [p.total for p in inside] == [Decimal(n) for n in range(6, bound + 6)]
    assert {p.change for p in inside} == {Decimal(1)}
    [before] = summarize(days, D0 + 2, D0 + 2, "daily")
    assert tuple(before) == (D0 + 2, Decimal(5), Decimal(0))  # truly 3 and 1: not kept


def test_the_fold_keeps_days_in_the_users_zone() -> None:
    def track(eid: str, iso: str, value: str, tz: str = "Asia/Tokyo") -> MetricTracked:
        ms = int(__import__("datetime").datetime.fromisoformat(iso).timestamp() * 1000)
        return MetricTracked(
            event_id=eid,
            time_ms=ms,
            user=User(id="u1", tz=tz),
            metric="words",
            value=Decimal(value),
        )

    state = None
    for cmd in (
        track("e1", "2024-03-01T14:00:00+00:00", "1.25"),  # 23:00 in Tokyo: March 1
        track("e2", "2024-03-01T15:30:00+00:00", "2"),  # 00:30 in Tokyo: March 2
    ):
        state, _ = evolve(state, cmd, RULES)
    assert state is not None
    assert state.metric_days["words"] == (
        MetricDay(day=date(2024, 3, 1).toordinal(), added=Decimal("1.25"), total=Decimal("1.25")),
        MetricDay(day=date(2024, 3, 2).toordinal(), added=Decimal(2), total=Decimal("3.25")),
    )


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="aggregation"):
        summarize((), D0, D0, "yearly")
    with pytest.raises(ValueError, match="before"):
        summarize((), D0 + 1, D0, "daily")
