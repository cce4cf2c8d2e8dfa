"""Points in the fold, by worked examples: every trigger type, caps, levels, boosts, negative
and fractional values. Expected figures are worked out by hand in the comments."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from processors.core.fold import evolve
from processors.core.points import boosted, bounded, level_of
from processors.ticker import ticks_due
from schemas.commands import MetricTracked, User
from schemas.records import AchievementCompleted, PointsChanged, Progress, StreakChanged
from schemas.rules import Rules
from schemas.rules_parse import parse_rules
from schemas.state import decode_state, encode_state
from tests.unit.fold_helpers import Run, at

RULES_TEXT = """
[limits]
points_awards = 3
points_days = 2
[metrics.words]
name = "Words"
[metrics.lessons]
[[achievements]]
key = "w100"
name = "Hundred words"
trigger = "metric"
metric = "words"
value = 100
[streak]
frequency = "daily"
[[streak.thresholds]]
metric = "lessons"
value = 1

[[points]]
key = "xp"
name = "XP"
max_points = 1000
[[points.triggers]]
key = "per-3-lessons"
type = "metric"
metric = "lessons"
threshold = 3
points = 10
[[points.triggers]]
key = "poetry-words"
type = "metric"
metric = "words"
threshold = 10
points = 1
event_attributes = { genre = "poetry" }
[[points.triggers]]
key = "pro-words"
type = "metric"
metric = "words"
threshold = 50
points = 5
user_attributes = { plan = "pro" }
[[points.triggers]]
key = "hundred"
type = "achievement"
achievement = "w100"
points = 100
[[points.triggers]]
key = "streak-2"
type = "streak"
streak_length = 2
points = 7
[[points.triggers]]
key = "welcome"
type = "user_creation"
points = 20
[[points.levels]]
key = "bronze"
name = "Bronze"
points = 0
[[points.levels]]
key = "silver"
name = "Silver"
points = 50
[[points.levels]]
key = "gold"
name = "Gold"
points = 130

[[points]]
key = "energy"
name = "Energy"
max_points = 5
[[points.triggers]]
key = "regen"
type = "time"
time_unit = "hour"
time_interval = 2
points = 1
[[points.triggers]]
key = "spend"
type = "metric"
metric = "lessons"
threshold = 1
points = -2
"""
RULES = parse_rules(RULES_TEXT, source="points-test.toml")
BOOSTED = parse_rules(
    RULES_TEXT
    + """
[[points]]
key = "gems"
name = "Gems"
[[points.triggers]]
key = "lesson"
type = "metric"
metric = "lessons"
threshold = 1
points = 10
[[points.triggers]]
key = "penalty"
type = "metric"
metric = "words"
threshold = 1
points = -3
[[points.boosts]]
key = "weekend"
name = "Weekend"
multiplier = 1.5
start = 2024-03-02T00:00:00Z
end = 2024-03-04T00:00:00Z
[[points.boosts]]
key = "pro"
name = "Pro"
multiplier = 1.25
start = 2024-03-01
rounding = "up"
user_attributes = { plan = "pro" }
""",
    source="boosts-test.toml",
)


def xp(run: Run) -> tuple[int, str | None]:
    assert run.state is not None
    s = run.state.points["xp"]
    return s.total, s.level


def changes(progress: Progress, system: str) -> PointsChanged:
    (change,) = [c for c in progress.points if c.system == system]
    return change


def awards(progress: Progress, system: str) -> list[tuple[str, int, int]]:
    """(trigger, points, count) of the system's awards in this command."""
    return [(a.trigger, a.points, a.count) for a in changes(progress, system).awards]


def test_the_first_command_awards_user_creation_once() -> None:
    run = Run(RULES)
    first = run.track("2024-03-01T10:00", 1, "words")
    assert awards(first, "xp") == [("welcome", 20, 1)]
    assert xp(run) == (20, "bronze")
    second = run.identify("2024-03-01T11:00")
    assert second.points == ()
    assert xp(run) == (20, "bronze")


def test_a_metric_trigger_fires_once_per_threshold_and_a_large_event_several_times() -> None:
    run = Run(RULES)
    run.track("2024-03-01T10:00", 2, "lessons")  # 2 of 3: nothing yet (welcome only)
    assert xp(run) == (20, "bronze")
    p = run.track("2024-03-01T11:00", 1, "lessons")  # 3: one firing
    assert awards(p, "xp") == [("per-3-lessons", 10, 1)]
    p = run.track("2024-03-01T12:00", 7, "lessons", event_id="big")  # 10: thresholds 6, 9
    assert awards(p, "xp") == [("per-3-lessons", 20, 2)]
    assert xp(run) == (50, "silver")
    assert changes(p, "xp").awards[0].id == "u1:points:xp:per-3-lessons:big"


