"""Worked examples for streak days off (`[streak] days_off`, Trophy's `daysOff`). Rules
(tests/unit/strategies.py): a day counts when the user writes 3 words or finishes 1 chapter;
Saturday (6) and Sunday (0) are off. March 2024: Friday the 1st, Saturday the 2nd, Sunday the
3rd, Monday the 4th. Dates and weekdays worked out by hand from a calendar."""

from __future__ import annotations

from datetime import date

from processors.core.fold import close_periods
from processors.ticker import ticks_due
from schemas.rules_parse import parse_rules
from schemas.state import decode_state, encode_state
from tests.unit.fold_helpers import Run, at
from tests.unit.strategies import make_rules

WEEKEND = (6, 0)
NO_FREEZES = make_rules(initial=0, amount=0, interval=0, days_off=WEEKEND)
FREEZES = make_rules(days_off=WEEKEND)  # 1 initial, max 3, +1 every 3 days from the first day


def history(run: Run) -> list[tuple[str, int, bool, bool]]:
    """(day, length, frozen, paused) of each kept period, oldest first."""
    assert run.state is not None
    s = run.state.streak
    paused = set(s.paused_periods)
    return [
        (date.fromordinal(h.period).isoformat(), h.length, h.used_freeze, h.period in paused)
        for h in s.history
    ]


def test_a_friday_to_monday_gap_over_a_weekend_off_keeps_the_streak() -> None:
    run = Run(NO_FREEZES)
    friday = run.track("2024-03-01T10:00", 3).streak
    assert friday is not None and friday.expires == "2024-03-04"  # not Saturday: it is off
    monday = run.track("2024-03-04T10:00", 3).streak
    assert run.changes() == [("extended", "2024-03-04")]  # a pause is no fact
    assert monday is not None and (monday.length, monday.started, monday.extended) == (
        2,
        "2024-03-01",
        True,
    )
    assert history(run) == [
        ("2024-03-01", 1, False, False),
        ("2024-03-02", 1, False, True),
        ("2024-03-03", 1, False, True),
        ("2024-03-04", 2, False, False),
    ]
    assert run.streak == (2, 2, 0)


def test_a_gap_that_includes_a_workday_loses_the_streak() -> None:
    monday_missed = Run(NO_FREEZES)
    monday_missed.track("2024-03-01T10:00", 3)
    monday_missed.track("2024-03-05T10:00", 3)  # Tuesday
    assert monday_missed.changes() == [("lost", "2024-03-04"), ("started", "2024-03-05")]
    assert history(monday_missed) == [
        ("2024-03-01", 1, False, False),
        ("2024-03-02", 1, False, True),
        ("2024-03-03", 1, False, True),
        ("2024-03-05", 1, False, False),
    ]
    friday_missed = Run(NO_FREEZES)
    friday_missed.track("2024-02-29T10:00", 3)  # Thursday
    friday_missed.track("2024-03-04T10:00", 3)
    assert friday_missed.changes() == [("lost", "2024-03-01"), ("started", "2024-03-04")]
    assert friday_missed.streak == (1, 1, 0)


def test_acting_on_a_day_off_extends_the_streak() -> None:
    run = Run(NO_FREEZES)
    run.track("2024-03-01T10:00", 3)
    saturday = run.track("2024-03-02T10:00", 3).streak
    assert run.changes() == [("extended", "2024-03-02")]
    assert saturday is not None and (saturday.length, saturday.expires) == (2, "2024-03-04")
    run.track("2024-03-04T10:00", 3)
    assert run.changes() == [("extended", "2024-03-04")]
    assert history(run) == [
        ("2024-03-01", 1, False, False),
        ("2024-03-02", 2, False, False),
        ("2024-03-03", 2, False, True),
        ("2024-03-04", 3, False, False),
    ]
    assert run.streak == (3, 3, 0)


def test_days_off_consume_no_freeze() -> None:
    run = Run(FREEZES)
    run.track("2024-03-01T10:00", 3)  # 1 freeze; the next is earned on 4 March
    run.track("2024-03-05T10:00", 3)  # Saturday, Sunday off; Monday missed
    assert run.changes() == [
        ("freeze_earned", "2024-03-04"),  # credited before Monday is settled
        ("freeze_consumed", "2024-03-04"),
        ("extended", "2024-03-05"),
    ]
    assert run.streak == (2, 2, 1)  # 1 + 1 earned - 1 for Monday; none for the weekend
    assert history(run) == [
        ("2024-03-01", 1, False, False),
        ("2024-03-02", 1, False, True),
        ("2024-03-03", 1, False, True),
        ("2024-03-04", 1, True, False),
        ("2024-03-05", 2, False, False),
    ]


