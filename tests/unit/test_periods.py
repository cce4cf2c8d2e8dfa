"""Local dates and streak periods: DST, odd offsets, leap days, month ends, week starts.

Expected dates are worked out by hand from the zones' published offsets.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from processors.periods import iso, local_ordinal, period_bounds, period_index


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