def test_fractional_values_count_exactly_and_the_remainder_carries() -> None:
    run = Run(RULES)
    for hour in range(10, 16):  # six events of 0.5 lessons = 3 lessons exactly
        p = run.track(f"2024-03-01T{hour}:00", "0.5", "lessons")
    assert awards(p, "xp") == [("per-3-lessons", 10, 1)]
    run.track("2024-03-01T17:00", "2.9", "lessons")  # 5.9: still below 6
    assert xp(run) == (30, "bronze")
    p = run.track("2024-03-01T18:00", "0.1", "lessons")  # 6.0
    assert awards(p, "xp") == [("per-3-lessons", 10, 1)]


def test_going_back_below_a_threshold_and_up_again_does_not_fire_twice() -> None:
    run = Run(RULES)
    run.track("2024-03-01T10:00", 3, "lessons")  # fires for 3: 20 + 10
    run.track("2024-03-01T11:00", -2, "lessons")  # 1
    p = run.track("2024-03-01T12:00", 2, "lessons")  # 3 again: no second firing
    assert changes_or_none(p, "xp") is None
    assert xp(run) == (30, "bronze")
    p = run.track("2024-03-01T13:00", 3, "lessons")  # 6: the next threshold fires
    assert awards(p, "xp") == [("per-3-lessons", 10, 1)]


def changes_or_none(progress: Progress, system: str) -> PointsChanged | None:
    found = [c for c in progress.points if c.system == system]
    return found[0] if found else None


def test_an_event_attribute_filter_counts_only_matching_events() -> None:
    run = Run(RULES)
    run.track("2024-03-01T10:00", 8, "words", attributes={"genre": "poetry"})
    run.track("2024-03-01T11:00", 30, "words", attributes={"genre": "prose"})  # not counted
    assert xp(run) == (20, "bronze")
    p = run.track("2024-03-01T12:00", 2, "words", attributes={"genre": "poetry"})  # 10 poetry
    assert awards(p, "xp") == [("poetry-words", 1, 1)]


def test_a_user_attribute_filter_counts_only_while_the_user_matches() -> None:
    run = Run(RULES)
    run.track("2024-03-01T10:00", 40, "words", plan="free")  # not counted for pro-words
    p = run.track("2024-03-01T11:00", 30, "words", plan="pro")  # 30 counted
    assert changes_or_none(p, "xp") is None
    p = run.track("2024-03-01T12:00", 20, "words")  # still pro: 50 counted
    assert awards(p, "xp") == [("pro-words", 5, 1)]


def test_an_achievement_trigger_fires_when_the_achievement_completes() -> None:
    run = Run(RULES)
    p = run.track("2024-03-01T10:00", 120, "words")
    assert run.completed() == ["w100"]
    assert awards(p, "xp") == [("welcome", 20, 1), ("hundred", 100, 1)]
    assert xp(run) == (120, "silver")
    p = run.track("2024-03-01T11:00", 120, "words")
    assert changes_or_none(p, "xp") is None
    assert [type(r).__name__ for r in run.records] == ["Progress"]  # no fact: nothing new


def test_the_records_order_and_the_fact_equals_what_progress_carries() -> None:
    run = Run(RULES)
    p = run.track("2024-03-01T10:00", 1, "lessons", event_id="first")
    kinds = [type(r) for r in run.records]
    assert kinds == [Progress, StreakChanged, PointsChanged]
    assert run.records[2] == p.points[0]
    assert p.points[0].id == "u1:points:xp:welcome:first"  # the id of its first award
    run2 = Run(RULES, user="u2")
    run2.track("2024-03-01T10:00", 150, "words")
    assert [type(r) for r in run2.records] == [Progress, AchievementCompleted, PointsChanged]


def test_a_streak_trigger_fires_at_every_multiple_of_its_length() -> None:
    run = Run(RULES)
    fired = []
    for day in range(1, 6):
        p = run.track(f"2024-03-0{day}T10:00", 1, "lessons")
        change = changes_or_none(p, "xp")
        fired.append([a.trigger for a in change.awards] if change else [])
    # lessons 1..5: per-3 fires on day 3; the streak reaches 2 on day 2 and 4 on day 4.
    assert fired == [["welcome"], ["streak-2"], ["per-3-lessons"], ["streak-2"], []]
    assert xp(run) == (20 + 7 + 10 + 7, "bronze")


