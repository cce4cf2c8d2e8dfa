"""One calendar cache: the zone offsets behind local dates (streaks, points, metric days) and
local clocks (leaderboards) are memoised once, in `processors.core.periods`. Expected wall
clocks come from zoneinfo directly, without the cache."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from processors.core import leaderboards, periods
from processors.core.periods import local_clock, local_ordinal


def test_leaderboards_use_the_one_calendar_cache() -> None:
    assert leaderboards.local_clock is periods.local_clock
    assert not hasattr(leaderboards, "_offsets")


ZONES = ["Europe/Amsterdam", "Africa/Monrovia", "Asia/Kolkata", "America/St_Johns"]


def _transitions(tz: str) -> Iterator[int]:
    """The seconds at which the zone's UTC offset changed, 1880-2030 (found by scanning in
    10-day steps and bisecting, straight from zoneinfo)."""
    zone = ZoneInfo(tz)

    def offset(s: int) -> object:
        return datetime.fromtimestamp(s, zone).utcoffset()

    step = 10 * 86_400
    start = int(datetime(1880, 1, 1, tzinfo=UTC).timestamp())
    end = int(datetime(2030, 1, 1, tzinfo=UTC).timestamp())
    for lo in range(start, end, step):
        hi = lo + step
        if offset(lo) == offset(hi):
            continue
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if offset(mid) == offset(lo) else (lo, mid)
        yield hi


@pytest.mark.parametrize("tz", ZONES)
def test_local_dates_and_clocks_agree_at_every_offset_change(tz: str) -> None:
    """Around each change (odd historical ones in seconds included) the local date and
    minute, asked cold and warm, in either order, are zoneinfo's wall clock."""
    zone = ZoneInfo(tz)
    changes = list(_transitions(tz))
    assert changes
    for second in changes:
        for time_ms in (second * 1000 + d for d in (-900_000, -1, 0, 1, 899_999)):
            wall = datetime.fromtimestamp(time_ms / 1000, UTC).astimezone(zone)
            expected = (wall.toordinal(), wall.hour * 60 + wall.minute)
            periods._offsets.clear()
            assert local_clock(time_ms, tz) == expected
            assert local_ordinal(time_ms, tz) == expected[0]
            periods._offsets.clear()
            assert local_ordinal(time_ms, tz) == expected[0]
            assert local_clock(time_ms, tz) == expected
