"""Worked examples: anniversary achievements (sign-up date + N years, in the user's zone).

Every expected date below is written out by hand from the calendar, not computed by the code
under test.
"""

from __future__ import annotations

from datetime import date

import pytest

from processors.core.achievements import anniversary_day
from processors.core.fold import anniversary_due
from processors.ticker import ticks_due
from schemas.records import AchievementCompleted, PointsChanged, Progress
from schemas.rules_parse import parse_rules
from schemas.state import encode_state
from tests.unit.fold_helpers import Run, at

RULES = parse_rules(
    """
[metrics.words]
name = "Words"
[[achievements]]
key = "first-words"
name = "First words"
trigger = "metric"
metric = "words"
value = 1
[[achievements]]
key = "four-years"
name = "Four years"
trigger = "anniversary"
anniversary_years = 4
[[achievements]]
key = "one-year"
name = "One year"
trigger = "anniversary"
anniversary_years = 1
[[achievements]]
key = "two-years"
name = "Two years"
trigger = "anniversary"
anniversary_years = 2
[[achievements]]
key = "pro-year"
name = "A year, on Pro"
trigger = "anniversary"
anniversary_years = 1
user_attributes = { plan = "pro" }
[[achievements]]
key = "loyal"
name = "Loyal writer"
trigger = "achievement"
achievements = ["one-year", "first-words"]
[[points]]
key = "xp"
name = "XP"
[[points.triggers]]
key = "cake"
type = "achievement"
achievement = "one-year"
points = 50
""",
    source="anniversaries.toml",
)


def _anniversaries(progress: Progress) -> list[str]:
    return [a.achievement for a in progress.achievements if a.trigger == "anniversary"]


@pytest.mark.parametrize(
    ("sign_up", "years", "expected"),
    [
        ("2023-03-15", 1, date(2024, 3, 15)),
        ("2023-12-31", 2, date(2025, 12, 31)),
        ("2020-02-29", 1, date(2021, 2, 28)),  # no 29 February in 2021: the 28th
        ("2020-02-29", 3, date(2023, 2, 28)),
        ("2020-02-29", 4, date(2024, 2, 29)),  # a leap year again: the 29th itself
        ("2019-02-28", 1, date(2020, 2, 28)),  # a 28 February sign-up stays on the 28th
        ("9998-06-01", 1, date(9999, 6, 1)),
    ],
)
def test_the_anniversary_is_the_same_day_n_years_on(
    sign_up: str, years: int, expected: date
) -> None:
    assert anniversary_day(sign_up, years) == expected.toordinal()


@pytest.mark.parametrize(
    ("sign_up", "years"),
    [("9999-01-01", 1), ("2023-02-29", 1), ("2023-3-15", 1), ("2024-W09-4", 1), ("", 1)],
)
def test_no_anniversary_without_a_date_in_the_calendar(sign_up: str, years: int) -> None:
    assert anniversary_day(sign_up, years) is None


def test_it_completes_on_the_first_command_of_the_anniversary_day_in_utc() -> None:
    run = Run(RULES)
    run.sign_up = "2023-03-15"
    run.track("2023-03-15T09:00")  # first-words
    assert run.track("2024-03-14T23:59").achievements == ()
    progress = run.track("2024-03-15T00:00")
    assert run.completed() == ["one-year", "loyal"]  # the composite follows, same command
    (one_year, loyal) = progress.achievements
    assert (one_year.trigger, loyal.trigger) == ("anniversary", "achievement")
    assert one_year.achieved_at_ms == at("2024-03-15T00:00")
    assert one_year.id == "u1:one-year"
    assert run.track("2025-03-15T00:00").achievements[0].achievement == "two-years"


def test_the_day_is_the_users_local_date() -> None:
    # Kiritimati is UTC+14: 10:00 UTC on 14 March is midnight on the 15th there.
    east = Run(RULES, tz="Pacific/Kiritimati")
    east.sign_up = "2023-03-15"
    assert _anniversaries(east.track("2024-03-14T09:59")) == []  # 23:59 on the 14th
    assert _anniversaries(east.track("2024-03-14T10:00")) == ["one-year"]
    # New York is UTC-4 from 10 March 2024: midnight on the 15th is 04:00 UTC.
    west = Run(RULES, tz="America/New_York")
    west.sign_up = "2023-03-15"
    assert _anniversaries(west.track("2024-03-15T03:59")) == []  # 23:59 on the 14th
    assert _anniversaries(west.track("2024-03-15T04:00")) == ["one-year"]


def test_a_leap_day_sign_up_has_its_anniversary_on_28_february_in_common_years() -> None:
    run = Run(RULES)
    run.sign_up = "2020-02-29"
    run.track("2020-02-29T12:00")
    assert run.track("2021-02-27T23:59").achievements == ()
    run.track("2021-02-28T00:00")
    assert run.completed() == ["one-year", "loyal"]
    run.track("2022-02-28T08:00")
    assert run.completed() == ["two-years"]
    assert run.track("2024-02-28T23:59").achievements == ()  # 2024 has a 29 February
    run.track("2024-02-29T00:00")
    assert run.completed() == ["four-years"]


