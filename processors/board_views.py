"""The leaderboard read views: a Redis sorted set per ranking, and each participant's daily
history on it (layout in `schemas.views`).

Reads `podium.ranking.state` (the ranking stage's compacted changelog, read_committed): each
record is a participant's last applied `ScoreChanged`, so the views hold exactly the stage's
current entries and a rebuild reads one record per participant. A finished run the stage
drops (`processors.core.retention`) comes as a leave per participant: its members go, the
emptied sorted set and member hash vanish with them (Redis deletes an empty key), and the
participant's daily history on that ranking is deleted. Per record one Lua step
removes the participant's old member and adds the new one (or none: it left). Records of one
ranking sit on one partition and are applied in order, so a redelivery after a crash ends in
the same views (at least once, idempotent).

A tenant's user (`schemas.tenants`) is on its tenant's rankings only (their group names the
tenant), so a member carries the id the tenant knows.

Scores are floats: every whole value below 2^53 and decimals up to 15 significant digits
are exact; the member carries the tie order.

The histories (`HistoryProjector`) come from `podium.leaderboards` (the stage's `RankChanged`
records, read_committed): per batch, the stored days of every participant it touches are read
in one round trip, folded with its records by the pure `processors.core.rank_history.fold_history`,
and the days that differ written back in a second. A ranking's records sit on one partition,
so one instance writes a participant's history; a redelivery re-folds a suffix in order,
which ends in the same days.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from processors.core.rank_history import fold_history
from processors.core.retention import is_drop
from processors.runtime import telemetry
from schemas.commands import InvalidRecord
from schemas.leaderboards import (
    LeaderboardRecord,
    RankChanged,
    ScoreChanged,
    decode_leaderboard_record,
    ranking_key,
)
from schemas.tenants import split_user
from schemas.views import (
    WRITE_BOARD,
    HistoryDay,
    Keys,
    Positioned,
    board_member,
    history_member,
    parse_history_member,
)

log = logging.getLogger("podium.projector")


class BoardKeys:
    """The board views' part of the key layout (what `projector.rebuild` clears), with an
    epoch marker of their own: a rebuild of the user views clears everything under the prefix,
    this marker included, and the board loop then rebuilds the board views by itself."""

    def __init__(self, keys: Keys) -> None:
        self.keys = keys
        self.pattern = f"{keys.prefix}board*"
        self.epoch = keys.board_epoch
        self.rebuilding = keys.board_rebuilding
        self.markers = (self.epoch,)


class _Decoding:
    """Decodes the leaderboard records a projector is handed; one that does not decode is
    logged, counted (`invalid`) and skipped."""

    invalid: int

    def decoded(self, records: Iterable[Positioned]) -> Iterator[LeaderboardRecord]:
        for rec in records:
            raw = rec.value
            if raw is None:
                continue
            try:
                yield decode_leaderboard_record(raw)
            except InvalidRecord as exc:
                self.invalid += 1
                telemetry.VIEWS_SKIPPED.inc()
                log.warning(
                    "skipping a leaderboard record that does not decode: %s",
                    exc.reason,
                    extra={"offset": rec.offset},
                )


class BoardProjector(_Decoding):
    """Applies ranking changelog values to the sorted sets."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = BoardKeys(keys)
        self.script = redis.register_script(WRITE_BOARD)
        self.applied = 0
        self.invalid = 0

    async def apply(self, records: Iterable[Positioned]) -> int:
        """Write these changelog records in order; the number of entries written."""
        latest: dict[tuple[str, str], ScoreChanged] = {}
        for change in self.decoded(records):
            if isinstance(change, ScoreChanged):
                latest[(change.ranking, change.user_id)] = change
        if not latest:
            return 0
        keys = self.keys.keys
        pipe = self.redis.pipeline(transaction=False)
        for (ranking, qualified), change in latest.items():
            user = split_user(qualified)[1]  # a tenant's ranking holds its users only
            if change.value is None:
                score, member = "", ""  # a leave: the script removes the stored member
                if is_drop(change):  # a dropped run: the participant's history goes too
                    pipe.delete(keys.rank_history(ranking, user))
            else:
                score = repr(-float(change.value))  # a double: the member orders exactly
                member = board_member(change.value, change.time_ms, user)
            await self.script(
                keys=[keys.board(ranking), keys.board_members(ranking)],
                args=[user, member, score],
                client=pipe,
            )
        await pipe.execute()
        self.applied += len(latest)
        return len(latest)


class HistoryKeys:
    """The histories' part of the key layout, with their own epoch marker: they are rebuilt
    from `podium.leaderboards`, not from the changelog the board views come from."""

    def __init__(self, keys: Keys) -> None:
        self.keys = keys
        self.pattern = f"{keys.prefix}rank-history*"
        self.epoch = keys.rank_history_epoch
        self.rebuilding = keys.rank_history_rebuilding
        self.markers = (self.epoch,)


Participant = tuple[str, str]  # (ranking, user id)


class HistoryProjector(_Decoding):
    """Folds `RankChanged` records into each participant's daily history."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = HistoryKeys(keys)
        self.applied = 0
        self.invalid = 0

    def changes(self, records: Iterable[Positioned]) -> dict[Participant, list[RankChanged]]:
        """The rank changes among these records, per participant and ranking, in order."""
        out: dict[Participant, list[RankChanged]] = {}
        for change in self.decoded(records):
            if isinstance(change, RankChanged):
                ranking = ranking_key(change.board, change.run, change.group)
                out.setdefault((ranking, change.user_id), []).append(change)
        return out

    async def apply(self, records: Iterable[Positioned]) -> int:
        """Fold these records into the histories; the number of days written."""
        changes = self.changes(records)
        if not changes:
            return 0
        keys = [
            self.keys.keys.rank_history(ranking, split_user(user)[1]) for ranking, user in changes
        ]
        pipe = self.redis.pipeline(transaction=False)
        for key in keys:
            pipe.zrange(key, 0, -1)
        stored = await pipe.execute()
        pipe = self.redis.pipeline(transaction=False)
        written = 0
        for key, members, batch in zip(keys, stored, changes.values(), strict=True):
            old = {e.day: e for e in map(parse_history_member, members)}
            written += self.write(pipe, key, old, fold_history(old, batch))
        await pipe.execute()
        self.applied += written
        return written

    @staticmethod
    def write(
        pipe: Pipeline, key: str, old: dict[int, HistoryDay], new: dict[int, HistoryDay]
    ) -> int:
        """Queue the days of `new` that differ from `old`, and drop the days no longer kept."""
        changed = [e for day, e in new.items() if old.get(day) != e]
        for entry in changed:
            pipe.zremrangebyscore(key, entry.day, entry.day)
            pipe.zadd(key, {history_member(entry): entry.day})
        gone = [history_member(e) for day, e in old.items() if day not in new]
        if gone:
            pipe.zrem(key, *gone)
        return len(changed)
