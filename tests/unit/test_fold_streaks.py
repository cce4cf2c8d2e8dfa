"""Worked examples for streaks. Rules (tests/unit/strategies.py): a period counts when the
user writes 3 words or finishes 1 chapter in it (combine "any" unless stated); freezes:
1 initial, max 3, +1 every 3 days from the user's first day. Dates worked out by hand."""

from __future__ import annotations

from dataclasses import replace as _dataclass_replace
from datetime import date
from decimal import Decimal

from processors.core.fold import close_periods
from processors.ticker import ticks_due
from schemas.commands import MAX_TIME_MS, MetricTracked
from schemas.rules_parse import parse_rules
from schemas.state import HistoryEntry, StreakState, encode_state
from schemas.values import replace as _changed
from tests.unit.fold_helpers import Run, at
from tests.unit.strategies import RULES, make_rules

NO_FREEZES = make_rules(initial=0, amount=0, interval=0)


def test_started_then_extended_once_per_period_with_expiry() -> None:
    run = Run(RULES)
    first = run.track("2024-03-01T10:00", 3)
    assert run.changes() == [("started", "2024-03-01")]
    s = first.streak
    assert s is not None
    assert (s.length, s.started, s.period_start, s.period_end, s.expires, s.extended) == (
        1,
        "2024-03-01",
        "2024-03-01",
        "2024-03-01",
        "2024-03-02",
        True,
    )
    assert (s.freezes, s.max_freezes, s.freeze_auto_earn_interval, s.freeze_auto_earn_amount) == (
        1,
        3,
        3,
        1,
    )
    again = run.track("2024-03-01T11:00", 5).streak
    assert again is not None and (again.length, again.extended) == (1, False)
    short = run.track("2024-03-02T09:00", 1).streak  # 1 word: not yet
    assert short is not None and (short.length, short.extended, short.expires) == (
        1,
        False,
        "2024-03-02",
    )
    done = run.track("2024-03-02T10:00", 2).streak  # 3 words in the period now
    assert done is not None and (done.length, done.extended, done.expires) == (
        2,
        True,
        "2024-03-03",
    )
    assert run.changes() == [("extended", "2024-03-02")]


def test_negative_values_count_against_the_period_threshold() -> None:
    run = Run(RULES)
    run.track("2024-03-01T10:00", 2)
    run.track("2024-03-01T10:01", -1)
    assert run.track("2024-03-01T10:02", 1).streak.length == 0  # type: ignore[union-attr]
    assert run.track("2024-03-01T10:03", 1).streak.length == 1  # type: ignore[union-attr]


def test_combine_all_needs_every_threshold_in_the_same_period() -> None:
    run = Run(make_rules(combine="all"))
    run.track("2024-03-01T10:00", 3)
    assert run.streak[0] == 0
    run.track("2024-03-01T11:00", 1, "chapters")
    assert run.streak[0] == 1


def test_freezes_cover_missed_periods_then_the_streak_is_lost() -> None:
    run = Run(RULES)
    run.track("2024-03-01T10:00", 3)
    run.track("2024-03-03T10:00", 3)  # 2 March missed: the initial freeze covers it
    assert run.changes() == [("freeze_consumed", "2024-03-02"), ("extended", "2024-03-03")]
    assert run.streak == (2, 2, 0)
    progress = run.track("2024-03-06T10:00", 3)  # 4 and 5 March missed
    assert run.changes() == [
        ("freeze_earned", "2024-03-04"),  # 1 March + 3 days, credited before 4 March closes
        ("freeze_consumed", "2024-03-04"),
        ("lost", "2024-03-05"),
        ("started", "2024-03-06"),
    ]
    assert run.streak == (1, 2, 0)
    assert progress.streak is not None and progress.streak.started == "2024-03-06"


def test_without_freezes_one_missed_period_loses_the_streak() -> None:
    run = Run(NO_FREEZES)
    run.track("2024-03-01T10:00", 3)
    run.track("2024-03-02T10:00", 3)
    run.track("2024-03-04T10:00", 3)
    assert run.changes() == [("lost", "2024-03-03"), ("started", "2024-03-04")]
    assert run.streak == (1, 2, 0)


