"""Retention of finished leaderboard runs: which runs the ranking stage drops. Pure.

A repeating board keeps its current run and its `keep_runs` latest finished runs (the rules'
`leaderboards[].keep_runs`, default `schemas.rules.DEFAULT_KEEP_RUNS`); an older run is
dropped: its rankings leave the stage's memory, each participant's changelog entry becomes a
leave (which the projector applies to the Redis views) followed by a tombstone (so the
compacted `podium.ranking.state` forgets it and a restore does not bring it back), and a
later score change of that run (a late event, a backfill) is ranked nowhere. A perpetual
board has one run, never dropped.

Time is an input: the stage's clock is the newest `time_ms` among the score changes a
partition has applied (`Rankings.clock_ms`, restored from the changelog's entries). Runs are
local dates, and the furthest local zone behind UTC is UTC-12: a run is dropped only once it
is more than `keep_runs` runs before the run of the day it is in UTC-12 at the clock, so no
participant anywhere still plays in a run that is dropped, nor in the `keep_runs` before it.
A ranking can only be created on a partition by a score change there, which moves that
partition's clock to its time: so every partition's rankings stay bounded by the boards'
runs kept, whatever the traffic on the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from processors.core.periods import run_index
from schemas.leaderboards import PERPETUAL_RUN, ScoreChanged
from schemas.rules import Leaderboard

DAY_MS = 86_400_000
MAX_BEHIND_MS = 12 * 3_600_000  # UTC-12: the furthest a local date is behind UTC's
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
DROPPED_EVENT = "run-dropped"  # the event id of a leave written by the retention


def latest_everywhere(clock_ms: int) -> int:
    """The local date (ordinal) that every zone has reached at `clock_ms`: UTC-12's."""
    return (clock_ms - MAX_BEHIND_MS) // DAY_MS + EPOCH_ORDINAL


def oldest_kept(board: Leaderboard, clock_ms: int) -> int | None:
    """The index of the oldest run of `board` kept at `clock_ms` (None: every run is kept)."""
    unit = board.run_unit
    if unit is None:
        return None
    today = latest_everywhere(clock_ms)
    return run_index(today, board.anchor, unit, board.run_interval) - board.keep_runs


def run_dropped(board: Leaderboard | None, run: str, clock_ms: int) -> bool:
    """Whether `run` (its first day's ISO date) of `board` is dropped at `clock_ms`. A board
    the rules no longer hold, or a run name that is not a date, is never dropped: what
    cannot be placed is kept."""
    if board is None or board.run_unit is None or run == PERPETUAL_RUN:
        return False
    try:
        first = date.fromisoformat(run).toordinal()
    except ValueError:
        return False
    oldest = oldest_kept(board, clock_ms)
    return oldest is not None and (
        run_index(first, board.anchor, board.run_unit, board.run_interval) < oldest
    )


def ranking_run(ranking: str) -> tuple[str, str, str]:
    """(board, run, group) of a ranking key "board|run|group" (a board key and a run name
    hold no '|'; the group is the rest)."""
    board, run, group = ranking.split("|", 2)
    return board, run, group


def dropped_rankings(
    boards: Mapping[str, Leaderboard], rankings: Mapping[str, object], clock_ms: int
) -> list[str]:
    """The keys of the rankings whose run is dropped at `clock_ms`, sorted."""
    out = []
    for key in rankings:
        board, run, _ = ranking_run(key)
        if run_dropped(boards.get(board), run, clock_ms):
            out.append(key)
    return sorted(out)


def leave(ranking: str, user_id: str, clock_ms: int) -> ScoreChanged:
    """A participant's leave of a dropped ranking (`value` None), as its changelog entry's
    last value before the tombstone: the projector removes the participant's member with it."""
    board, run, group = ranking_run(ranking)
    event = f"{DROPPED_EVENT}:{clock_ms}"
    return ScoreChanged(
        id=f"{user_id}:score:{board}:{run}:{group}:{event}",
        board=board,
        run=run,
        group=group,
        user_id=user_id,
        event_id=event,
        time_ms=clock_ms,
        previous=None,
        value=None,
    )


def is_drop(change: ScoreChanged) -> bool:
    """Whether a changelog entry is the leave of a dropped run (its views go with it)."""
    return change.value is None and change.event_id.startswith(f"{DROPPED_EVENT}:")
