"""Trophy's wrapped (a user's year in review) from what the state keeps. Pure.

Everything comes from a user's view document (layout in `schemas.views`): the kept days of
each metric (`metricDays`) and points system (`points.*.days`), the achievements with their
times, the streak's kept history; `processors.projector` also scores each user's yearly
changes into sorted sets (`year_changes`) that give the percentiles. Days are the user's
local dates (ordinals), years the user's local years.

The choices where Trophy is silent (docs/trophy-conformance.md):

- A local day is *active* when some metric changed on it (an event of value 0 counts: the
  fold keeps its day). Weeks start on the rules' `week_start`.
- *Most active*: each active day scores, per metric, its share of the metric's activity in
  the year (|change that day| / the sum of |change| over the year's days), summed over the
  metrics, so every metric weighs the same whatever its unit; a week or a month scores the
  sum of its days within the year. The highest score wins, the earliest on a tie; with no
  activity at all, the year's first day, week and month.
- A period's figures: `total` at its end, `change` in it, `percent` the change against the
  total at its start (±100 from a start of zero, as Trophy's example shows; 2 decimals).
- The longest streak of the year: the greatest length the kept history reached in a period
  that overlaps the year; its start is known when the kept history reaches the streak's
  first period (or it is the current streak), else null.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import ROUND_HALF_EVEN, Context, Decimal
from fractions import Fraction
from itertools import pairwise
from typing import NamedTuple

from processors.core.periods import period_bounds, period_index
from processors.core.summaries import Day

_EXACT = Context(prec=120, Emax=999_999, Emin=-999_999)
ZERO = Decimal(0)
HUNDRED = Decimal(100)
CENT = Decimal("0.01")


class Figures(NamedTuple):
    """A metric's or points system's figures over one period: the total at its end, the
    change in it, that change in % of the total at its start."""

    total: Decimal
    change: Decimal
    percent: Decimal


class StreakRun(NamedTuple):
    """A streak: its length, its first period's first date, its last period's last date, the
    date of its first event (ordinals; None: not kept)."""

    length: int
    period_start: int | None
    period_end: int | None
    started: int | None


def year_bounds(year: int) -> tuple[int, int]:
    """The first and last date (ordinals) of a calendar year."""
    return date(year, 1, 1).toordinal(), date(year, 12, 31).toordinal()


# --- one series (a metric's or a points system's kept days) over one period ----------------


def total_before(days: Sequence[Day]) -> Decimal:
    """The total before the first kept day (zero with none)."""
    if not days:
        return ZERO
    return _EXACT.subtract(Decimal(days[0].total), Decimal(days[0].added))


def total_at(days: Sequence[Day], ordinal: int, current: Decimal) -> Decimal:
    """The total at the end of local day `ordinal`; `current` (the total now) when no day is
    kept at all (a state written before days were kept)."""
    if not days:
        return current
    total = total_before(days)
    for d in days:
        if d.day > ordinal:
            break
        total = Decimal(d.total)
    return total


def percent_change(start: Decimal, change: Decimal) -> Decimal:
    """`change` as a percentage of the total at the start (of its size, when negative);
    from a start of zero, 100 with the sign of the change (0 for none)."""
    if start == 0:
        return HUNDRED * (change > 0) - HUNDRED * (change < 0)
    ratio = _EXACT.divide(_EXACT.multiply(change, HUNDRED), abs(start))
    return ratio.quantize(CENT, rounding=ROUND_HALF_EVEN)


def figures(days: Sequence[Day], first: int, last: int, current: Decimal) -> Figures:
    """A series' figures over the local dates `first`..`last`."""
    change = ZERO
    for d in days:
        if first <= d.day <= last:
            change = _EXACT.add(change, Decimal(d.added))
    total = total_at(days, last, current)
    return Figures(total, change, percent_change(_EXACT.subtract(total, change), change))


# --- activity ------------------------------------------------------------------------------


class Activity(NamedTuple):
    """The year's activity: counts of active days, weeks and months; the most active day
    (ordinal), week (its first and last date) and month (1-12)."""

    days: int
    weeks: int
    months: int
    day: int
    week: tuple[int, int]
    month: int


def day_scores(series: Iterable[Sequence[Day]], first: int, last: int) -> dict[int, Fraction]:
    """Each active day of `first`..`last`: the sum over the series of its share of the
    series' activity (|change|) in that span."""
    scores: dict[int, Fraction] = {}
    for days in series:
        inside = [d for d in days if first <= d.day <= last]
        whole = sum((abs(Fraction(Decimal(d.added))) for d in inside), Fraction(0))
        for d in inside:
            share = abs(Fraction(Decimal(d.added))) / whole if whole else Fraction(0)
            scores[d.day] = scores.get(d.day, Fraction(0)) + share
    return scores


