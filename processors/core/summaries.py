"""Event summaries (Trophy's `.../event-summary`): a per-day history of changes aggregated
into daily, weekly or monthly periods over local dates. Pure, and shared by every summary
(metrics now; points keep the same `(day, added, total)` shape).

A history is the kept days on which the total changed, oldest first: `day` a date ordinal,
`added` the change that day, `total` the total at its end. A day with no entry had no change;
the total before the first kept day is `first.total - first.added`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Context, Decimal
from typing import NamedTuple, Protocol

from processors.core.periods import period_bounds, period_index

_EXACT = Context(prec=120, Emax=999_999, Emin=-999_999)

AGGREGATIONS = ("daily", "weekly", "monthly")


class Day(Protocol):
    @property
    def day(self) -> int: ...
    @property
    def added(self) -> Decimal | int: ...
    @property
    def total(self) -> Decimal | int: ...


class KeptDay(NamedTuple):
    """A kept day read back from a view document."""

    day: int
    added: Decimal
    total: Decimal


class Point(NamedTuple):
    """One period: its first date (ordinal), the total at its end, the change during it."""

    first: int
    total: Decimal
    change: Decimal


def summarize(
    days: Sequence[Day], start: int, end: int, aggregation: str, week_start: int = 0
) -> list[Point]:
    """One point per period of `aggregation` that overlaps the dates `start`..`end`
    (ordinals, inclusive): whole periods, dated by their first day (Trophy's `date`)."""
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"aggregation: expected one of {', '.join(AGGREGATIONS)}")
    if end < start:
        raise ValueError("the end is before the start")
    out: list[Point] = []
    i = 0
    total = _before(days)
    for index in range(
        period_index(start, aggregation, week_start), period_index(end, aggregation, week_start) + 1
    ):
        first, last = period_bounds(index, aggregation, week_start)
        while i < len(days) and days[i].day < first:  # days before this period
            total = Decimal(days[i].total)
            i += 1
        change = Decimal(0)
        while i < len(days) and days[i].day <= last:
            change = _EXACT.add(change, Decimal(days[i].added))
            total = Decimal(days[i].total)
            i += 1
        out.append(Point(first, total, change))
    return out


def _before(days: Sequence[Day]) -> Decimal:
    """The total before the first kept day (zero with none)."""
    if not days:
        return Decimal(0)
    return _EXACT.subtract(Decimal(days[0].total), Decimal(days[0].added))
