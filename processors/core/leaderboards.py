"""Leaderboard scores: which run a moment belongs to, and the score changes a user's
state change implies. Pure (standard library and `schemas` only); the per-user fold calls
`score_changes` once per command, and its `ScoreChanged` records go to `podium.scores`.

Every calendar decision is made in the participant's own time zone: a board's runs, its
start and end dates and its daily window are local, so at one instant a user in Tokyo can be
in next week's run while a user in London is still in this week's.

A run is named by the ISO date of its first day (`PERPETUAL_RUN` for a perpetual board);
Trophy's `run=YYYY-MM-DD` query names a run by any date in it: `run_id(board, ordinal)`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Literal
from urllib.parse import quote

from processors.core import periods
from processors.core.moment import Moment
from processors.core.periods import local_clock
from schemas.leaderboards import PERPETUAL_RUN, BoardScore, ScoreChanged
from schemas.rules import Leaderboard
from schemas.tenants import split_user, tenant_group
from schemas.values import replace

Status = Literal["scheduled", "active", "finished"]
ZERO = Decimal(0)


# --- runs (the calendar arithmetic is processors.core.periods') ---------------------------------


def run_bounds(board: Leaderboard, ordinal: int) -> tuple[int | None, int | None]:
    """First and last day (inclusive) of the run containing `ordinal`; None where unbounded."""
    if board.run_unit is None:
        return board.start, board.end
    unit, interval, anchor = board.run_unit, board.run_interval, board.anchor
    first, last = periods.run_bounds(
        periods.run_index(ordinal, anchor, unit, interval), anchor, unit, interval
    )
    return first, last if board.end is None else min(last, board.end)


def run_id(board: Leaderboard, ordinal: int) -> str:
    """The name of the run containing `ordinal`: the ISO date of its first day."""
    if board.run_unit is None:
        return PERPETUAL_RUN
    return _run_name(ordinal, board.run_unit, board.run_interval, board.anchor)


@lru_cache(maxsize=65_536)
def _run_name(ordinal: int, unit: str, interval: int, anchor: int) -> str:
    return periods.iso(
        periods.run_start(
            periods.run_index(ordinal, anchor, unit, interval), anchor, unit, interval
        )
    )


def status(board: Leaderboard, ordinal: int) -> Status:
    """The board's status on a local date: before `start` scheduled, after `end` finished."""
    if board.start is not None and ordinal < board.start:
        return "scheduled"
    if board.end is not None and ordinal > board.end:
        return "finished"
    return "active"


def in_window(board: Leaderboard, minute: int) -> bool:
    """Whether a local minute of the day counts: at or after `start_time`, before `end_time`
    (a window whose end is earlier than its start runs over midnight)."""
    start, end = board.start_time, board.end_time
    if start is None:
        return end is None or minute < end
    if end is None:
        return minute >= start
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end


def group_of(board: Leaderboard, attributes: Mapping[str, str]) -> str | None:
    """The breakdown group of a user with these attributes: "" on a board without breakdown,
    else `attr=value` pairs in the board's order, joined by "&" and percent-encoded so that
    no two combinations share a name. None: an attribute is missing, the user is in no group.
    """
    parts = []
    for attr in board.breakdown_attributes:
        value = attributes.get(attr)
        if value is None:
            return None
        parts.append(f"{quote(attr, safe='')}={quote(value, safe='')}")
    return "&".join(parts)


# --- scores ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Standing:
    """What a board can rank a user by at one moment: metric totals, points systems' totals
    and the current streak length."""

    metrics: Mapping[str, Decimal]
    points: Mapping[str, Decimal] = field(default_factory=dict)
    streak: int = 0


def score_changes(
    boards: Mapping[str, Leaderboard],
    scores: Mapping[str, BoardScore],
    before: Standing,
    after: Standing,
    moment: Moment,
) -> tuple[Mapping[str, BoardScore], list[ScoreChanged]]:
    """The user's board scores after a command that took them from `before` to `after`, and
    the score changes to publish. `scores` itself is returned when nothing changed.

    A metric or points board counts the command's change of its total (on a perpetual board
    with no dates and no window, the score is the total itself); a streak board takes the
    current length. Outside the board's dates or daily window nothing counts. A score of an
    earlier run is final: the first counted change in a new run starts from zero.
    """
    if not boards:
        return scores, []
    clock = local_clock(moment.time_ms, moment.tz)
    tenant = split_user(moment.user_id)[0]
    changed: dict[str, BoardScore] | None = None
    records: list[ScoreChanged] = []
    for key, board in boards.items():
        held = scores.get(key)
        group = group_of(board, moment.attributes)
        if tenant is not None and group is not None:
            group = tenant_group(tenant, group)  # a tenant's users rank among themselves
        new = _board(board, held, (before, after), moment, (clock, group), records)
        if new is not held and new is not None:
            if changed is None:
                changed = dict(scores)
            changed[key] = new
    return (scores if changed is None else changed), records


def _value(
    board: Leaderboard,
    current: BoardScore | None,
    before: Standing,
    after: Standing,
    minute: int,
) -> Decimal | None:
    """The user's new value on the board, or None when this command does not change it."""
    if board.rank_by == "streak":
        length = Decimal(after.streak)
        held = ZERO if current is None else current.value
        return None if length == held else length
    key = board.metric if board.rank_by == "metric" else board.points
    old, new = (
        (before.metrics, after.metrics)
        if board.rank_by == "metric"
        else (
            before.points,
            after.points,
        )
    )
    delta = new.get(key or "", ZERO) - old.get(key or "", ZERO)
    if delta == 0 or not in_window(board, minute):
        return None
    if board.ranks_whole_total:
        return new.get(key or "", ZERO)
    return (ZERO if current is None else current.value) + delta