def test_the_clock_settles_inactive_users() -> None:
    run = Run(RULES)
    run.track("2024-03-01T10:00", 3)
    tick = run.tick("2024-03-03T12:00")
    assert run.changes() == [("freeze_consumed", "2024-03-02")]
    assert tick.streak is not None and (tick.streak.length, tick.streak.expires) == (
        1,
        "2024-03-03",
    )
    run.tick("2024-03-04T12:00")
    assert run.changes() == [("freeze_earned", "2024-03-04"), ("freeze_consumed", "2024-03-03")]
    run.tick("2024-03-06T12:00")
    assert run.changes() == [("lost", "2024-03-04")]
    assert run.streak == (0, 1, 0)
    run.tick("2024-03-06T13:00")
    assert run.changes() == []


def test_close_periods_is_pure_and_returns_no_progress() -> None:
    run = Run(RULES)
    run.track("2024-03-01T10:00", 3)
    assert run.state is not None
    settled, records = close_periods(run.state, at("2024-03-03T00:00"), RULES)
    assert [r.kind for r in records] == ["freeze_consumed"]  # type: ignore[union-attr]
    assert run.state.streak.freezes == 1 and settled.streak.freezes == 0
    same, nothing = close_periods(run.state, at("2024-03-01T23:00"), RULES)
    assert same is run.state and nothing == []  # nothing to settle: the very same state
    moved, nothing = close_periods(run.state, at("2024-03-02T23:00"), RULES)
    assert nothing == [] and moved.streak.length == 1 and moved.streak.freezes == 1


def test_auto_earned_freezes_stop_at_the_maximum() -> None:
    run = Run(RULES)
    earned = []
    for day in range(1, 14):
        run.track(f"2024-03-{day:02d}T10:00", 3)
        earned += [d for kind, d in run.changes() if kind == "freeze_earned"]
    assert earned == ["2024-03-04", "2024-03-07"]  # 10 and 13 March: already at 3
    assert run.streak == (13, 13, 3)


def test_daylight_saving_days_are_ordinary_days() -> None:
    ny = Run(NO_FREEZES, tz="America/New_York")
    ny.track("2024-03-10T04:30", 3)  # 23:30 EST, 9 March
    ny.track("2024-03-11T03:30", 3)  # 23:30 EDT, 10 March (a 23-hour day)
    ny.track("2024-03-11T04:30", 3)  # 00:30 EDT, 11 March
    assert ny.streak[0] == 3
    ny.track("2024-03-13T04:30", 3)  # 00:30 EDT, 13 March: 12 March was missed
    assert ny.changes() == [("lost", "2024-03-12"), ("started", "2024-03-13")]
    london = Run(NO_FREEZES, tz="Europe/London")
    london.track("2024-10-26T23:00", 3)  # 00:00 BST, 27 October (a 25-hour day)
    london.track("2024-10-27T23:59", 3)  # 23:59 GMT, still 27 October
    assert london.streak[0] == 1
    london.track("2024-10-28T00:00", 3)
    assert london.streak[0] == 2


def test_a_time_zone_change_never_moves_the_streak_backwards() -> None:
    run = Run(NO_FREEZES)
    run.track("2024-03-01T23:00", 3)  # UTC: 1 March
    assert run.track("2024-03-02T01:00", 3, tz="Asia/Tokyo").streak.length == 2  # type: ignore[union-attr]
    la = run.track("2024-03-02T10:00", 3, tz="America/Los_Angeles").streak  # LA: 2 March
    assert la is not None and (la.length, la.extended) == (2, False)
    run.track("2024-03-02T16:00", 3, tz="Asia/Tokyo")  # Tokyo: 3 March
    assert run.streak[0] == 3
    back = run.track("2024-03-02T18:00", 3, tz="America/Los_Angeles").streak  # LA: 2 March
    assert back is not None and (back.length, back.period_start) == (3, "2024-03-03")
    assert run.changes() == []
    run.track("2024-03-04T07:00", 3)  # LA: 3 March
    assert run.streak[0] == 3
    run.track("2024-03-04T09:00", 3)  # LA: 4 March
    assert run.streak[0] == 4 and run.changes() == [("extended", "2024-03-04")]


def test_leap_days() -> None:
    leap = Run(NO_FREEZES)
    for day in ("2024-02-28", "2024-02-29", "2024-03-01"):
        leap.track(f"{day}T12:00", 3)
    assert leap.streak[0] == 3
    plain = Run(NO_FREEZES)
    plain.track("2023-02-28T12:00", 3)
    plain.track("2023-03-01T12:00", 3)
    assert plain.streak[0] == 2


