"""The `[[points]]` part of the rules file: what a valid file means, and every error."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from schemas.rules_doc import RulesError
from schemas.rules_parse import load_rules, parse_rules

EXAMPLE = Path(__file__).parents[2] / "deploy" / "rules.example.toml"

BASE = """
[metrics.words]
name = "Words"
[[achievements]]
key = "a"
name = "A"
trigger = "api"
"""
STREAK = """
[streak]
frequency = "daily"
[[streak.thresholds]]
metric = "words"
value = 1
"""
SYSTEM = """
[[points]]
key = "xp"
name = "XP"
"""
TRIGGER = """
[[points.triggers]]
key = "t"
type = "metric"
metric = "words"
threshold = 3
points = 10
"""
LEVEL = """
[[points.levels]]
key = "l"
name = "L"
points = 10
"""
BOOST = """
[[points.boosts]]
key = "b"
name = "B"
multiplier = 2
start = 2025-01-01T00:00:00Z
"""


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * 1000


# One points system using every trigger type, two levels (listed highest first) and two boosts.
FULL_POINTS_SYSTEM = """
[[points]]
key = "xp"
name = "XP"
description = "Experience"
badge_url = "https://example.com/xp.png"
max_points = 500
[[points.triggers]]
key = "words"
type = "metric"
metric = "words"
threshold = 2.5
points = 10
event_attributes = { genre = "poetry" }
user_attributes = { plan = "pro" }
[[points.triggers]]
key = "published"
type = "achievement"
achievement = "a"
points = -3
[[points.triggers]]
key = "week"
type = "streak"
streak_length = 7
points = 50
[[points.triggers]]
key = "welcome"
type = "user_creation"
points = 5
[[points.triggers]]
key = "regen"
type = "time"
time_unit = "day"
time_interval = 2
points = 1
[[points.levels]]
key = "gold"
name = "Gold"
points = 300
[[points.levels]]
key = "bronze"
name = "Bronze"
points = 0
description = "Everyone"
[[points.boosts]]
key = "launch"
name = "Launch"
multiplier = 1.5
start = 2025-01-01T00:00:00+01:00
end = 2025-01-08
rounding = "nearest"
user_attributes = { plan = "pro" }
[[points.boosts]]
key = "forever"
name = "Forever"
multiplier = "0.5"
start = "2025-02-01T00:00:00Z"
"""


def test_a_full_system_parses_with_its_indexes() -> None:
    rules = parse_rules(BASE + STREAK + FULL_POINTS_SYSTEM)
    xp = rules.points["xp"]
    assert (xp.name, xp.description, xp.max_points) == ("XP", "Experience", 500)
    words, published, week, welcome, regen = xp.triggers
    assert (words.metric, words.threshold, words.points) == ("words", Decimal("2.5"), 10)
    assert words.event_attributes == {"genre": "poetry"}
    assert words.user_attributes == {"plan": "pro"}
    assert (published.achievement, published.points) == ("a", -3)
    assert week.streak_length == 7
    assert welcome.type == "user_creation"
    assert (regen.time_unit, regen.time_interval, regen.interval_ms) == ("day", 2, 172_800_000)
    assert [level.key for level in xp.levels] == ["bronze", "gold"]  # lowest threshold first
    launch, forever = xp.boosts
    assert launch.start_ms == ms("2024-12-31T23:00:00")
    assert launch.end_ms == ms("2025-01-08T00:00:00")
    assert (launch.multiplier, launch.rounding) == (Decimal("1.5"), "nearest")
    assert (forever.start_ms, forever.end_ms, forever.rounding) == (
        ms("2025-02-01T00:00:00"),
        None,
        "down",
    )
    index = rules.points_index
    assert index.by_metric["words"] == ((xp, words),)
    assert index.by_achievement["a"] == ((xp, published),)
    assert index.streak == ((xp, week),)
    assert index.user_creation == ((xp, welcome),)
    assert index.time == ((xp, regen),)


def test_the_example_has_an_xp_system() -> None:
    rules = load_rules(EXAMPLE)
    xp = rules.points["xp"]
    kinds = {(t.type, t.metric or t.achievement) for t in xp.triggers}
    assert ("metric", "words-written") in kinds
    assert any(kind == "achievement" for kind, _ in kinds)
    assert len(xp.levels) >= 3


def test_points_limits_have_defaults_and_can_be_set() -> None:
    assert parse_rules(BASE).limits.points_awards == 100
    assert parse_rules(BASE).limits.points_days == 400
    limits = parse_rules("[limits]\npoints_awards = 5\npoints_days = 30\n" + BASE).limits
    assert (limits.points_awards, limits.points_days) == (5, 30)


def _drop(text: str, line: str) -> str:
    assert line in text
    return text.replace(line + "\n", "", 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("points = 1\n" + BASE, "r.toml: points: expected an array of tables ([[points]])"),
        (BASE + SYSTEM + SYSTEM, "r.toml: points[1].key: duplicate key 'xp' (first at points[0])"),
        (BASE + _drop(SYSTEM, 'key = "xp"'), "r.toml: points[0].key: missing"),
        (BASE + _drop(SYSTEM, 'name = "XP"'), "r.toml: points[0].name: missing"),
        (BASE + SYSTEM + "colour = 1\n", "r.toml: points[0].colour: unknown key"),
        (
            BASE + SYSTEM + "max_points = 0\n",
            "r.toml: points[0].max_points: must be between 1 and",
        ),
        (
            BASE + SYSTEM + "triggers = 1\n",
            "r.toml: points[0].triggers: expected an array of tables",
        ),
        (BASE + SYSTEM + _drop(TRIGGER, 'key = "t"'), "r.toml: points[0].triggers[0].key: missing"),
        (
            BASE + SYSTEM + TRIGGER + TRIGGER,
            "r.toml: points[0].triggers[1].key: duplicate trigger key 't' (first at",
        ),
        (
            BASE + SYSTEM + TRIGGER.replace('"metric"\nmetric', '"magic"\nmetric'),
            "r.toml: points[0].triggers[0].type: expected one of metric, achievement, streak,"
            " user_creation, time, got the string 'magic'",
        ),
        (
            BASE + SYSTEM + TRIGGER.replace('"words"', '"word"'),
            "r.toml: points[0].triggers[0].metric: unknown metric 'word'",
        ),
        (
            BASE + SYSTEM + _drop(TRIGGER, "threshold = 3"),
            "r.toml: points[0].triggers[0].threshold: missing: the units of the metric per",
        ),
        (
            BASE + SYSTEM + TRIGGER.replace("threshold = 3", "threshold = -1"),
            "r.toml: points[0].triggers[0].threshold: must be greater than 0, got -1",
        ),
        (
            BASE + SYSTEM + TRIGGER.replace("points = 10", "points = 0"),
            "r.toml: points[0].triggers[0].points: must not be 0",
        ),
        (
            BASE + SYSTEM + TRIGGER.replace("points = 10", "points = 1.5"),
            "r.toml: points[0].triggers[0].points: expected an integer, got the number 1.5",
        ),
        (
            BASE + SYSTEM + _drop(TRIGGER, "points = 10"),
            "r.toml: points[0].triggers[0].points: missing",
        ),
        (
            BASE + SYSTEM + TRIGGER + "streak_length = 3\n",
            "r.toml: points[0].triggers[0].streak_length: not allowed for type 'metric'",
        ),
        (
            BASE + SYSTEM + TRIGGER + "user_attributes = { plan = 2 }\n",
            "r.toml: points[0].triggers[0].user_attributes.plan: expected a string",
        ),
        (
            BASE + SYSTEM + "[[points.triggers]]\nkey = 'x'\ntype = 'achievement'\npoints = 1\n"
            "achievement = 'zz'\n",
            "r.toml: points[0].triggers[0].achievement: unknown achievement 'zz'",
        ),
        (
            BASE + SYSTEM + "[[points.triggers]]\nkey = 'x'\ntype = 'achievement'\npoints = 1\n"
            "event_attributes = { a = 'b' }\nachievement = 'a'\n",
            "r.toml: points[0].triggers[0].event_attributes: not allowed for type 'achievement'",
        ),
        (
            BASE + SYSTEM + "[[points.triggers]]\nkey = 'x'\ntype = 'streak'\npoints = 1\n"
            "streak_length = 2\n",
            "r.toml: points[0].triggers[0].type: a streak trigger needs a [streak] section",
        ),
        (
            BASE + STREAK + SYSTEM + "[[points.triggers]]\nkey = 'x'\ntype = 'streak'\n"
            "points = 1\nstreak_length = 0\n",
            "r.toml: points[0].triggers[0].streak_length: must be between 1 and 100000, got 0",
        ),
        (
            BASE + SYSTEM + "[[points.triggers]]\nkey = 'x'\ntype = 'time'\npoints = 1\n"
            "time_unit = 'week'\ntime_interval = 1\n",
            "r.toml: points[0].triggers[0].time_unit: expected 'hour' or 'day', got the string",
        ),
        (
            BASE + SYSTEM + "[[points.triggers]]\nkey = 'x'\ntype = 'time'\npoints = 1\n"
            "time_unit = 'hour'\n",
            "r.toml: points[0].triggers[0].time_interval: missing",
        ),
        (
            BASE + SYSTEM + LEVEL + LEVEL,
            "r.toml: points[0].levels[1].key: duplicate level key 'l' (first at",
        ),
        (
            BASE + SYSTEM + LEVEL + LEVEL.replace('"l"', '"m"'),
            "r.toml: points[0].levels[1].points: level 'l' has the threshold 10 already",
        ),
        (
            BASE + SYSTEM + "max_points = 5\n" + LEVEL,
            "r.toml: points[0].levels[0].points: must be between 0 and 5, got 10",
        ),
        (BASE + SYSTEM + _drop(LEVEL, 'name = "L"'), "r.toml: points[0].levels[0].name: missing"),
        (
            BASE + SYSTEM + BOOST.replace("multiplier = 2", "multiplier = 1"),
            "r.toml: points[0].boosts[0].multiplier: must be greater than 0, less than 100"
            " and not 1, got 1",
        ),
        (
            BASE + SYSTEM + BOOST.replace("multiplier = 2", "multiplier = 100"),
            "r.toml: points[0].boosts[0].multiplier: must be greater than 0",
        ),
        (
            BASE + SYSTEM + BOOST.replace("multiplier = 2", "multiplier = 0"),
            "r.toml: points[0].boosts[0].multiplier: must be greater than 0",
        ),
        (
            BASE + SYSTEM + _drop(BOOST, "multiplier = 2"),
            "r.toml: points[0].boosts[0].multiplier: missing",
        ),
        (
            BASE + SYSTEM + _drop(BOOST, "start = 2025-01-01T00:00:00Z"),
            "r.toml: points[0].boosts[0].start: missing",
        ),
        (
            BASE + SYSTEM + BOOST.replace("00:00:00Z", "00:00:00"),
            "r.toml: points[0].boosts[0].start: needs a UTC offset",
        ),
        (
            BASE + SYSTEM + BOOST.replace("2025-01-01T00:00:00Z", "'soon'"),
            "r.toml: points[0].boosts[0].start: not an ISO 8601 date or date-time: 'soon'",
        ),
        (
            BASE + SYSTEM + BOOST.replace("2025-01-01T00:00:00Z", "5"),
            "r.toml: points[0].boosts[0].start: expected a date-time, got the number 5",
        ),
        (
            BASE + SYSTEM + BOOST + "end = 2024-12-31\n",
            "r.toml: points[0].boosts[0].end: must be after start",
        ),
        (
            BASE + SYSTEM + BOOST + "rounding = 'sideways'\n",
            "r.toml: points[0].boosts[0].rounding: expected one of down, up, nearest",
        ),
        (
            BASE + SYSTEM + BOOST + BOOST,
            "r.toml: points[0].boosts[1].key: duplicate boost key 'b' (first at",
        ),
        (
            "[limits]\npoints_awards = 0\n" + BASE,
            "r.toml: limits.points_awards: must be between 1 and 1000, got 0",
        ),
    ],
)
def test_errors_name_the_file_the_path_and_the_fault(text: str, message: str) -> None:
    with pytest.raises(RulesError) as caught:
        parse_rules(text, source="r.toml")
    assert str(caught.value).startswith(message), str(caught.value)