def test_levels_follow_the_total_down_as_well_as_up() -> None:
    rules = parse_rules(
        """
[metrics.m]
[[points]]
key = "p"
name = "P"
[[points.triggers]]
key = "t"
type = "metric"
metric = "m"
threshold = 1
points = 10
[[points.triggers]]
key = "minus"
type = "metric"
metric = "n"
threshold = 1
points = -10
[metrics.n]
[[points.levels]]
key = "one"
name = "One"
points = 20
[[points.levels]]
key = "two"
name = "Two"
points = 40
"""
    )
    run = Run(rules)
    p = run.track("2024-03-01T10:00", 1, "m")  # 10: below every level
    assert (p.points[0].previous_level, p.points[0].level) == (None, None)
    p = run.track("2024-03-01T11:00", 4, "m")  # 50
    assert (p.points[0].previous_level, p.points[0].level, p.points[0].total) == (None, "two", 50)
    p = run.track("2024-03-01T12:00", 2, "n")  # 30
    assert (p.points[0].previous_level, p.points[0].level, p.points[0].added) == ("two", "one", -20)
    p = run.track("2024-03-01T13:00", 9, "n")  # would be -60: stops at 0
    assert (p.points[0].level, p.points[0].total, p.points[0].added) == (None, 0, -30)


def test_the_cap_stops_awards_and_a_deduction_stops_at_zero() -> None:
    run = Run(RULES)
    run.track("2024-03-01T10:00", 3000, "lessons")  # 1000 firings of 10, capped at 1000
    assert xp(run)[0] == 1000
    assert run.state is not None
    assert run.state.points["xp"].awards[-1].points == 1000 - 20
    p = run.track("2024-03-01T11:00", 3, "lessons")
    assert changes_or_none(p, "xp") is None  # nothing to add: no award at all
    # Energy: spend 2 per lesson from 0 -> stays 0; no award is recorded.
    assert run.state.points["energy"].total == 0
    assert run.state.points["energy"].awards == ()


def test_time_triggers_regenerate_up_to_the_cap_at_each_interval_end() -> None:
    run = Run(RULES)
    run.track("2024-03-01T10:00", 1, "words")  # created at 10:00; energy 0
    p = run.track("2024-03-01T15:59", 1, "words", event_id="e1559")  # ended 12:00, 14:00
    assert awards(p, "energy") == [("regen", 2, 2)]
    (award,) = changes(p, "energy").awards
    assert (award.time_ms, award.id) == (at("2024-03-01T14:00"), "u1:points:energy:regen:e1559")
    p = run.track("2024-03-01T16:00", 1, "lessons")  # 16:00 ends interval 3: 3, then -2
    assert awards(p, "energy") == [("regen", 1, 1), ("spend", -2, 1)]
    assert run.state is not None and run.state.points["energy"].total == 1
    p = run.tick("2024-03-03T00:00")  # 16 more intervals: +4 to the cap of 5
    assert awards(p, "energy") == [("regen", 4, 16)]
    assert run.state.points["energy"].total == 5
    assert run.state.points["energy"].counts["regen"] == 19


def test_time_settlement_does_not_depend_on_how_often_the_clock_ticks() -> None:
    end = "2024-03-02T09:00"
    once, often = Run(RULES), Run(RULES)
    for r in (once, often):
        r.track("2024-03-01T10:00", 3, "lessons")  # energy 0 (spends stop at 0)
    for hour in range(11, 24, 3):
        often.tick(f"2024-03-01T{hour}:30")
    for r in (once, often):
        r.tick(end)
        r.track(end, 1, "lessons")
    assert once.state is not None and often.state is not None
    assert once.state.points["energy"].total == often.state.points["energy"].total == 3
    assert once.state.points["energy"].counts == often.state.points["energy"].counts


def test_boosts_multiply_in_their_window_and_round() -> None:
    run = Run(BOOSTED)
    p = run.track("2024-03-01T23:59", 1, "lessons", plan="free")  # no boost yet
    assert awards(p, "gems") == [("lesson", 10, 1)]
    p = run.track("2024-03-02T00:00", 1, "lessons")  # weekend starts (inclusive): 15
    assert awards(p, "gems") == [("lesson", 15, 1)]
    assert changes(p, "gems").awards[0].boosts == ("weekend",)
    p = run.track("2024-03-02T01:00", 1, "lessons", plan="pro")  # 10*1.5=15, *1.25=18.75 up 19
    assert awards(p, "gems") == [("lesson", 19, 1)]
    assert changes(p, "gems").awards[0].boosts == ("weekend", "pro")
    p = run.track("2024-03-04T00:00", 3, "lessons")  # weekend over (exclusive): 12.5 up 13 x3
    assert awards(p, "gems") == [("lesson", 39, 3)]
    p = run.track("2024-03-04T01:00", 2, "words")  # deductions are never boosted: -3 x2
    assert awards(p, "gems") == [("penalty", -6, 2)]


