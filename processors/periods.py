"""Calendar arithmetic for streaks: local dates and period indexes. Pure and cached.

A local date is a proleptic Gregorian ordinal (`date.toordinal()`) in the user's time zone.
A period index numbers the streak periods so that consecutive periods differ by one:
daily = the date ordinal; weekly = weeks since the configured week start; monthly =
year * 12 + month - 1.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

DAY_MS = 86_400_000
EPOCH_ORDINAL = 719_163  # date(1970, 1, 1).toordinal()
_BUCKET_MS = 900_000  # UTC offsets of real zones change only on 15-minute boundaries
_offsets: dict[tuple[str, int], int] = {}
_OFFSET_CACHE_LIMIT = 200_000


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _offset_ms(tz: str, time_ms: int) -> int:
    dt = datetime.fromtimestamp(time_ms / 1000, zone(tz))
    offset = dt.utcoffset()
    return 0 if offset is None else offset // _ONE_MS


_ONE_MS = datetime(1970, 1, 1, 0, 0, 0, 1000, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)


def local_ordinal(time_ms: int, tz: str | None) -> int:
    """The calendar date (ordinal) at `time_ms` in zone `tz` (UTC when None)."""
    if tz is None or tz == "UTC":
        return time_ms // DAY_MS + EPOCH_ORDINAL
    bucket = time_ms // _BUCKET_MS
    offset = _offsets.get((tz, bucket))
    if offset is None:
        start = bucket * _BUCKET_MS
        offset = _offset_ms(tz, start)
        if offset != _offset_ms(tz, start + _BUCKET_MS - 1):  # a historical odd transition
            return (time_ms + _offset_ms(tz, time_ms)) // DAY_MS + EPOCH_ORDINAL
        if len(_offsets) >= _OFFSET_CACHE_LIMIT:
            _offsets.clear()
        _offsets[(tz, bucket)] = offset
    return (time_ms + offset) // DAY_MS + EPOCH_ORDINAL


def period_index(ordinal: int, frequency: str, week_start: int = 0) -> int:
    """The period containing the date; `week_start` 0 = Monday ... 6 = Sunday."""
    if frequency == "daily":
        return ordinal
    if frequency == "weekly":
        return (ordinal - 1 - week_start) // 7  # ordinal 1 (0001-01-01) is a Monday
    d = date.fromordinal(ordinal)
    return d.year * 12 + d.month - 1


@lru_cache(maxsize=4096)
def period_bounds(index: int, frequency: str, week_start: int = 0) -> tuple[int, int]:
    """First and last date (ordinals) of a period."""
    if frequency == "daily":
        return index, index
    if frequency == "weekly":
        start = index * 7 + 1 + week_start
        return start, start + 6
    year, month0 = divmod(index, 12)
    start = date(year, month0 + 1, 1).toordinal()
    nyear, nmonth0 = divmod(index + 1, 12)
    return start, date(nyear, nmonth0 + 1, 1).toordinal() - 1


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
