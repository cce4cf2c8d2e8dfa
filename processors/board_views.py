"""The leaderboard read views: a Redis sorted set per ranking (layout in `schemas.views`).

Reads `podium.ranking.state` (the ranking stage's compacted changelog, read_committed): each
record is a participant's last applied `ScoreChanged`, so the views hold exactly the stage's
current entries and a rebuild reads one record per participant. Per record one Lua step
removes the participant's old member and adds the new one (or none: it left). Records of one
ranking sit on one partition and are applied in order, so a redelivery after a crash ends in
the same views (at least once, idempotent).

Scores are floats: every whole value below 2^53 and decimals up to 15 significant digits
are exact; the member carries the tie order.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from redis.asyncio import Redis

from schemas.commands import InvalidRecord
from schemas.leaderboards import ScoreChanged, decode_leaderboard_record
from schemas.views import WRITE_BOARD, Keys, board_member

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


class BoardProjector:
    """Applies ranking changelog values to the sorted sets."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = BoardKeys(keys)
        self.script = redis.register_script(WRITE_BOARD)
        self.applied = 0
        self.invalid = 0

    async def apply(self, values: Iterable[bytes | None]) -> int:
        """Write these changelog values in order; the number of entries written."""
        latest: dict[tuple[str, str], ScoreChanged] = {}
        for raw in values:
            if raw is None:
                continue
            try:
                change = decode_leaderboard_record(raw)
            except InvalidRecord as exc:
                self.invalid += 1
                log.warning("skipping a ranking record that does not decode: %s", exc.reason)
                continue
            if isinstance(change, ScoreChanged):
                latest[(change.ranking, change.user_id)] = change
        if not latest:
            return 0
        keys = self.keys.keys
        pipe = self.redis.pipeline(transaction=False)
        for (ranking, user), change in latest.items():
            score = "" if change.value is None else repr(-float(change.value))
            member = board_member(change.time_ms, user)
            await self.script(
                keys=[keys.board(ranking), keys.board_members(ranking)],
                args=[user, member, score],
                client=pipe,
            )
        await pipe.execute()
        self.applied += len(latest)
        return len(latest)