@pytest.mark.parametrize(
    ("multiplier", "rounding", "points", "expected"),
    [
        ("1.5", "down", 5, 7),  # 7.5
        ("1.5", "up", 5, 8),
        ("1.5", "nearest", 5, 8),  # half goes up
        ("1.5", "nearest", 3, 5),  # 4.5: half goes up
        ("1.3", "nearest", 5, 7),  # 6.5
        ("1.1", "nearest", 5, 6),  # 5.5
        ("1.2", "nearest", 5, 6),  # 6.0
        ("0.5", "down", 1, 0),  # a boost can round a firing to nothing
        ("0.5", "up", 1, 1),
        ("2", "down", -4, -4),  # deductions are not boosted
    ],
)
def test_boost_rounding(multiplier: str, rounding: str, points: int, expected: int) -> None:
    rules = parse_rules(
        f"""
[metrics.m]
[[points]]
key = "p"
name = "P"
[[points.boosts]]
key = "b"
name = "B"
multiplier = "{multiplier}"
rounding = "{rounding}"
start = 2024-01-01
"""
    )
    assert boosted(rules.points["p"], points, at("2024-06-01T00:00"), {})[0] == expected
    assert boosted(rules.points["p"], points, at("2023-12-31T23:59"), {})[0] == points


def test_bounds_and_levels_directly() -> None:
    assert bounded(990, 20, 1000) == 1000
    assert bounded(1200, 20, 1000) == 1200  # already past a lowered cap: an award keeps it
    assert bounded(1200, -300, 1000) == 900
    assert bounded(5, -9, None) == 0
    system = RULES.points["xp"]
    assert [level_of(system, t) for t in (0, 49, 50, 129, 130, 10**9)] == [
        "bronze",
        "bronze",
        "silver",
        "silver",
        "gold",
        "gold",
    ]


def test_recent_awards_and_days_are_bounded_and_days_are_local() -> None:
    run = Run(RULES, tz="America/New_York")
    for day, hour in ((1, 10), (1, 23), (2, 4), (2, 10), (3, 10)):
        run.track(f"2024-03-0{day}T{hour:02}:00", 3, "lessons")
    assert run.state is not None
    state = run.state.points["xp"]
    assert len(state.awards) == 3  # [limits] points_awards = 3, oldest dropped
    # welcome 20 + 10 = 30, 40, 50, then 60 and the streak's second day +7 = 67, then 77.
    assert [(a.trigger, a.total) for a in state.awards] == [
        ("per-3-lessons", 60),
        ("streak-2", 67),
        ("per-3-lessons", 77),
    ]
    # New York is UTC-5: 03-01 10:00, 23:00 and 03-02 04:00 UTC are all 03-01 there (+50);
    # 03-02 10:00 UTC is 03-02 (+17); 03-03 (+10). Kept: the latest two (points_days = 2).
    assert [(d.day, d.added, d.total) for d in state.days] == [
        (date(2024, 3, 2).toordinal(), 17, 67),
        (date(2024, 3, 3).toordinal(), 10, 77),
    ]


def test_a_replayed_command_changes_no_points() -> None:
    run = Run(RULES)
    run.track("2024-03-01T10:00", 3, "lessons", event_id="same")
    before = run.state
    p = run.track("2024-03-01T10:00", 3, "lessons", event_id="same")
    assert p.replayed and p.points == () and run.state is before


def test_points_state_round_trips_and_old_states_without_points_decode() -> None:
    run = Run(BOOSTED)
    run.track("2024-03-02T10:00", 4, "lessons", plan="pro")
    run.track("2024-03-02T15:00", 2, "words")
    assert run.state is not None
    assert decode_state(encode_state(run.state)) == run.state
    raw = encode_state(run.state).replace(b'"points":{', b'"old":{', 1)
    assert decode_state(raw).points == {}


def test_rules_without_points_leave_progress_and_state_without_points() -> None:
    rules: Rules = parse_rules("[metrics.m]\n")
    event = MetricTracked(
        event_id="e",
        time_ms=at("2024-03-01T10:00"),
        user=User(id="u"),
        metric="m",
        value=Decimal(5),
    )
    state, records = evolve(None, event, rules)
    assert state.points == {} and records[0].points == ()  # type: ignore[union-attr]


def test_the_ticker_ticks_a_user_once_a_time_trigger_interval_has_ended() -> None:
    run = Run(RULES)
    run.track("2024-03-01T10:00", 1, "words")  # no streak; energy regenerates every 2 h
    assert run.state is not None
    latest = {"u1": encode_state(run.state)}
    assert ticks_due(latest, at("2024-03-01T11:59"), RULES) == []
    (tick,) = ticks_due(latest, at("2024-03-01T12:00"), RULES)
    assert (tick.user_id, tick.event_id) == ("u1", f"tick:{at('2024-03-01T12:00')}:u1")
    run.send(tick)
    assert ticks_due({"u1": encode_state(run.state)}, at("2024-03-01T13:59"), RULES) == []
