"""Local dates and streak periods: DST, odd offsets, leap days, month ends, week starts.

Expected dates are worked out by hand from the zones' published offsets.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from processors.core.periods import (
    day_start_ms,
    iso,
    local_ordinal,
    local_period,
    next_period,
    period_bounds,
    period_index,
    run_bounds,
    run_index,
)


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


@pytest.mark.parametrize(
    ("instant", "tz", "local"),
    [
        ("2024-03-30T23:30", "Europe/London", "2024-03-30"),  # GMT, the night clocks go forward
        ("2024-03-31T00:30", "Europe/London", "2024-03-31"),
        ("2024-10-26T22:59", "Europe/London", "2024-10-26"),  # 23:59 BST
        ("2024-10-26T23:30", "Europe/London", "2024-10-27"),  # 00:30 BST, the day with 25 hours
        ("2024-10-27T23:59", "Europe/London", "2024-10-27"),  # 23:59 GMT, same local day
        ("2024-03-10T04:59", "America/New_York", "2024-03-09"),  # 23:59 EST
        ("2024-03-10T05:00", "America/New_York", "2024-03-10"),
        ("2024-11-03T04:30", "America/New_York", "2024-11-03"),  # 00:30 EDT
        ("2024-11-04T04:30", "America/New_York", "2024-11-03"),  # 23:30 EST
        ("2024-01-01T18:29", "Asia/Kolkata", "2024-01-01"),  # +05:30
        ("2024-01-01T18:30", "Asia/Kolkata", "2024-01-02"),
        ("2024-01-01T10:14", "Pacific/Chatham", "2024-01-01"),  # +13:45 in the southern summer
        ("2024-01-01T10:15", "Pacific/Chatham", "2024-01-02"),
        ("2024-01-01T12:59", "Australia/Lord_Howe", "2024-01-01"),  # +11 (half-hour DST)
        ("2024-01-01T13:00", "Australia/Lord_Howe", "2024-01-02"),
        ("2024-07-01T13:29", "Australia/Lord_Howe", "2024-07-01"),  # +10:30 in winter
        ("2024-07-01T13:30", "Australia/Lord_Howe", "2024-07-02"),
        ("2024-02-29T23:59", None, "2024-02-29"),
        ("1970-01-01T00:00", None, "1970-01-01"),
        ("1969-12-31T23:59", "UTC", "1969-12-31"),
    ],
)
def test_local_dates(instant: str, tz: str | None, local: str) -> None:
    assert iso(local_ordinal(ms(instant), tz)) == local


def test_the_offset_cache_does_not_leak_between_zones() -> None:
    t = ms("2024-01-01T20:00")
    assert iso(local_ordinal(t, "Asia/Tokyo")) == "2024-01-02"
    assert iso(local_ordinal(t, "America/Los_Angeles")) == "2024-01-01"
    assert iso(local_ordinal(t, "Asia/Tokyo")) == "2024-01-02"


def o(text: str) -> int:
    return date.fromisoformat(text).toordinal()


def bounds(day: str, frequency: str, week_start: int = 0) -> tuple[str, str]:
    first, last = period_bounds(period_index(o(day), frequency, week_start), frequency, week_start)
    return iso(first), iso(last)


@pytest.mark.parametrize(
    ("day", "frequency", "week_start", "expected"),
    [
        ("2024-02-29", "daily", 0, ("2024-02-29", "2024-02-29")),
        ("2024-02-29", "weekly", 0, ("2024-02-26", "2024-03-03")),  # a Thursday; Monday start
        ("2024-02-29", "weekly", 6, ("2024-02-25", "2024-03-02")),  # Sunday start
        ("2024-02-29", "weekly", 3, ("2024-02-29", "2024-03-06")),  # Thursday start
        ("2024-02-25", "weekly", 0, ("2024-02-19", "2024-02-25")),  # a Sunday, Monday start
        ("2024-02-25", "weekly", 6, ("2024-02-25", "2024-03-02")),
        ("2024-12-31", "weekly", 0, ("2024-12-30", "2025-01-05")),  # across a year end
        ("2024-02-10", "monthly", 0, ("2024-02-01", "2024-02-29")),  # leap year
        ("2023-02-10", "monthly", 0, ("2023-02-01", "2023-02-28")),
        ("2024-12-31", "monthly", 0, ("2024-12-01", "2024-12-31")),
        ("2024-04-30", "monthly", 0, ("2024-04-01", "2024-04-30")),
    ],
)
def test_period_bounds(
    day: str, frequency: str, week_start: int, expected: tuple[str, str]
) -> None:
    assert bounds(day, frequency, week_start) == expected


@pytest.mark.parametrize(
    ("a", "b", "frequency"),
    [
        ("2024-02-28", "2024-02-29", "daily"),
        ("2024-02-29", "2024-03-01", "daily"),
        ("2023-02-28", "2023-03-01", "daily"),
        ("2024-12-31", "2025-01-01", "daily"),
        ("2024-01-31", "2024-02-01", "monthly"),
        ("2024-12-15", "2025-01-01", "monthly"),
        ("2024-03-03", "2024-03-04", "weekly"),  # Sunday then Monday
    ],
)
def test_consecutive_periods_differ_by_one(a: str, b: str, frequency: str) -> None:
    assert period_index(o(b), frequency) - period_index(o(a), frequency) == 1


@pytest.mark.parametrize(
    ("day", "tz", "start"),
    [
        ("2024-02-29", None, "2024-02-29T00:00"),
        ("2024-02-29", "UTC", "2024-02-29T00:00"),
        ("2024-03-31", "Europe/London", "2024-03-31T00:00"),  # GMT until 01:00 that night
        ("2024-10-27", "Europe/London", "2024-10-26T23:00"),  # midnight is still BST
        ("2024-10-28", "Europe/London", "2024-10-28T00:00"),
        ("2024-03-10", "America/New_York", "2024-03-10T05:00"),  # EST at midnight
        ("2024-11-03", "America/New_York", "2024-11-03T04:00"),  # EDT at midnight
        ("2024-11-04", "America/New_York", "2024-11-04T05:00"),
        ("2024-01-02", "Asia/Kolkata", "2024-01-01T18:30"),  # +05:30
        ("2024-01-02", "Pacific/Chatham", "2024-01-01T10:15"),  # +13:45
        ("2024-01-02", "Australia/Lord_Howe", "2024-01-01T13:00"),  # +11
        ("2024-07-02", "Australia/Lord_Howe", "2024-07-01T13:30"),  # +10:30
        ("2024-09-08", "America/Santiago", "2024-09-08T04:00"),  # 00:00 skipped: starts 01:00 -03
        ("2024-03-10", "America/Havana", "2024-03-10T05:00"),  # 00:00 skipped: starts 01:00 CDT
        ("2024-11-03", "America/Havana", "2024-11-03T04:00"),  # 00:00-01:00 twice: the first
        ("2011-12-31", "Pacific/Apia", "2011-12-30T10:00"),  # Samoa went from -10 to +14
        ("2011-12-30", "Pacific/Apia", "2011-12-30T10:00"),  # a skipped date: no length at all
    ],
)
def test_day_start(day: str, tz: str | None, start: str) -> None:
    assert day_start_ms(o(day), tz) == ms(start)


@pytest.mark.parametrize("tz", ["Europe/London", "Asia/Kolkata", "Pacific/Chatham", None])
def test_a_day_starts_where_the_local_date_turns(tz: str | None) -> None:
    for day in ("2024-03-31", "2024-10-27", "2024-02-29"):
        start = day_start_ms(o(day), tz)
        assert iso(local_ordinal(start, tz)) == day
        assert local_ordinal(start - 1, tz) == o(day) - 1


@pytest.mark.parametrize(
    ("instant", "tz", "frequency", "week_start", "expected"),
    [
        ("2024-03-03T23:30", "Asia/Tokyo", "weekly", 0, ("2024-03-04", "2024-03-10")),  # Mon 08:30
        ("2024-03-03T23:30", None, "weekly", 0, ("2024-02-26", "2024-03-03")),  # Sunday in UTC
        ("2024-03-03T23:30", None, "weekly", 6, ("2024-03-03", "2024-03-09")),  # Sunday start
        ("2024-02-29T20:00", "Asia/Kolkata", "monthly", 0, ("2024-03-01", "2024-03-31")),
        ("2024-02-29T20:00", "America/New_York", "daily", 0, ("2024-02-29", "2024-02-29")),
    ],
)
def test_local_period(
    instant: str, tz: str | None, frequency: str, week_start: int, expected: tuple[str, str]
) -> None:
    first, last = period_bounds(
        local_period(ms(instant), tz, frequency, week_start), frequency, week_start
    )
    assert (iso(first), iso(last)) == expected


@pytest.mark.parametrize(
    ("day", "frequency", "week_start", "expected"),
    [
        ("2023-02-28", "daily", 0, ("2023-03-01", "2023-03-01")),
        ("2024-02-28", "daily", 0, ("2024-02-29", "2024-02-29")),
        ("2024-12-31", "weekly", 0, ("2025-01-06", "2025-01-12")),
        ("2024-12-31", "weekly", 6, ("2025-01-05", "2025-01-11")),
        ("2024-01-31", "monthly", 0, ("2024-02-01", "2024-02-29")),
        ("2024-12-15", "monthly", 0, ("2025-01-01", "2025-01-31")),
    ],
)
def test_next_period(day: str, frequency: str, week_start: int, expected: tuple[str, str]) -> None:
    after = next_period(period_index(o(day), frequency, week_start))
    first, last = period_bounds(after, frequency, week_start)
    assert (iso(first), iso(last)) == expected


@pytest.mark.parametrize(
    ("day", "anchor", "unit", "interval", "index", "expected"),
    [
        (
            "2024-03-04",
            "2024-01-01",
            "day",
            7,
            9,
            ("2024-03-04", "2024-03-10"),
        ),  # weeks from a Monday
        ("2024-03-10", "2024-01-01", "day", 7, 9, ("2024-03-04", "2024-03-10")),
        ("2023-12-31", "2024-01-01", "day", 7, -1, ("2023-12-25", "2023-12-31")),
        ("2024-02-29", "2024-02-28", "day", 1, 1, ("2024-02-29", "2024-02-29")),
        ("2024-03-02", "2024-02-28", "day", 3, 1, ("2024-03-02", "2024-03-04")),
        ("2024-02-28", "2024-01-31", "month", 1, 0, ("2024-01-31", "2024-02-28")),  # Feb 29 ends it
        ("2024-02-29", "2024-01-31", "month", 1, 1, ("2024-02-29", "2024-03-30")),
        ("2024-03-31", "2024-01-31", "month", 1, 2, ("2024-03-31", "2024-04-29")),
        ("2025-02-28", "2024-01-31", "month", 1, 13, ("2025-02-28", "2025-03-30")),
        ("2024-04-14", "2024-01-15", "month", 3, 0, ("2024-01-15", "2024-04-14")),
        ("2024-04-15", "2024-01-15", "month", 3, 1, ("2024-04-15", "2024-07-14")),
        ("2024-01-14", "2024-01-15", "month", 3, -1, ("2023-10-15", "2024-01-14")),
        ("2025-02-27", "2024-02-29", "year", 1, 0, ("2024-02-29", "2025-02-27")),
        ("2025-02-28", "2024-02-29", "year", 1, 1, ("2025-02-28", "2026-02-27")),
        ("2028-02-29", "2024-02-29", "year", 1, 4, ("2028-02-29", "2029-02-27")),
        ("2027-06-01", "2024-02-29", "year", 2, 1, ("2026-02-28", "2028-02-28")),
    ],
)
def test_runs(
    day: str, anchor: str, unit: str, interval: int, index: int, expected: tuple[str, str]
) -> None:
    assert run_index(o(day), o(anchor), unit, interval) == index
    first, last = run_bounds(index, o(anchor), unit, interval)
    assert (iso(first), iso(last)) == expected


def test_consecutive_runs_meet() -> None:
    anchor = o("2024-01-31")
    for unit, interval in (("day", 7), ("month", 1), ("month", 5), ("year", 1)):
        for index in range(-30, 30):
            assert (
                run_bounds(index, anchor, unit, interval)[1] + 1
                == run_bounds(index + 1, anchor, unit, interval)[0]
            )
            first, last = run_bounds(index, anchor, unit, interval)
            assert run_index(first, anchor, unit, interval) == index
            assert run_index(last, anchor, unit, interval) == index


@pytest.mark.parametrize(
    ("unit", "interval", "message"),
    [
        ("week", 1, "run unit: expected 'day', 'month' or 'year', got 'week'"),
        ("day", 0, "run interval: must be at least 1, got 0"),
    ],
)
def test_bad_runs_are_named(unit: str, interval: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        run_index(o("2024-01-01"), o("2024-01-01"), unit, interval)