def test_monthly_streaks_cross_month_ends_in_the_users_zone() -> None:
    run = Run(make_rules("monthly", initial=0, amount=0, interval=0), tz="Asia/Tokyo")
    run.track("2024-01-30T12:00", 3)  # Tokyo: 30 January
    feb = run.track("2024-01-31T16:00", 3).streak  # Tokyo: 1 February 01:00
    assert feb is not None and (feb.length, feb.period_start, feb.period_end, feb.expires) == (
        2,
        "2024-02-01",
        "2024-02-29",
        "2024-03-31",
    )
    run.track("2024-04-02T12:00", 3)  # March missed
    assert run.changes() == [("lost", "2024-03-01"), ("started", "2024-04-01")]


def test_week_start_decides_which_days_share_a_week() -> None:
    monday = Run(make_rules("weekly", week_start="monday"))
    monday.track("2024-03-02T12:00", 3)  # Saturday
    sunday_after = monday.track("2024-03-03T12:00", 3).streak  # Sunday: same Monday-week
    assert sunday_after is not None and (sunday_after.length, sunday_after.expires) == (
        1,
        "2024-03-10",
    )
    sunday = Run(make_rules("weekly", week_start="sunday"))
    sunday.track("2024-03-02T12:00", 3)
    s = sunday.track("2024-03-03T12:00", 3).streak  # Sunday starts a new week
    assert s is not None and (s.length, s.period_start, s.period_end, s.expires) == (
        2,
        "2024-03-03",
        "2024-03-09",
        "2024-03-16",
    )


def test_history_keeps_the_last_periods() -> None:
    run = Run(RULES)
    for day in range(1, 8):
        run.track(f"2024-03-{day:02d}T10:00", 3)
    assert run.state is not None
    history = run.state.streak.history
    assert [(date.fromordinal(h.period).isoformat(), h.length) for h in history] == [
        ("2024-03-03", 3),
        ("2024-03-04", 4),
        ("2024-03-05", 5),
        ("2024-03-06", 6),
        ("2024-03-07", 7),
    ]
    assert run.streak[1] == 7


def test_the_extremes_of_time_fold_in_any_zone() -> None:
    for rules in (
        NO_FREEZES,
        make_rules("monthly", initial=0, amount=0, interval=0),
        make_rules("weekly", "any", "sunday", initial=0, amount=0, interval=0),
    ):
        for tz in ("Pacific/Kiritimati", "Etc/GMT+12"):  # UTC+14 and UTC-12
            run = Run(rules, tz=tz)
            run.track("1970-01-01T00:00", 3)
            late = run.send(
                MetricTracked(
                    event_id="late",
                    time_ms=MAX_TIME_MS,
                    user=run.user(),
                    metric="words",
                    value=Decimal(3),
                )
            )
            assert late.streak is not None and late.streak.length == 1
            assert late.streak.period_end is not None and late.streak.period_end <= "9999-12-31"


def test_history_keeps_frozen_periods_within_the_bound() -> None:
    run = Run(RULES)
    run.track("2024-03-01T10:00", 3)
    run.track("2024-03-02T10:00", 3)
    run.track("2024-03-04T10:00", 3)  # 03-03 missed; the freeze earned on 03-04 comes first
    assert run.changes() == [
        ("freeze_earned", "2024-03-04"),
        ("freeze_consumed", "2024-03-03"),
        ("extended", "2024-03-04"),
    ]
    run.track("2024-03-05T10:00", 3)
    run.track("2024-03-06T10:00", 3)
    assert run.state is not None
    history = run.state.streak.history
    assert [(date.fromordinal(h.period).isoformat(), h.length, h.used_freeze) for h in history] == [
        ("2024-03-02", 2, False),
        ("2024-03-03", 2, True),
        ("2024-03-04", 3, False),
        ("2024-03-05", 4, False),
        ("2024-03-06", 5, False),
    ]
    assert run.streak == (5, 5, 1)


def test_changed_replaces_only_the_named_fields() -> None:
    entry = HistoryEntry(period=11, length=4, used_freeze=False)
    s = StreakState(
        length=4,
        longest=9,
        started=8,
        covered=11,
        period=12,
        progress={"words": Decimal(2)},
        extended_ms=13,
        freezes=2,
        freeze_anchor=5,
        freeze_earned=1,
        history=(entry,),
    )
    assert _changed(s) == s
    assert _changed(s, length=0, started=None, covered=None) == StreakState(
        longest=9,
        period=12,
        progress={"words": Decimal(2)},
        extended_ms=13,
        freezes=2,
        freeze_anchor=5,
        freeze_earned=1,
        history=(entry,),
    )


