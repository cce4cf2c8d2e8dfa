"""`[[leaderboards]]` in the rules file: what a valid one means, and every error names the
file, the path inside it and the fault."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from schemas.rules_doc import Doc, RulesError
from schemas.rules_leaderboards import parse_leaderboards
from schemas.rules_parse import load_rules, parse_rules
from tests.rules import LEADERBOARDS_PATH

HERE = Path(__file__).parent
EXAMPLE = HERE.parents[1] / "deploy" / "rules.example.toml"
OURS = LEADERBOARDS_PATH

BASE = """
[metrics.words]
name = "Words"

[[leaderboards]]
key = "b"
name = "B"
"""


def board(extra: str, source: str = "lb.toml") -> Any:
    return parse_rules(BASE + extra, source).leaderboards["b"]


def error(extra: str) -> str:
    with pytest.raises(RulesError) as info:
        parse_rules(BASE + extra, "lb.toml")
    return str(info.value)


def test_the_example_ranks_top_writers_by_words_for_ever() -> None:
    top = load_rules(EXAMPLE).leaderboards["top-writers"]
    assert (top.rank_by, top.metric, top.run_unit, top.max_participants) == (
        "metric",
        "words-written",
        None,
        None,
    )
    assert top.ranks_whole_total


def test_a_file_of_every_kind_of_board_loads_in_file_order() -> None:
    boards = load_rules(OURS).leaderboards
    assert list(boards) == [
        "all-time-words",
        "weekly-words",
        "monthly-chapters",
        "night-owls",
        "longest-streak",
    ]
    weekly = boards["weekly-words"]
    assert (weekly.run_unit, weekly.run_interval, weekly.max_participants) == ("day", 7, 3)
    assert date.fromordinal(weekly.anchor).strftime("%A") == "Sunday"  # week_start = sunday
    monthly = boards["monthly-chapters"]
    assert monthly.start == monthly.anchor == date(2025, 1, 31).toordinal()
    assert monthly.end == date(2025, 6, 30).toordinal()
    assert monthly.breakdown_attributes == ("plan", "region")
    owls = boards["night-owls"]
    assert (owls.start_time, owls.end_time) == (22 * 60, 6 * 60)
    assert boards["longest-streak"].rank_by == "streak"
    assert not boards["weekly-words"].ranks_whole_total


def test_without_a_start_month_runs_follow_the_calendar() -> None:
    b = board('rank_by = "metric"\nmetric = "words"\nrun_unit = "month"\nrun_interval = 3\n')
    assert date.fromordinal(b.anchor) == date(1, 1, 1)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ('rank_by = "metric"\nmetric = "word"\n', "leaderboards[0].metric: unknown metric 'word'"),
        ('rank_by = "metric"\n', "leaderboards[0].metric: missing"),
        ('rank_by = "level"\n', "leaderboards[0].rank_by: expected one of metric, points, streak"),
        ('metric = "words"\n', "leaderboards[0].rank_by: expected one of"),
        (
            'rank_by = "points"\npoints = "xp"\n',
            "leaderboards[0].points: unknown points system 'xp'",  # the rules have none
        ),
        ('rank_by = "streak"\n', "leaderboards[0].rank_by: a streak leaderboard needs a [streak]"),
        (
            'rank_by = "metric"\nmetric = "words"\npoints = "xp"\n',
            "leaderboards[0].points: not allowed for rank_by 'metric'",
        ),
        (
            'rank_by = "metric"\nmetric = "words"\nrun_unit = "week"\n',
            "leaderboards[0].run_unit: expected one of day, month, year, got the string 'week'",
        ),
        (
            'rank_by = "metric"\nmetric = "words"\nrun_interval = 7\n',
            "leaderboards[0].run_interval: needs run_unit",
        ),
        (
            'rank_by = "metric"\nmetric = "words"\nrun_unit = "day"\nrun_interval = 0\n',
            "leaderboards[0].run_interval: must be between 1 and 1000, got 0",
        ),
        (
            'rank_by = "metric"\nmetric = "words"\nstart = 2025-02-01\nend = 2025-01-31\n',
            "leaderboards[0].end: must not be before start",
        ),
        (
            'rank_by = "metric"\nmetric = "words"\nstart = "2025-02-30"\n',
            "leaderboards[0].start: expected a date YYYY-MM-DD, got the string '2025-02-30'",
        ),
        (
            'rank_by = "metric"\nmetric = "words"\nstart = 2025-02-01T10:00:00\n',
            "leaderboards[0].start: expected a date YYYY-MM-DD",
        ),
        (
            'rank_by = "metric"\nmetric = "words"\nstart_time = "24:00"\n',
            "leaderboards[0].start_time: expected a time of day HH:MM (00:00..23:59)",
        ),
        (
            'rank_by = "metric"\nmetric = "words"\nend_time = 10:00:30\n',
            "leaderboards[0].end_time: expected a time of day HH:MM",
        ),
        (
            'rank_by = "metric"\nmetric = "words"\nstart_time = "09:00"\nend_time = "09:00"\n',
            "leaderboards[0].end_time: must differ from start_time",
        ),
        (
            'rank_by = "metric"\nmetric = "words"\nbreakdown_attributes = "plan"\n',
            "leaderboards[0].breakdown_attributes: expected an array of user attribute keys",
        ),
        (
            'rank_by = "metric"\nmetric = "words"\nbreakdown_attributes = ["plan", "plan"]\n',
            "leaderboards[0].breakdown_attributes[1]: duplicate attribute 'plan'",
        ),
        (
            'rank_by = "metric"\nmetric = "words"\nmax_participants = 0\n',
            "leaderboards[0].max_participants: must be between 1 and 100000000, got 0",
        ),
        (
            'rank_by = "metric"\nmetric = "words"\ncap = 5\n',
            "leaderboards[0].cap: unknown key",
        ),
    ],
)
def test_errors_name_the_file_the_path_and_the_fault(extra: str, expected: str) -> None:
    message = error(extra)
    assert message.startswith("lb.toml: ")
    assert expected in message


def test_a_streak_board_is_perpetual_and_has_no_window() -> None:
    streak = '\n[streak]\nfrequency = "daily"\n[[streak.thresholds]]\nmetric = "words"\n'
    head = BASE + 'rank_by = "streak"\n'
    with pytest.raises(RulesError, match=r"leaderboards\[0\]\.run_unit: a streak leaderboard"):
        parse_rules(head + 'run_unit = "day"\n' + streak, "lb.toml")
    with pytest.raises(RulesError, match=r"leaderboards\[0\]\.start_time: a streak leader"):
        parse_rules(head + 'start_time = "08:00"\n' + streak, "lb.toml")
    assert parse_rules(head + streak).leaderboards["b"].rank_by == "streak"


def test_duplicate_keys_name_the_first() -> None:
    again = '\n[[leaderboards]]\nkey = "b"\nname = "B2"\nrank_by = "metric"\nmetric = "words"\n'
    message = error('rank_by = "metric"\nmetric = "words"\n' + again)
    assert "lb.toml: leaderboards[1].key: duplicate key 'b' (first at leaderboards[0])" in message


def test_leaderboards_must_be_an_array_of_tables() -> None:
    with pytest.raises(RulesError, match=r"^x\.toml: leaderboards: expected an array of tables"):
        parse_rules('leaderboards = 3\n[metrics.words]\nname = "W"\n', "x.toml")


# A points board checks its reference against the rules' points systems (here a stand-in
# rules object with just the systems named).
def _with_points(*systems: str) -> Any:
    return SimpleNamespace(
        metrics={"words": None}, streak=None, week_start=0, points=dict.fromkeys(systems)
    )


def test_a_points_board_refers_to_an_existing_points_system() -> None:
    raw: list[dict[str, object]] = [
        {"key": "weekly-xp", "name": "Weekly XP", "rank_by": "points", "points": "xp"}
    ]
    raw[0] |= {"run_unit": "day", "run_interval": 7}
    boards = parse_leaderboards(Doc("p.toml"), raw, _with_points("xp", "coins"))
    assert (boards["weekly-xp"].points, boards["weekly-xp"].run_interval) == ("xp", 7)
    with pytest.raises(RulesError, match=r"^p\.toml: leaderboards\[0\]\.points: unknown points"):
        parse_leaderboards(Doc("p.toml"), raw, _with_points("coins"))


def test_keep_runs_defaults_to_twelve_finished_runs_and_can_be_set() -> None:
    weekly = 'rank_by = "metric"\nmetric = "words"\nrun_unit = "day"\nrun_interval = 7\n'
    assert board(weekly).keep_runs == 12
    assert board(weekly + "keep_runs = 0\n").keep_runs == 0
    assert board(weekly + "keep_runs = 52\n").keep_runs == 52


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            'rank_by = "metric"\nmetric = "words"\nkeep_runs = 3\n',
            "lb.toml: leaderboards[0].keep_runs: needs run_unit (a perpetual board has one run)",
        ),
        (
            'rank_by = "metric"\nmetric = "words"\nrun_unit = "day"\nkeep_runs = -1\n',
            "lb.toml: leaderboards[0].keep_runs: must be between 0 and 10000, got -1",
        ),
    ],
)
def test_keep_runs_errors(extra: str, expected: str) -> None:
    assert error(extra) == expected