def test_days_off_are_the_users_local_weekdays() -> None:
    """UTC+14: Thursday noon UTC is Friday 02:00 there, Sunday noon UTC is Monday 02:00. In
    UTC Friday (a workday) would be missed; in Kiritimati only the weekend is."""
    east = Run(NO_FREEZES, tz="Pacific/Kiritimati")
    east.track("2024-02-29T12:00", 3)
    east.track("2024-03-03T12:00", 3)
    assert east.changes() == [("extended", "2024-03-04")]
    assert east.streak == (2, 2, 0)
    in_utc = Run(NO_FREEZES)
    in_utc.track("2024-02-29T12:00", 3)
    in_utc.track("2024-03-03T12:00", 3)
    assert in_utc.changes() == [("lost", "2024-03-01"), ("started", "2024-03-03")]
    # UTC-8: Saturday 06:00 UTC is Friday 22:00 in Los Angeles, Tuesday 05:00 UTC is Monday
    # 21:00 there. In UTC Monday would be missed.
    west = Run(NO_FREEZES, tz="America/Los_Angeles")
    west.track("2024-03-02T06:00", 3)
    west.track("2024-03-05T05:00", 3)
    assert west.changes() == [("extended", "2024-03-04")]
    assert west.streak == (2, 2, 0)


STREAK_ONLY = """
[metrics.words]
[streak]
frequency = "daily"
days_off = [6, 0]
[[streak.thresholds]]
metric = "words"
value = 3
"""


def test_the_clock_ticks_no_one_for_a_pause_only_for_a_loss() -> None:
    """Only the streak can make a tick due under these rules (no time trigger, no
    anniversary)."""
    rules = parse_rules(STREAK_ONLY)
    run = Run(rules)
    run.track("2024-03-01T10:00", 3)
    assert run.state is not None
    raw = {"u1": encode_state(run.state)}
    for sunday_or_monday in ("2024-03-03T12:00", "2024-03-04T12:00"):
        settled, facts = close_periods(run.state, at(sunday_or_monday), rules)
        assert facts == [] and settled.streak.length == 1
        assert ticks_due(raw, at(sunday_or_monday), rules) == []
    settled, facts = close_periods(run.state, at("2024-03-05T00:30"), rules)
    assert [(f.kind, f.period_start) for f in facts] == [("lost", "2024-03-04")]  # type: ignore[union-attr]
    assert [t.user_id for t in ticks_due(raw, at("2024-03-05T00:30"), rules)] == ["u1"]
    without = parse_rules(STREAK_ONLY.replace("days_off = [6, 0]", ""))
    assert [t.user_id for t in ticks_due(raw, at("2024-03-03T12:00"), without)] == ["u1"]


def test_paused_periods_leave_the_state_with_the_history_that_keeps_them() -> None:
    """`history_periods = 5`: the pauses go as their periods age out, and the state's bytes
    then have no `paused` at all, as before days off."""
    run = Run(NO_FREEZES)
    run.track("2024-03-01T10:00", 3)
    assert run.state is not None and b'"paused"' not in encode_state(run.state)
    run.track("2024-03-04T10:00", 3)
    saturday, sunday = date(2024, 3, 2).toordinal(), date(2024, 3, 3).toordinal()
    assert f'"paused":[{saturday},{sunday}]'.encode() in encode_state(run.state)
    assert decode_state(encode_state(run.state)) == run.state
    run.track("2024-03-05T10:00", 3)
    run.track("2024-03-06T10:00", 3)  # five kept: 2 (paused) ... 6 March
    run.track("2024-03-07T10:00", 3)
    assert [d for d, _, _, p in history(run) if p] == ["2024-03-03"]
    run.track("2024-03-08T10:00", 3)
    assert [d for d, _, _, p in history(run) if p] == []
    assert run.state is not None and b'"paused"' not in encode_state(run.state)
    assert run.streak == (6, 6, 0)
