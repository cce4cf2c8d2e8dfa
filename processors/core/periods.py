"""The calendar: local dates, periods and runs in a user's time zone. Pure, stdlib only, cached.

Streaks (periods), points (time triggers) and leaderboards (runs in each user's zone) all do
their date arithmetic here.

- A *local date* is a proleptic Gregorian ordinal (`date.toordinal()`) in the user's zone;
  `local_ordinal(time_ms, tz)` is the local date of an instant, `day_start_ms(ordinal, tz)`
  the first instant of a local date.
- A *period index* numbers the streak periods of one frequency so that consecutive periods
  differ by one: daily = the date ordinal; weekly = weeks since the configured week start;
  monthly = year * 12 + month - 1. `period_bounds` gives its first and last local date,
  `next_period` the period after it.
- A *run index* numbers the runs of a schedule "every `interval` days / months / years from
  an anchor date" (run 0 starts on the anchor; dates before it are in negative runs). A run
  that starts on day 29-31 starts on the month's last day in shorter months. A weekly
  schedule is 7 days from a week start.
"""

from __future__ import annotations

from calendar import monthrange
from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

DAY_MS = 86_400_000
EPOCH_ORDINAL = 719_163  # date(1970, 1, 1).toordinal()
_BUCKET_MS = 900_000  # UTC offsets of real zones change only on 15-minute boundaries
_MAX_OFFSET_MS = 26 * 3_600_000  # beyond every real UTC offset (-12:00 ... +14:00)
_offsets: dict[tuple[str, int], int] = {}
_OFFSET_CACHE_LIMIT = 200_000


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


_ONE_MS = datetime(1970, 1, 1, 0, 0, 0, 1000, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)
_MINUTE_MS = 60_000