# --- a tick at a period's end: the grace for clock skew (issue 18) --------------------------


def test_a_tick_just_after_midnight_leaves_the_day_open_for_an_event_stamped_before_it() -> None:
    """Issue 18: the tick at 00:00:00.100 is logged before the event stamped 23:59:59.900 of
    the day before. The tick settles as of 300 s earlier (23:55:00.100 on 2 March), so 2 March
    is still open and the late event extends the streak for it: 2 days, nothing lost."""
    run = Run(NO_FREEZES)
    run.track("2024-03-01T10:00", 3)
    tick = run.tick("2024-03-03T00:00:00.100")
    assert run.changes() == []
    assert tick.streak is not None and tick.streak.length == 1
    run.track("2024-03-02T23:59:59.900", 3)
    assert run.changes() == [("extended", "2024-03-02")]
    assert run.streak == (2, 2, 0)


def test_a_tick_settles_a_missed_day_once_the_grace_after_it_has_passed() -> None:
    """2 March ends at 00:00 on 3 March; with a grace of 300 s a tick at 00:04:59.999 still
    leaves it open, one at 00:05:00.000 settles it (no freezes: lost)."""
    run = Run(NO_FREEZES)
    run.track("2024-03-01T10:00", 3)
    run.tick("2024-03-03T00:04:59.999")
    assert run.changes() == []
    run.tick("2024-03-03T00:05:00.000")
    assert run.changes() == [("lost", "2024-03-02")]
    assert run.streak == (0, 1, 0)


def test_without_a_grace_the_tick_at_midnight_loses_the_day() -> None:
    """`tick_grace_seconds = 0`: the behaviour before the grace, the day is lost and the late
    event counts for the tick's day instead."""
    streak = NO_FREEZES.streak
    assert streak is not None
    rules = _dataclass_replace(NO_FREEZES, streak=_dataclass_replace(streak, tick_grace_seconds=0))
    run = Run(rules)
    run.track("2024-03-01T10:00", 3)
    run.tick("2024-03-03T00:00:00.100")
    assert run.changes() == [("lost", "2024-03-02")]
    run.track("2024-03-02T23:59:59.900", 3)
    assert run.changes() == [("started", "2024-03-03")]


def test_an_event_of_the_user_is_not_given_a_grace() -> None:
    """The grace is the tick's: a user's own event just after midnight makes the new day the
    current one (a fact of the user's time), so a later-logged event of the day before counts
    for the new day, as documented under "Time runs forward"."""
    run = Run(NO_FREEZES)
    run.track("2024-03-01T10:00", 3)
    run.track("2024-03-03T00:00:00.100", 1)
    assert run.changes() == [("lost", "2024-03-02")]


def test_podium_tick_writes_no_tick_inside_the_grace_and_one_after_it() -> None:
    """`ticks_due` decides with the grace as the fold does: a tick inside it would change
    nothing. Rules with a streak only (no time trigger, no anniversary, no freezes)."""
    rules = parse_rules(
        '[metrics.words]\n[streak]\nfrequency = "daily"\n'
        '[[streak.thresholds]]\nmetric = "words"\nvalue = 3\n'
    )
    run = Run(rules)
    run.track("2024-03-01T10:00", 3)
    assert run.state is not None
    raw = {"u1": encode_state(run.state)}
    assert ticks_due(raw, at("2024-03-03T00:04:59.999"), rules) == []
    assert [t.user_id for t in ticks_due(raw, at("2024-03-03T00:05"), rules)] == ["u1"]


def test_podium_tick_skips_a_state_it_cannot_read_and_ticks_the_others() -> None:
    """A state that does not decode, or one keyed by bytes that are not UTF-8 (read with
    surrogate escapes), stopped `podium tick` for every user; now only that one gets none."""
    rules = parse_rules(
        '[metrics.words]\n[streak]\nfrequency = "daily"\n'
        '[[streak.thresholds]]\nmetric = "words"\nvalue = 3\n'
    )
    run = Run(rules)
    run.track("2024-03-01T10:00", 3)
    assert run.state is not None
    good = encode_state(run.state)
    raw = {
        "a-undecodable": b'{"userId": "a", "version": 99}',
        "b-\udcff": good,
        "u1": good,
    }
    assert [t.user_id for t in ticks_due(raw, at("2024-03-03T00:05"), rules)] == ["u1"]
