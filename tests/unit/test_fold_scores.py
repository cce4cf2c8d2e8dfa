"""The score step of the per-user fold: `evolve` keeps the user's board scores in the state
and emits `ScoreChanged` after the command's other records. Expected values are worked out
by hand from tests/rules/leaderboards.toml (weeks from Sunday; night-owls 22:00 to 06:00)."""

from __future__ import annotations

from decimal import Decimal

from schemas.leaderboards import BoardScore, ScoreChanged
from schemas.records import Progress
from schemas.state import decode_state, encode_state
from tests.rules import leaderboard_rules, writing_rules
from tests.unit.fold_helpers import Run, at

RULES = leaderboard_rules()
D = Decimal


def scores(run: Run) -> list[tuple[str, str, str, Decimal | None, Decimal | None]]:
    return [
        (r.board, r.run, r.group, r.previous, r.value)
        for r in run.records
        if isinstance(r, ScoreChanged)
    ]


def test_a_metric_event_scores_every_board_it_counts_on_after_the_other_records() -> None:
    run = Run(RULES)
    run.track("2025-03-05T12:00", 5)  # a Wednesday: the week started Sunday 2 March
    assert scores(run) == [
        ("all-time-words", "all", "", None, D(5)),
        ("weekly-words", "2025-03-02", "", None, D(5)),
        ("longest-streak", "all", "", None, D(1)),
    ]
    kinds = [type(r).__name__ for r in run.records]
    assert kinds[0] == "Progress"
    assert kinds.index("ScoreChanged") > max(
        (i for i, k in enumerate(kinds) if k != "ScoreChanged"), default=0
    )
    assert run.state is not None
    assert run.state.board_scores["weekly-words"] == BoardScore(
        "2025-03-02", "", D(5), at("2025-03-05T12:00")
    )


def test_the_progress_names_each_score_change_so_the_gateway_can_wait_for_its_rank() -> None:
    run = Run(RULES)
    run.track("2025-03-05T12:00", 5, event_id="e1")
    progress = run.records[0]
    assert isinstance(progress, Progress)
    uid = progress.user_id
    assert progress.scores == (
        f"{uid}:score:all-time-words:all::e1",
        f"{uid}:score:weekly-words:2025-03-02::e1",
        f"{uid}:score:longest-streak:all::e1",
    )
    run.track("2025-03-05T13:00", 0, event_id="e2")  # moves no score
    assert run.records[0].scores == ()  # type: ignore[union-attr]


def test_the_next_week_starts_from_zero_and_the_window_counts_at_night() -> None:
    run = Run(RULES)
    run.track("2025-03-05T12:00", 5)
    run.track("2025-03-09T23:00", 3)  # Sunday night: a new week and inside night-owls
    got = {(b, r): (p, v) for b, r, _, p, v in scores(run)}
    assert got[("all-time-words", "all")] == (D(5), D(8))
    assert got[("weekly-words", "2025-03-09")] == (None, D(3))
    assert got[("night-owls", "2025-03-09")] == (None, D(3))
    assert ("weekly-words", "2025-03-02") not in got  # an earlier run is final


def test_a_tick_after_a_lost_streak_drops_the_streak_score_to_zero() -> None:
    run = Run(RULES)
    run.track("2025-03-05T12:00", 5)
    run.tick("2025-03-08T00:30")  # 6 and 7 March without words: the streak is lost
    assert scores(run) == [("longest-streak", "all", "", D(1), D(0))]


def test_a_profile_change_moves_the_score_to_the_new_breakdown_group() -> None:
    run = Run(RULES)
    run.track("2025-03-05T12:00", 2, "chapters", plan="pro", region="eu")
    assert scores(run) == [("monthly-chapters", "2025-02-28", "plan=pro&region=eu", None, D(2))]
    run.identify("2025-03-06T12:00", plan="free", region="eu")
    assert scores(run) == [
        ("monthly-chapters", "2025-02-28", "plan=pro&region=eu", D(2), None),
        ("monthly-chapters", "2025-02-28", "plan=free&region=eu", None, D(2)),
    ]
    joined = [r for r in run.records if isinstance(r, ScoreChanged)][-1]
    assert joined.time_ms == at("2025-03-05T12:00")  # when the value was reached


def test_a_replayed_event_scores_nothing() -> None:
    run = Run(RULES)
    run.track("2025-03-05T12:00", 5, event_id="same")
    state = run.state
    run.track("2025-03-05T12:00", 5, event_id="same")
    assert scores(run) == []
    assert run.state is state


def test_rules_without_leaderboards_keep_the_state_bytes_without_the_field() -> None:
    run = Run(writing_rules())
    run.track("2025-03-05T12:00", 5)
    assert run.state is not None
    assert b"leaderboards" not in encode_state(run.state)
    assert not [r for r in run.records if isinstance(r, ScoreChanged)]


def test_board_scores_round_trip_through_the_state_codec() -> None:
    run = Run(RULES)
    run.track("2025-03-05T12:00", 5)
    assert run.state is not None
    raw = encode_state(run.state)
    assert b'"leaderboards":{"all-time-words":' in raw
    assert decode_state(raw) == run.state
    assert encode_state(decode_state(raw)) == raw


POINTS_BOARD = """
[metrics.words]
name = "Words"

[[points]]
key = "xp"
name = "XP"

[[points.triggers]]
key = "per-10-words"
type = "metric"
metric = "words"
threshold = 10
points = 3

[[leaderboards]]
key = "xp-all-time"
name = "XP"
rank_by = "points"
points = "xp"
"""


def test_a_points_board_scores_the_points_the_same_command_awarded() -> None:
    """The score step runs after points: 25 words cross 10 and 20, 2 x 3 = 6 XP, which the
    XP board scores in the same command; 4 more words cross nothing and score nothing."""
    from schemas.rules_parse import parse_rules

    run = Run(parse_rules(POINTS_BOARD, "points-board.toml"))
    run.track("2025-03-05T12:00", 25)
    assert scores(run) == [("xp-all-time", "all", "", None, D(6))]
    assert type(run.records[-1]).__name__ == "ScoreChanged"
    run.track("2025-03-05T13:00", 4)
    assert scores(run) == []
    run.track("2025-03-05T14:00", 1)  # 30 words: a third crossing, 9 XP
    assert scores(run) == [("xp-all-time", "all", "", D(6), D(9))]
