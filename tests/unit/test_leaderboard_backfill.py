"""`processors.core.leaderboards.backfill_changes`: what a replay publishes so the ranking stage
holds the rebuilt entries of one user — the rebuilt final value where the stage holds another
(or none), a leave where the stage holds an entry the rebuild has not, nothing where they
agree; ids distinct from the ids they replace and the same for the same inputs."""

from __future__ import annotations

from decimal import Decimal

from processors.core.leaderboards import backfill_changes
from schemas.leaderboards import ScoreChanged
from tests.rules import leaderboard_rules

BOARDS = leaderboard_rules().leaderboards
ALL, WEEK = "all-time-words|all|", "weekly-words|2026-01-04|"


def change(ranking: str, value: int | None, time_ms: int, event: str = "e1") -> ScoreChanged:
    board, run, group = ranking.split("|")
    return ScoreChanged(
        id=f"u1:score:{board}:{run}:{group}:{event}",
        board=board,
        run=run,
        group=group,
        user_id="u1",
        event_id=event,
        time_ms=time_ms,
        previous=None,
        value=None if value is None else Decimal(value),
    )


def test_an_entry_the_stage_lacks_is_published_with_the_rebuilt_value() -> None:
    rebuilt = {ALL: change(ALL, 700, 5_000, "e9")}
    [out] = backfill_changes(BOARDS, rebuilt, {})
    assert (out.board, out.run, out.group, out.user_id) == ("all-time-words", "all", "", "u1")
    assert (out.value, out.previous, out.time_ms, out.event_id) == (Decimal(700), None, 5_000, "e9")
    assert out.backfilled
    assert out.id.startswith("u1:score:all-time-words:all::e9:backfill:")


def test_an_entry_the_stage_holds_alike_publishes_nothing() -> None:
    rebuilt = {ALL: change(ALL, 700, 5_000, "e9"), WEEK: change(WEEK, 40, 4_000, "e8")}
    published = {ALL: change(ALL, 700, 5_000, "other"), WEEK: change(WEEK, 40, 4_000, "e8")}
    assert backfill_changes(BOARDS, rebuilt, published) == []


def test_a_different_value_or_time_is_replaced_and_the_previous_value_named() -> None:
    rebuilt = {ALL: change(ALL, 700, 5_000, "e9"), WEEK: change(WEEK, 40, 4_000, "e8")}
    published = {ALL: change(ALL, 300, 2_000, "e3"), WEEK: change(WEEK, 40, 3_999, "e7")}
    out = {c.ranking: c for c in backfill_changes(BOARDS, rebuilt, published)}
    assert (out[ALL].previous, out[ALL].value, out[ALL].time_ms) == (300, 700, 5_000)
    assert (out[WEEK].previous, out[WEEK].value, out[WEEK].time_ms) == (40, 40, 4_000)


def test_an_entry_the_rebuild_has_not_leaves_a_current_board_only() -> None:
    gone = "retired-board|all|"
    published = {WEEK: change(WEEK, 40, 4_000, "e8"), gone: change(gone, 9, 1_000)}
    [out] = backfill_changes(BOARDS, {}, published)
    assert (out.ranking, out.value, out.previous, out.time_ms) == (WEEK, None, 40, 4_000)
    assert out.id.startswith("u1:score:weekly-words:2026-01-04::e8:backfill:")


def test_a_rebuilt_leave_of_an_entry_the_stage_does_not_hold_publishes_nothing() -> None:
    rebuilt = {WEEK: change(WEEK, None, 4_000, "e8")}
    assert backfill_changes(BOARDS, rebuilt, {}) == []
    assert backfill_changes(BOARDS, rebuilt, {WEEK: change(WEEK, None, 3_000, "e2")}) == []
    [out] = backfill_changes(BOARDS, rebuilt, {WEEK: change(WEEK, 12, 3_000, "e2")})
    assert (out.value, out.previous) == (None, 12)


def test_ids_are_new_per_replaced_record_and_the_same_for_the_same_inputs() -> None:
    rebuilt = {ALL: change(ALL, 700, 5_000, "e9")}
    first = backfill_changes(BOARDS, rebuilt, {ALL: change(ALL, 300, 2_000, "e3")})
    again = backfill_changes(BOARDS, rebuilt, {ALL: change(ALL, 300, 2_000, "e3")})
    other = backfill_changes(BOARDS, rebuilt, {ALL: change(ALL, 300, 2_000, "e4")})
    unheld = backfill_changes(BOARDS, rebuilt, {})
    assert first == again
    ids = {first[0].id, other[0].id, unheld[0].id, rebuilt[ALL].id}
    assert len(ids) == 4


def test_changes_come_in_ranking_order() -> None:
    rankings = [WEEK, ALL, "weekly-words|2025-12-28|"]
    rebuilt = {r: change(r, 5, 1_000) for r in rankings}
    assert [c.ranking for c in backfill_changes(BOARDS, rebuilt, {})] == sorted(rankings)