def _board(
    board: Leaderboard,
    held: BoardScore | None,
    standings: tuple[Standing, Standing],
    moment: Moment,
    where: tuple[tuple[int, int], str | None],
    out: list[ScoreChanged],
) -> BoardScore | None:
    """The user's score on one board after the command (`standings` before and after;
    `where`: the local date and minute, and the ranking group or None).

    `held` is the newest run the user scored in, with the run before it in `earlier`. An
    event of a newer run starts it (the newest becomes the earlier one); an event of the
    newest or the earlier run counts into that run; an event of a run between the two
    replaces the earlier one; an event older than both is final and counts on no run. So a
    late event never overwrites a newer run, and the outcome depends only on the log order.
    """
    (ordinal, minute), group = where
    if status(board, ordinal) != "active":
        return held
    run = run_id(board, ordinal)
    if held is None or run >= held.run:  # run names are ISO dates: they order as strings
        current = held if held is not None and held.run == run else None
        new = _entry(board, run, current, standings, moment, minute, group, out)
        if new is None or new is current:
            return held
        kept = _alone(held) if current is None else current.earlier
        return replace(new, earlier=kept)
    earlier = held.earlier
    if earlier is not None and run < earlier.run:
        return held
    current = earlier if earlier is not None and earlier.run == run else None
    new = _entry(board, run, current, standings, moment, minute, group, out)
    if new is None or new is current:
        return held
    return replace(held, earlier=new)


def _alone(score: BoardScore | None) -> BoardScore | None:
    """`score` without its earlier run (what becomes the earlier run of a newer one)."""
    if score is None or score.earlier is None:
        return score
    return replace(score, earlier=None)


def _entry(
    board: Leaderboard,
    run: str,
    current: BoardScore | None,
    standings: tuple[Standing, Standing],
    moment: Moment,
    minute: int,
    group: str | None,
    out: list[ScoreChanged],
) -> BoardScore | None:
    """The user's entry in `run` after the command, `current` itself when unchanged (None:
    no entry and none started). Its `earlier` is not set here."""
    value = _value(board, current, *standings, minute)
    if current is None:
        if value is None:
            return None
        if group is not None:
            out.append(_record(board, run, group, moment, None, value, moment.time_ms))
        return BoardScore(run, group, value, moment.time_ms)
    if group == current.group and value is None:
        return current
    if group != current.group and current.group is not None:
        out.append(_record(board, run, current.group, moment, current.value, None, moment.time_ms))
    # a move to another group keeps the time the value was reached: the tie rule's order
    reached = current.reached_ms if value is None else moment.time_ms
    now = current.value if value is None else value
    if group is not None:
        previous = current.value if group == current.group else None
        out.append(_record(board, run, group, moment, previous, now, reached))
    return BoardScore(run, group, now, reached)


def _record(
    board: Leaderboard,
    run: str,
    group: str,
    moment: Moment,
    previous: Decimal | None,
    value: Decimal | None,
    reached_ms: int,
) -> ScoreChanged:
    uid, eid = moment.user_id, moment.event_id
    return ScoreChanged(
        id=f"{uid}:score:{board.key}:{run}:{group}:{eid}",
        board=board.key,
        run=run,
        group=group,
        user_id=uid,
        event_id=eid,
        time_ms=reached_ms,
        previous=previous,
        value=value,
    )


# --- backfill by replay ---------------------------------------------------------------------


def backfill_changes(
    boards: Mapping[str, Leaderboard],
    rebuilt: Mapping[str, ScoreChanged],
    published: Mapping[str, ScoreChanged],
) -> list[ScoreChanged]:
    """What a replay publishes for one user so the ranking stage holds the rebuilt entries:
    `rebuilt` is the user's last `ScoreChanged` per ranking from folding the whole log under
    the current rules, `published` the last one on `podium.scores` per ranking. An entry the
    stage holds differently (or not at all) gets the rebuilt one; an entry it holds on a
    current board that the rebuild has not gets a leave. Flagged backfilled, in ranking
    order.

    The stage applies a change as "set this participant's entry", so each record states the
    final value, never the history; its id is the rebuilt change's id (or the left one's)
    plus a digest of the id it replaces, distinct from every id emitted before, and the same
    for the same log and the same `podium.scores`."""
    out = []
    for ranking in sorted(rebuilt.keys() | published.keys()):
        new, old = rebuilt.get(ranking), published.get(ranking)
        held = None if old is None or old.value is None else old
        if new is None or new.value is None:
            if held is None or held.board not in boards:
                continue
            base, value, time_ms = held, None, held.time_ms
        elif held is not None and (held.value, held.time_ms) == (new.value, new.time_ms):
            continue
        else:
            base, value, time_ms = new, new.value, new.time_ms
        replaced = "-" if old is None else old.id
        digest = hashlib.blake2b(replaced.encode(), digest_size=6).hexdigest()
        out.append(
            ScoreChanged(
                id=f"{base.id}:backfill:{digest}",
                board=base.board,
                run=base.run,
                group=base.group,
                user_id=base.user_id,
                event_id=base.event_id,
                time_ms=time_ms,
                previous=None if held is None else held.value,
                value=value,
                backfilled=True,
            )
        )
    return out