def _best(scores: Mapping[int, Fraction], fallback: int) -> int:
    """The key with the highest score, the least key on a tie; `fallback` with none."""
    return min(scores, key=lambda k: (-scores[k], k)) if scores else fallback


def _grouped(scores: Mapping[int, Fraction], key: dict[int, int]) -> dict[int, Fraction]:
    out: dict[int, Fraction] = {}
    for day, score in scores.items():
        out[key[day]] = out.get(key[day], Fraction(0)) + score
    return out


def activity(series: Iterable[Sequence[Day]], year: int, week_start: int) -> Activity:
    """The year's activity from the metrics' kept days."""
    first, last = year_bounds(year)
    scores = day_scores(series, first, last)
    week_of = {d: period_index(d, "weekly", week_start) for d in scores}
    month_of = {d: date.fromordinal(d).month for d in scores}
    week = _best(_grouped(scores, week_of), period_index(first, "weekly", week_start))
    start, end = period_bounds(week, "weekly", week_start)
    return Activity(
        days=len(scores),
        weeks=len(set(week_of.values())),
        months=len(set(month_of.values())),
        day=_best(scores, first),
        week=(max(start, 1), end),  # year 1's first week may start before date.min
        month=_best(_grouped(scores, month_of), 1),
    )


# --- the streak ----------------------------------------------------------------------------


class Kept(NamedTuple):
    """One kept streak period: its first and last date, the streak length at its end."""

    first: int
    last: int
    length: int


class StreakNow(NamedTuple):
    """The streak now: its length, its first event's local date, frequency, week start."""

    length: int
    started: int | None
    frequency: str
    week_start: int


def longest_streak(history: Sequence[Kept], year: int, now: StreakNow) -> StreakRun:
    """The greatest length reached in a kept period overlapping the year (the earliest on a
    tie). `history` holds consecutive periods, oldest first (length 0: no streak)."""
    first, last = year_bounds(year)
    best: int | None = None
    for i, kept in enumerate(history):
        in_year = kept.last >= first and kept.first <= last
        if in_year and kept.length > 0 and (best is None or kept.length > history[best].length):
            best = i
    if best is None:
        return StreakRun(0, None, None, None)
    j = best
    while j > 0 and 0 < history[j - 1].length <= history[j].length:
        j -= 1  # back through the run's earlier periods (a freeze or a pause keeps the length)
    begun: int | None = history[j].first if history[j].length == 1 else None
    started: int | None = None
    if _runs_to_now(history, best, now.length) and now.started is not None:
        started = now.started  # the current streak: its start is kept whole
        index = period_index(now.started, now.frequency, now.week_start)
        begun = period_bounds(index, now.frequency, now.week_start)[0]
    elif begun is not None and now.frequency == "daily":
        started = begun  # a daily streak starts on its first period's one day
    return StreakRun(history[best].length, begun, history[best].last, started)


def _runs_to_now(history: Sequence[Kept], index: int, current: int) -> bool:
    """Whether the run through `history[index]` is the streak still alive now."""
    if current <= 0:
        return False
    tail = history[index:]
    return all(0 < a.length <= b.length for a, b in pairwise(tail)) and (tail[-1].length == current)


# --- the yearly changes the projector scores ----------------------------------------------


def year_changes(days: Sequence[Day], keep: int) -> tuple[dict[int, Decimal], list[int]]:
    """Per local year the kept days cover whole, the change in it; and the years they cover
    in part (the oldest, once days were dropped: `keep` is the bound they are kept to).

    The days cover their oldest year whole when none was ever dropped: fewer than `keep`
    kept and the total before the first is zero."""
    changes: dict[int, Decimal] = {}
    for d in days:
        y = date.fromordinal(d.day).year
        changes[y] = _EXACT.add(changes.get(y, ZERO), Decimal(d.added))
    if not days or (len(days) < keep and total_before(days) == 0):
        return changes, []
    oldest = date.fromordinal(days[0].day).year
    del changes[oldest]
    return changes, [oldest]


def percentile(at_or_below: int, users: int) -> float:
    """The share of users (in %) whose change is at or below the user's (2 decimals)."""
    return round(100.0 * at_or_below / users, 2) if users else 0.0
