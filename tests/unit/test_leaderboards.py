"""Leaderboard runs, status, window and groups in the participant's time zone, and the score
changes a command implies. Expected values are worked out by hand (dates below are checked
against a calendar) or by a naive walk over the calendar."""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from processors.core.leaderboards import (
    Standing,
    group_of,
    in_window,
    run_bounds,
    run_id,
    score_changes,
    status,
)
from processors.core.moment import Moment
from processors.core.periods import local_clock, run_index, run_start
from schemas.leaderboards import PERPETUAL_RUN, BoardScore
from tests.rules import leaderboard_rules

RULES = leaderboard_rules()
BOARDS = RULES.leaderboards
WEEKLY, MONTHLY, OWLS = BOARDS["weekly-words"], BOARDS["monthly-chapters"], BOARDS["night-owls"]
D = Decimal


def ordinal(iso: str) -> int:
    return date.fromisoformat(iso).toordinal()


def ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


# --- the calendar of runs (processors.core.periods, shared), against a naive walk -----------------


def naive_month_starts(anchor: date, step: int, count: int) -> list[int]:
    """Run starts by stepping month by month and backing off invalid days one at a time."""
    starts = []
    for k in range(count):
        months = anchor.month - 1 + k * step
        year, month = anchor.year + months // 12, months % 12 + 1
        day = anchor.day
        while True:
            try:
                starts.append(date(year, month, day).toordinal())
                break
            except ValueError:
                day -= 1
    return starts


@given(
    anchor=st.dates(date(2000, 1, 1), date(2030, 12, 31)),
    offset=st.integers(0, 2000),
    interval=st.integers(1, 40),
)
def test_day_runs_are_interval_days_from_the_anchor(
    anchor: date, offset: int, interval: int
) -> None:
    day = anchor.toordinal() + offset
    start, k = anchor.toordinal(), 0
    while start + interval <= day:  # walk run by run
        start += interval
        k += 1
    assert run_index(day, anchor.toordinal(), "day", interval) == k
    assert run_start(k, anchor.toordinal(), "day", interval) == start