def test_a_tick_completes_it_for_an_inactive_user_with_its_composite_and_points() -> None:
    run = Run(RULES)
    run.sign_up = "2023-06-01"
    run.track("2023-06-01T10:00")  # first-words; then the user is never seen again
    assert run.state is not None
    latest = {"u1": encode_state(run.state)}
    assert ticks_due(latest, at("2024-05-31T23:59"), RULES) == []
    assert not anniversary_due(run.state, at("2024-05-31T23:59"), RULES)
    (tick,) = ticks_due(latest, at("2024-06-01T00:00"), RULES)
    assert (tick.user_id, tick.event_id) == ("u1", f"tick:{at('2024-06-01T00:00')}:u1")
    progress = run.send(tick)
    assert progress.command == "tick"
    assert [type(r).__name__ for r in run.records] == [
        "Progress",
        "AchievementCompleted",
        "AchievementCompleted",
        "PointsChanged",
    ]
    assert run.completed() == ["one-year", "loyal"]
    assert [a.achievement for a in progress.achievements] == ["one-year", "loyal"]
    (points,) = [r for r in run.records if isinstance(r, PointsChanged)]
    assert (points.system, points.total, points.added) == ("xp", 50, 50)
    assert run.state.achievements["one-year"] == at("2024-06-01T00:00")
    # done: no further tick until the second anniversary
    latest = {"u1": encode_state(run.state)}
    assert ticks_due(latest, at("2025-05-31T12:00"), RULES) == []
    assert len(ticks_due(latest, at("2025-06-01T12:00"), RULES)) == 1


def test_a_user_without_a_sign_up_date_never_completes_one() -> None:
    run = Run(RULES)
    run.track("2020-01-01T10:00")
    for when in ("2021-01-01T10:00", "2024-01-01T10:00", "2030-06-01T10:00"):
        run.track(when)
        assert run.completed() == []
        run.tick(when.replace("T10", "T11"))
        assert run.completed() == []
    assert run.state is not None
    assert not anniversary_due(run.state, at("2040-01-01T00:00"), RULES)
    assert ticks_due({"u1": encode_state(run.state)}, at("2040-01-01T00:00"), RULES) == []


def test_a_sign_up_date_given_late_counts_from_that_command() -> None:
    run = Run(RULES)
    run.track("2023-01-10T10:00")
    run.sign_up = "2022-05-01"  # already more than a year ago
    run.identify("2023-06-01T10:00")
    assert run.completed() == ["one-year", "loyal"]
    assert run.state is not None and run.state.sign_up_date == "2022-05-01"


def test_a_changed_sign_up_date_moves_the_day_until_the_achievement_is_complete() -> None:
    run = Run(RULES)
    run.sign_up = "2023-04-01"
    run.identify("2024-03-20T10:00")
    run.sign_up = "2023-06-01"  # corrected to a later date: the day moves to 1 June 2024
    run.identify("2024-03-21T10:00")
    assert _anniversaries(run.track("2024-04-02T10:00")) == []
    assert _anniversaries(run.track("2024-05-31T23:59")) == []
    assert _anniversaries(run.track("2024-06-01T00:00")) == ["one-year"]
    run.sign_up = "2024-01-01"  # completion is permanent: a later change revokes nothing
    run.identify("2024-06-02T10:00")
    assert run.state is not None and "one-year" in run.state.achievements
    run.sign_up = "2022-01-01"  # an earlier date: the two-year day (1 Jan 2024) has passed
    run.identify("2024-06-03T10:00")
    assert run.completed() == ["two-years"]


def test_a_user_attribute_filter_waits_for_the_user_to_match() -> None:
    run = Run(RULES)
    run.sign_up = "2023-03-15"
    run.track("2024-03-15T10:00", plan="free")
    assert "pro-year" not in run.completed()
    run.identify("2024-04-01T10:00", plan="pro")
    assert run.completed() == ["pro-year"]


def test_an_api_award_command_also_checks_anniversaries() -> None:
    rules = parse_rules(
        """
[metrics.words]
[[achievements]]
key = "published"
name = "Published"
trigger = "api"
[[achievements]]
key = "one-year"
name = "One year"
trigger = "anniversary"
anniversary_years = 1
"""
    )
    run = Run(rules)
    run.sign_up = "2023-03-15"
    progress = run.award("2024-03-15T10:00", "published")
    assert [(a.achievement, a.trigger) for a in progress.achievements] == [
        ("published", "api"),
        ("one-year", "anniversary"),
    ]


def test_a_replayed_command_completes_nothing_and_replay_is_deterministic() -> None:
    first, second = Run(RULES), Run(RULES)
    for run in (first, second):
        run.sign_up = "2023-03-15"
        run.track("2024-03-15T10:00", event_id="same")
    assert first.track("2024-03-15T10:00", event_id="same").replayed
    assert [r for r in first.records if isinstance(r, AchievementCompleted)] == []
    assert first.state is not None and second.state is not None
    assert encode_state(first.state) == encode_state(second.state)
    assert isinstance(first.records[0], Progress)
