"""A participant's daily history on one ranking, folded from the ranking stage's
`RankChanged` records. Pure: the projector (`processors.board_views.HistoryProjector`) reads
the stored days from Redis and writes back what this returns.

Trophy's `LeaderboardEvent` is "a daily leaderboard snapshot entry representing the user's
rank/value state and the previous persisted state", and `numEvents` counts days. So one entry
per day, not per change: the rank and value before the day's first change and after its last.
Days on which only others moved past the participant carry no entry (a `RankChanged` exists
for the mover only; writing every shifted participant would be O(n) per change).

The day is the UTC date of the change's `time_ms` (the time of the event that caused it): the
records carry no time zone, and a zone read at write time from the user's view would make a
rebuild depend on the zone the user has when it runs. Trophy's deprecated `timestamp` is the
day boundary in UTC (its example: "2025-01-15T00:00:00.000Z").

Replays: a redelivery re-applies a suffix of a ranking's records in log order (one ranking is
on one partition). A day's "before" is taken only when the day is new, and its "after" is
the last record applied to it, so re-applying any suffix ends in the same days: idempotent
without keeping record ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from schemas.leaderboards import RankChanged
from schemas.views import HISTORY_DAYS, HistoryDay


def utc_day(time_ms: int) -> int:
    """The UTC date (ordinal) of an epoch-millisecond time."""
    return datetime.fromtimestamp(time_ms / 1000, UTC).date().toordinal()


def fold_day(days: Mapping[int, HistoryDay], change: RankChanged) -> HistoryDay:
    """The entry of the change's day after it: the day's "before" as it was (or this change's
    own when the day is new), this change's "after"."""
    day = utc_day(change.time_ms)
    known = days.get(day)
    if known is None:
        prev_rank, prev_value = change.previous_rank, change.previous_value
    else:
        prev_rank, prev_value = known.previous_rank, known.previous_value
    return HistoryDay(day, prev_rank, change.rank, prev_value, change.value)


def fold_history(
    stored: Mapping[int, HistoryDay], changes: Iterable[RankChanged], keep: int = HISTORY_DAYS
) -> dict[int, HistoryDay]:
    """The participant's days after `changes` (one participant, one ranking, in log order):
    the latest `keep` days only."""
    days = dict(stored)
    for change in changes:
        entry = fold_day(days, change)
        days[entry.day] = entry
    return {day: days[day] for day in sorted(days)[-keep:]} if keep > 0 else {}