@given(
    anchor=st.dates(date(2000, 1, 1), date(2030, 12, 31)),
    offset=st.integers(0, 3000),
    interval=st.integers(1, 14),
    unit=st.sampled_from(["month", "year"]),
)
def test_month_and_year_runs_walk_the_calendar(
    anchor: date, offset: int, interval: int, unit: str
) -> None:
    step = interval * 12 if unit == "year" else interval
    starts = naive_month_starts(anchor, step, 3000 // (28 * step) + 3)
    day = anchor.toordinal() + offset
    k = max(i for i, s in enumerate(starts) if s <= day)
    assert run_index(day, anchor.toordinal(), unit, interval) == k
    assert run_start(k, anchor.toordinal(), unit, interval) == starts[k]


def test_month_runs_from_the_31st_start_on_each_month_s_last_day_when_shorter() -> None:
    # monthly-chapters: from 2025-01-31, one month each
    assert run_id(MONTHLY, ordinal("2025-02-27")) == "2025-01-31"
    assert run_id(MONTHLY, ordinal("2025-02-28")) == "2025-02-28"
    assert run_id(MONTHLY, ordinal("2025-03-30")) == "2025-02-28"
    assert run_id(MONTHLY, ordinal("2025-03-31")) == "2025-03-31"
    assert run_bounds(MONTHLY, ordinal("2025-04-10")) == (
        ordinal("2025-03-31"),
        ordinal("2025-04-29"),
    )
    assert run_bounds(MONTHLY, ordinal("2025-06-29")) == (
        ordinal("2025-05-31"),
        ordinal("2025-06-29"),
    )
    # June has 30 days: a run starts on the 30th, and the board's end cuts it to one day
    assert run_bounds(MONTHLY, ordinal("2025-06-30")) == (
        ordinal("2025-06-30"),
        ordinal("2025-06-30"),
    )


def test_weekly_runs_start_on_the_configured_week_start() -> None:
    # week_start = sunday in this rules file; 2025-01-05 and 2025-01-12 are Sundays
    assert run_id(WEEKLY, ordinal("2025-01-04")) == "2024-12-29"
    assert run_id(WEEKLY, ordinal("2025-01-05")) == "2025-01-05"
    assert run_id(WEEKLY, ordinal("2025-01-11")) == "2025-01-05"
    assert run_bounds(WEEKLY, ordinal("2025-01-08")) == (
        ordinal("2025-01-05"),
        ordinal("2025-01-11"),
    )
    assert run_id(BOARDS["all-time-words"], ordinal("2025-01-08")) == PERPETUAL_RUN


def test_status_follows_the_local_date() -> None:
    assert status(MONTHLY, ordinal("2025-01-30")) == "scheduled"
    assert status(MONTHLY, ordinal("2025-01-31")) == "active"
    assert status(MONTHLY, ordinal("2025-06-30")) == "active"
    assert status(MONTHLY, ordinal("2025-07-01")) == "finished"
    assert status(WEEKLY, ordinal("1999-01-01")) == "active"


def test_a_window_over_midnight() -> None:  # night-owls: 22:00 to 06:00
    def counts(hh_mm: str) -> bool:
        h, m = map(int, hh_mm.split(":"))
        return in_window(OWLS, h * 60 + m)

    assert [counts(t) for t in ("21:59", "22:00", "23:30", "00:00", "05:59", "06:00")] == [
        False,
        True,
        True,
        True,
        True,
        False,
    ]


@given(st.integers(0, 4_102_444_800_000), st.sampled_from(["Asia/Tokyo", "America/New_York"]))
def test_the_local_clock_is_the_zone_s_wall_clock(time_ms: int, tz: str) -> None:
    wall = datetime.fromtimestamp(time_ms / 1000, UTC).astimezone(ZoneInfo(tz))
    assert local_clock(time_ms, tz) == (wall.toordinal(), wall.hour * 60 + wall.minute)


def test_groups_are_attribute_combinations_with_unambiguous_names() -> None:
    assert group_of(WEEKLY, {"plan": "pro"}) == ""
    assert group_of(MONTHLY, {"region": "eu", "plan": "pro", "x": "y"}) == "plan=pro&region=eu"
    assert group_of(MONTHLY, {"plan": "pro"}) is None
    tricky = group_of(MONTHLY, {"plan": "a&region=b", "region": "c"})
    plain = group_of(MONTHLY, {"plan": "a", "region": "b&region=c"})
    assert tricky != plain and tricky is not None and plain is not None


# --- score changes ------------------------------------------------------------------------


def words(before: int, after: int, streak: int = 0) -> tuple[Standing, Standing]:
    return Standing({"words": D(before)}, streak=streak), Standing(
        {"words": D(after)}, streak=streak
    )


def at(
    iso: str, tz: str | None = None, attrs: dict[str, str] | None = None, user: str = "u"
) -> Moment:
    return Moment.of(user, f"e-{iso}", ms(iso), tz, attrs or {})


def test_two_zones_at_one_instant_fall_in_different_weekly_runs() -> None:
    # 2025-01-05T02:00Z: Sunday 11:00 in Tokyo (a new week), Saturday 21:00 in New York
    boards = {"weekly-words": WEEKLY}
    instant = "2025-01-05T02:00:00+00:00"
    _, tokyo = score_changes(boards, {}, *words(0, 10), at(instant, "Asia/Tokyo", user="t"))
    _, ny = score_changes(boards, {}, *words(0, 10), at(instant, "America/New_York", user="n"))
    assert [(r.user_id, r.run) for r in tokyo + ny] == [("t", "2025-01-05"), ("n", "2024-12-29")]


def test_a_run_sums_the_changes_in_it_and_the_next_run_starts_from_zero() -> None:
    boards = {"weekly-words": WEEKLY, "all-time-words": BOARDS["all-time-words"]}
    s1, r1 = score_changes(boards, {}, *words(0, 100), at("2025-01-06T10:00:00+00:00"))
    s2, r2 = score_changes(boards, s1, *words(100, 130), at("2025-01-07T10:00:00+00:00"))
    s3, r3 = score_changes(boards, s2, *words(130, 135), at("2025-01-12T10:00:00+00:00"))
    assert [(r.board, r.run, r.previous, r.value) for r in r1 + r2 + r3] == [
        ("weekly-words", "2025-01-05", None, D(100)),
        ("all-time-words", PERPETUAL_RUN, None, D(100)),
        ("weekly-words", "2025-01-05", D(100), D(130)),
        ("all-time-words", PERPETUAL_RUN, D(100), D(130)),
        ("weekly-words", "2025-01-12", None, D(5)),
        ("all-time-words", PERPETUAL_RUN, D(130), D(135)),
    ]
    week_2 = ms("2025-01-07T10:00:00+00:00")
    assert s3["weekly-words"] == BoardScore(
        "2025-01-12",
        "",
        D(5),
        ms("2025-01-12T10:00:00+00:00"),
        BoardScore("2025-01-05", "", D(130), week_2),
    )
    assert r3[0].id == "u:score:weekly-words:2025-01-12::e-2025-01-12T10:00:00+00:00"


def weekly_scores(
    events: list[tuple[str, int]],
) -> tuple[BoardScore | None, list[tuple[str, Decimal | None, Decimal | None]]]:
    """Fold (time, words) events in log order into the weekly board: the score the state
    holds and the (run, previous, value) of each change."""
    boards, total = {"weekly-words": WEEKLY}, 0
    scores: Mapping[str, BoardScore] = {}
    changes: list[tuple[str, Decimal | None, Decimal | None]] = []
    for iso, n in events:
        scores, recs = score_changes(boards, scores, *words(total, total + n), at(iso))
        total += n
        changes += [(r.run, r.previous, r.value) for r in recs]
    return scores.get("weekly-words"), changes


# weeks from Sunday: Saturday 2025-03-08 is in the run of 2025-03-02, Sunday 9 March starts
# the run of 2025-03-09
SAT, SUN = "2025-03-02", "2025-03-09"


def test_a_late_event_counts_into_its_own_run_and_never_overwrites_the_newer_one() -> None:
    """Issue 18's example: 100 on Saturday, 50 on Sunday, 7 stamped Saturday 23:59:59 but
    logged after Sunday's, 5 on Sunday: Saturday's run 107, Sunday's 55."""
    held, changes = weekly_scores(
        [
            ("2025-03-08T12:00:00+00:00", 100),
            ("2025-03-09T09:00:00+00:00", 50),
            ("2025-03-08T23:59:59+00:00", 7),
            ("2025-03-09T10:00:00+00:00", 5),
        ]
    )
    assert changes == [
        (SAT, None, D(100)),
        (SUN, None, D(50)),
        (SAT, D(100), D(107)),
        (SUN, D(50), D(55)),
    ]
    assert held is not None and held.earlier is not None
    assert (held.run, held.value, held.earlier.run, held.earlier.value) == (SUN, D(55), SAT, D(107))
    # the late event is when Saturday's run reached 107 (the tie rule's order)
    assert held.earlier.reached_ms == ms("2025-03-08T23:59:59+00:00")


def test_a_late_event_starts_the_earlier_run_when_the_user_had_no_score_in_it() -> None:
    held, changes = weekly_scores(
        [("2025-03-09T09:00:00+00:00", 50), ("2025-03-08T23:59:59+00:00", 7)]
    )
    assert changes == [(SUN, None, D(50)), (SAT, None, D(7))]
    assert held is not None and held.earlier is not None
    assert (held.run, held.value, held.earlier.run, held.earlier.value) == (SUN, D(50), SAT, D(7))


def test_an_event_older_than_both_held_runs_counts_on_no_run() -> None:
    """Held: the runs of 9 and 16 March. An event of the run of 2 March is final (it still
    counts in the metric's total, so the next event's delta is only its own)."""
    held, changes = weekly_scores(
        [
            ("2025-03-09T09:00:00+00:00", 50),
            ("2025-03-16T09:00:00+00:00", 20),
            ("2025-03-08T23:59:59+00:00", 7),
            ("2025-03-16T10:00:00+00:00", 1),
        ]
    )
    assert changes == [
        (SUN, None, D(50)),
        ("2025-03-16", None, D(20)),
        ("2025-03-16", D(20), D(21)),
    ]
    assert held is not None and held.earlier is not None
    assert (held.run, held.value, held.earlier.run, held.earlier.value) == (
        "2025-03-16",
        D(21),
        SUN,
        D(50),
    )


def test_a_late_event_between_the_held_runs_replaces_the_earlier_one() -> None:
    """Held: 2 March's run (earlier) and 16 March's (newest); an event of 9 March's run is
    newer than the earlier one: it starts that run, which becomes the earlier one."""
    held, changes = weekly_scores(
        [
            ("2025-03-08T09:00:00+00:00", 4),
            ("2025-03-16T09:00:00+00:00", 20),
            ("2025-03-10T09:00:00+00:00", 3),
            ("2025-03-03T09:00:00+00:00", 9),  # now older than both held runs: final
        ]
    )
    assert changes == [(SAT, None, D(4)), ("2025-03-16", None, D(20)), (SUN, None, D(3))]
    assert held is not None and held.earlier is not None
    assert (held.run, held.earlier.run, held.earlier.value) == ("2025-03-16", SUN, D(3))


def test_a_finished_or_scheduled_board_counts_nothing_and_keeps_its_final_scores() -> None:
    boards = {"monthly-chapters": MONTHLY}
    attrs = {"plan": "pro", "region": "eu"}
    before, after = Standing({"chapters": D(0)}), Standing({"chapters": D(2)})
    early = at("2025-01-30T12:00:00+00:00", attrs=attrs)
    assert score_changes(boards, {}, before, after, early) == ({}, [])
    scores, recs = score_changes(
        boards, {}, before, after, at("2025-06-30T23:30:00+00:00", attrs=attrs)
    )
    assert [(r.run, r.group, r.value) for r in recs] == [("2025-06-30", "plan=pro&region=eu", D(2))]
    # 2025-07-01 00:30 in London is already July: finished, although it is June 30 in UTC
    late = at("2025-06-30T23:30:00+00:00", "Europe/London", attrs)
    more = Standing({"chapters": D(5)})
    final, none = score_changes(boards, scores, after, more, late)
    assert none == [] and final is scores


def test_the_window_counts_only_activity_inside_it_in_local_time() -> None:
    boards = {"night-owls": OWLS}
    # 23:00 UTC is 08:00 in Tokyo: outside; 14:00 UTC is 23:00 in Tokyo: inside
    assert (
        score_changes(boards, {}, *words(0, 5), at("2025-03-01T23:00:00+00:00", "Asia/Tokyo"))[1]
        == []
    )
    _, inside = score_changes(
        boards, {}, *words(0, 5), at("2025-03-01T14:00:00+00:00", "Asia/Tokyo")
    )
    assert [(r.run, r.value) for r in inside] == [("2025-03-01", D(5))]


def test_a_group_change_moves_the_score_and_keeps_when_it_was_reached() -> None:
    boards = {"monthly-chapters": MONTHLY}
    one, two = Standing({"chapters": D(0)}), Standing({"chapters": D(3)})
    first = at("2025-03-02T09:00:00+00:00", attrs={"plan": "free", "region": "eu"})
    scores, _ = score_changes(boards, {}, one, two, first)
    moved = at("2025-03-03T09:00:00+00:00", attrs={"plan": "pro", "region": "eu"})
    scores2, recs = score_changes(boards, scores, two, two, moved)
    assert [(r.group, r.previous, r.value, r.time_ms) for r in recs] == [
        ("plan=free&region=eu", D(3), None, ms("2025-03-03T09:00:00+00:00")),
        ("plan=pro&region=eu", None, D(3), ms("2025-03-02T09:00:00+00:00")),
    ]
    # losing an attribute leaves every ranking; the score is kept for when it comes back
    gone = at("2025-03-04T09:00:00+00:00", attrs={"region": "eu"})
    scores3, left = score_changes(boards, scores2, two, two, gone)
    assert [(r.group, r.value) for r in left] == [("plan=pro&region=eu", None)]
    assert scores3["monthly-chapters"].group is None and scores3["monthly-chapters"].value == D(3)


def test_a_streak_board_ranks_the_current_length() -> None:
    boards = {"longest-streak": BOARDS["longest-streak"]}
    zero, one = Standing({}, streak=0), Standing({}, streak=1)
    s1, r1 = score_changes(boards, {}, zero, one, at("2025-01-01T10:00:00+00:00"))
    s2, r2 = score_changes(boards, s1, one, one, at("2025-01-01T11:00:00+00:00"))
    s3, r3 = score_changes(boards, s2, one, zero, at("2025-01-03T10:00:00+00:00"))
    assert [(r.previous, r.value) for r in r1 + r2 + r3] == [(None, D(1)), (D(1), D(0))]
    assert s2 is s1 and s3["longest-streak"].value == 0


def test_no_counted_change_no_record_and_the_same_scores() -> None:
    scores, _ = score_changes(BOARDS, {}, *words(0, 7), at("2025-01-06T10:00:00+00:00"))
    same, recs = score_changes(BOARDS, scores, *words(7, 7), at("2025-01-06T11:00:00+00:00"))
    assert recs == [] and same is scores
    assert calendar.day_name[date(2025, 1, 5).weekday()] == "Sunday"  # the dates above


@given(
    st.lists(st.tuples(st.integers(0, 60 * 86_400_000), st.integers(-5, 50)), max_size=40),
    st.sampled_from([None, "Asia/Tokyo", "America/Los_Angeles", "Australia/Sydney"]),
)
def test_each_weekly_run_ends_with_the_sum_of_its_own_changes(
    events: list[tuple[int, int]], tz: str | None
) -> None:
    """Bucket the events by local week (from Sunday) independently; the last record of each
    run must carry that week's sum, and the all-time board the running total."""
    events = sorted(events)
    base = ms("2025-01-01T00:00:00+00:00")
    boards = {"weekly-words": WEEKLY, "all-time-words": BOARDS["all-time-words"]}
    sums: dict[str, Decimal] = {}
    last: dict[str, Decimal | None] = {}
    scores: dict[str, BoardScore] = {}
    total = 0
    for i, (offset, delta) in enumerate(events):
        wall = datetime.fromtimestamp((base + offset) / 1000, ZoneInfo(tz or "UTC"))
        sunday = wall.date().toordinal() - (wall.weekday() + 1) % 7
        if delta:
            week = date.fromordinal(sunday).isoformat()
            sums[week] = sums.get(week, D(0)) + delta
        moment = Moment.of("u", f"e{i}", base + offset, tz, {})
        scores, recs = score_changes(boards, scores, *words(total, total + delta), moment)  # type: ignore[assignment]
        total += delta
        for r in recs:
            last[r.run if r.board == "weekly-words" else "total"] = r.value
    assert {k: v for k, v in last.items() if k != "total"} == sums
    assert last.get("total", D(0)) == total


def two_newest_runs(events: list[tuple[str, int]]) -> dict[str, Decimal]:
    """An independent model of the late-event rule: the runs kept are the two newest the user
    touched; an event older than both is dropped, any other adds to its run (starting it),
    and a third run pushes out the oldest. Runs by a naive week walk from Sunday."""
    kept: dict[str, Decimal] = {}
    for iso, n in events:
        day = date.fromisoformat(iso[:10])
        run = (day - timedelta(days=(day.weekday() + 1) % 7)).isoformat()  # back to Sunday
        if len(kept) == 2 and run < min(kept):
            continue
        kept[run] = kept.get(run, D(0)) + n
        if len(kept) > 2:
            del kept[min(kept)]
    return kept


@given(
    st.lists(
        st.tuples(
            st.integers(0, 42 * 86_400 - 1).map(  # 1 March to 11 April 2025, in seconds
                lambda s: (datetime(2025, 3, 1, tzinfo=UTC) + timedelta(seconds=s)).isoformat()
            ),
            st.integers(1, 50),
        ),
        min_size=1,
        max_size=25,
    )
)
def test_the_held_runs_are_the_two_newest_the_user_touched(events: list[tuple[str, int]]) -> None:
    held, _ = weekly_scores(events)
    assert held is not None
    got = {held.run: held.value}
    if held.earlier is not None:
        got[held.earlier.run] = held.earlier.value
    assert got == two_newest_runs(events)