def _exact_offset_ms(time_ms: int, tz: str) -> int:
    offset = datetime.fromtimestamp(time_ms // 1000, zone(tz)).utcoffset()
    return 0 if offset is None else offset // _ONE_MS


def utc_offset_ms(time_ms: int, tz: str) -> int:
    """The zone's UTC offset at `time_ms`: the one calendar cache, memoised per quarter hour
    (real zones change their offset only on quarter-hour boundaries; a quarter hour that
    straddles an odd historical change is computed exactly and not kept)."""
    bucket = time_ms // _BUCKET_MS
    offset = _offsets.get((tz, bucket))
    if offset is not None:
        return offset
    start = bucket * _BUCKET_MS
    offset = _exact_offset_ms(start, tz)
    if offset != _exact_offset_ms(start + _BUCKET_MS - 1, tz):
        return _exact_offset_ms(time_ms, tz)
    if len(_offsets) >= _OFFSET_CACHE_LIMIT:
        _offsets.clear()
    _offsets[(tz, bucket)] = offset
    return offset


def local_ordinal(time_ms: int, tz: str | None) -> int:
    """The local date (ordinal) at `time_ms` in zone `tz` (UTC when None)."""
    if tz is None or tz == "UTC":
        return time_ms // DAY_MS + EPOCH_ORDINAL
    offset = _offsets.get((tz, time_ms // _BUCKET_MS))  # the hot path: the cache, inline
    if offset is None:
        offset = utc_offset_ms(time_ms, tz)
    return (time_ms + offset) // DAY_MS + EPOCH_ORDINAL


def local_clock(time_ms: int, tz: str | None) -> tuple[int, int]:
    """The local date (ordinal) and minute of the day at `time_ms` in zone `tz` (UTC if None)."""
    local = time_ms if tz is None or tz == "UTC" else time_ms + utc_offset_ms(time_ms, tz)
    day, ms = divmod(local, DAY_MS)
    return day + EPOCH_ORDINAL, ms // _MINUTE_MS


@lru_cache(maxsize=8192)
def day_start_ms(ordinal: int, tz: str | None) -> int:
    """The first instant (epoch ms) whose local date in `tz` is `ordinal`.

    Local midnight, or the end of the gap when the clocks skip midnight (the day then starts
    at the transition, e.g. 01:00)."""
    utc_midnight = (ordinal - EPOCH_ORDINAL) * DAY_MS
    if tz is None or tz == "UTC":
        return utc_midnight
    d = date.fromordinal(ordinal)
    guess = int(datetime(d.year, d.month, d.day, tzinfo=zone(tz)).timestamp() * 1000)
    if local_ordinal(guess, tz) == ordinal and local_ordinal(guess - 1, tz) < ordinal:
        return guess
    lo, hi = utc_midnight - _MAX_OFFSET_MS, utc_midnight + _MAX_OFFSET_MS  # lo before, hi on
    while hi - lo > 1:  # the first instant at or after the day starts (midnight in a gap)
        mid = (lo + hi) // 2
        if local_ordinal(mid, tz) >= ordinal:
            hi = mid
        else:
            lo = mid
    return hi


def period_index(ordinal: int, frequency: str, week_start: int = 0) -> int:
    """The period containing the date; `week_start` 0 = Monday ... 6 = Sunday."""
    if frequency == "daily":
        return ordinal
    if frequency == "weekly":
        return (ordinal - 1 - week_start) // 7  # ordinal 1 (0001-01-01) is a Monday
    d = date.fromordinal(ordinal)
    return d.year * 12 + d.month - 1


def local_period(time_ms: int, tz: str | None, frequency: str, week_start: int = 0) -> int:
    """The period containing the instant `time_ms` in zone `tz`."""
    return period_index(local_ordinal(time_ms, tz), frequency, week_start)


@lru_cache(maxsize=4096)
def period_bounds(index: int, frequency: str, week_start: int = 0) -> tuple[int, int]:
    """First and last local date (ordinals) of a period."""
    if frequency == "daily":
        return index, index
    if frequency == "weekly":
        start = index * 7 + 1 + week_start
        return start, start + 6
    year, month0 = divmod(index, 12)
    start = date(year, month0 + 1, 1).toordinal()
    # from the month's length, not the next month's first day: 9999-12 has no next month
    return start, start + monthrange(year, month0 + 1)[1] - 1


def js_weekday(ordinal: int) -> int:
    """The weekday of a local date as JavaScript's `Date.getDay()` numbers it (0 = Sunday ...
    6 = Saturday), as Trophy's `daysOff` does: ordinal 1 (0001-01-01) is a Monday."""
    return ordinal % 7


def next_period(index: int) -> int:
    """The period after `index`, for every frequency (indexes are consecutive)."""
    return index + 1


def _months(d: date) -> int:
    return d.year * 12 + d.month - 1


def _month_day(months: int, day: int) -> int:
    """The ordinal of `day` in the month `months` (year * 12 + month - 1), or of its last day."""
    first, last = period_bounds(months, "monthly")
    return min(first + day - 1, last)


def _run_step(unit: str, interval: int) -> tuple[bool, int]:
    """(counted in months?, step): a year is 12 months."""
    if interval < 1:
        raise ValueError(f"run interval: must be at least 1, got {interval}")
    if unit == "day":
        return False, interval
    if unit == "month":
        return True, interval
    if unit == "year":
        return True, 12 * interval
    raise ValueError(f"run unit: expected 'day', 'month' or 'year', got {unit!r}")


@lru_cache(maxsize=8192)
def run_start(index: int, anchor: int, unit: str, interval: int) -> int:
    """The first local date (ordinal) of run `index` of the schedule."""
    in_months, step = _run_step(unit, interval)
    if not in_months:
        return anchor + index * step
    a = date.fromordinal(anchor)
    return _month_day(_months(a) + index * step, a.day)


def run_index(ordinal: int, anchor: int, unit: str, interval: int) -> int:
    """The run containing the local date `ordinal`, for runs of `interval` days, months or
    years from the `anchor` date."""
    in_months, step = _run_step(unit, interval)
    if not in_months:
        return (ordinal - anchor) // step
    index = (_months(date.fromordinal(ordinal)) - _months(date.fromordinal(anchor))) // step
    return index - 1 if run_start(index, anchor, unit, interval) > ordinal else index


def run_bounds(index: int, anchor: int, unit: str, interval: int) -> tuple[int, int]:
    """First and last local date (ordinals) of run `index`; the next run is `index + 1`."""
    return run_start(index, anchor, unit, interval), run_start(
        index + 1, anchor, unit, interval
    ) - 1


@lru_cache(maxsize=8192)
def iso(ordinal: int) -> str:
    """ISO 8601 date of an ordinal: '2025-04-02'."""
    return date.fromordinal(ordinal).isoformat()


_iso_bounds: dict[tuple[int, str, int], tuple[str, str]] = {}


def period_iso(index: int, frequency: str, week_start: int = 0) -> tuple[str, str]:
    """First and last date of a period as ISO strings (memoised: it is on the hot path)."""
    key = (index, frequency, week_start)
    hit = _iso_bounds.get(key)
    if hit is None:
        first, last = period_bounds(index, frequency, week_start)
        hit = (iso(first), iso(last))
        if len(_iso_bounds) >= _OFFSET_CACHE_LIMIT:
            _iso_bounds.clear()
        _iso_bounds[key] = hit
    return hit
