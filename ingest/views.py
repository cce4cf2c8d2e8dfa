"""The gateway's reads of the Redis views (layout in `schemas.views`).

When the views' epoch marker is missing, Redis lost them (or the projector is rebuilding
them): a read that finds nothing answers 503 "views rebuilding", never a false 404, and the
rarity counts (which would be partial) answer 503 too. The leaderboard views have their own
marker (`Keys.board_epoch`): every board read answers 503 while it is missing; so do the
participants' daily histories (`Keys.rank_history_epoch`), never an empty history."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError

from ingest.http.api import ApiError
from ingest.ports import Entry
from ingest.tenancy import TENANT
from schemas.views import (
    HistoryDay,
    Keys,
    UserView,
    attribute_range,
    decode_view,
    parse_history_member,
    user_of_attribute_member,
)


def rebuilding() -> ApiError:
    return ApiError(
        503,
        "the read views are being rebuilt (Redis lost them); no answer can be trusted yet, "
        "retry shortly",
        {"Retry-After": "1"},
    )


def boards_rebuilding() -> ApiError:
    return ApiError(
        503,
        "the leaderboard views are being rebuilt (Redis lost them); no ranking can be trusted "
        "yet, retry shortly",
        {"Retry-After": "1"},
    )


def _user_of(member: bytes | str) -> str:
    """The user id in a ranking's member (`schemas.views.board_member`: the exact value and
    reached ms without a ':', then ':', then the id)."""
    text = member.decode() if isinstance(member, bytes) else member
    return text.split(":", 1)[1]


def _decoded(raw: bytes | str) -> UserView:
    """A stored document; 503 for one of an older layout (`schemas.views.VIEWS_LAYOUT`): the
    gateway was upgraded before the projector, which rebuilds them on its first start."""
    try:
        return decode_view(raw)
    except msgspec.DecodeError as exc:
        raise rebuilding() from exc


class ViewReader:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.base = keys

    @property
    def keys(self) -> Keys:
        """The keys of the request's tenant (`ingest.tenancy`; the default tenant's without
        one)."""
        return self.base.scoped(TENANT.get())

    async def user(self, user_id: str) -> UserView | None:
        raw = await self.redis.hget(self.keys.user(user_id), "doc")
        return None if raw is None else _decoded(raw)

    async def users(self, user_ids: Iterable[str]) -> list[UserView | None]:
        pipe = self.redis.pipeline(transaction=False)
        for uid in user_ids:
            pipe.hget(self.keys.user(uid), "doc")
        pipe.exists(self.keys.epoch)
        *docs, whole = await pipe.execute()
        if not whole and None in docs:
            raise rebuilding()
        return [None if raw is None else _decoded(raw) for raw in docs]

    async def completions(self, achievements: Iterable[str]) -> tuple[dict[str, int], int]:
        """Completions per achievement, and the number of users (rarity's denominator)."""
        keys = list(achievements)
        pipe = self.redis.pipeline(transaction=False)
        for key in keys:
            pipe.scard(self.keys.completed(key))
        pipe.scard(self.keys.users)
        pipe.exists(self.keys.epoch)
        *counts, whole = await pipe.execute()
        if not whole:
            raise rebuilding()
        return dict(zip(keys, counts[:-1], strict=True)), int(counts[-1])

    async def require_whole(self) -> None:
        """503 unless the views' epoch marker says they were built whole."""
        if not await self.redis.exists(self.keys.epoch):
            raise rebuilding()

    async def points_top(self, system: str) -> int:
        """The greatest total any user has in the points system (0: none)."""
        top = await self.redis.zrevrange(self.keys.points(system), 0, 0, withscores=True)
        return int(top[0][1]) if top else 0

    async def points_counts(
        self, system: str, ranges: Sequence[tuple[int | None, int | None]]
    ) -> list[int]:
        """Users whose total is within each [low, high] (None: unbounded)."""
        pipe = self.redis.pipeline(transaction=False)
        for low, high in ranges:
            lo = "-inf" if low is None else low
            hi = "+inf" if high is None else high
            pipe.zcount(self.keys.points(system), lo, hi)
        return [int(n) for n in await pipe.execute()]

    async def points_totals_where(self, system: str, attrs: Mapping[str, str]) -> list[int]:
        """The totals in the points system of the users whose attributes match every pair of
        `attrs` (at least one): one range of the attribute index per pair
        (`schemas.views.attribute_member`), then one ZMSCORE of the users in all of them.
        Reads the matching ids and their totals, never a view document."""
        keys = self.keys
        pipe = self.redis.pipeline(transaction=False)
        for key, value in attrs.items():
            pipe.zrangebylex(keys.attribute(key), *attribute_range(value))
        found = await pipe.execute()
        users: set[str] | None = None
        for value, members in zip(attrs.values(), found, strict=True):
            ids = {user_of_attribute_member(m, value) for m in members}
            users = ids if users is None else users & ids
        if not users:
            return []
        scores = await self.redis.zmscore(keys.points(system), sorted(users))
        return [int(s) for s in scores if s is not None]

    async def names(self, user_ids: Sequence[str]) -> list[str | None]:
        """The users' names (None: no name, or unknown), in one HMGET of the names hash; 503
        when one is missing while the views are being rebuilt."""
        if not user_ids:
            return []
        pipe = self.redis.pipeline(transaction=False)
        pipe.hmget(self.keys.names, list(user_ids))
        pipe.exists(self.keys.epoch)
        names, whole = await pipe.execute()
        if not whole and None in names:
            raise rebuilding()
        return [None if n is None else n.decode() for n in names]

    async def streak_ranking(self, kind: str, limit: int) -> list[tuple[str, int]]:
        """The first `limit` users by current (`kind` "active") or longest streak, each
        (user id, length), longest first and ties by user id; 503 while the views are being
        rebuilt."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.zrange(self.keys.streak_ranking(kind), 0, limit - 1, withscores=True)
        pipe.exists(self.keys.epoch)
        pairs, whole = await pipe.execute()
        if not whole:
            raise rebuilding()
        return [
            (member.decode() if isinstance(member, bytes) else str(member), -int(score))
            for member, score in pairs
        ]

    # --- leaderboard views: one sorted set per ranking, score = -value --------------------

    async def board_page(self, ranking: str, start: int, stop: int) -> list[Entry]:
        """The ranking's entries at positions [start, stop) (0 is first), each (user id,
        value); 503 while the board views are being rebuilt."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.exists(self.keys.board_epoch)
        pipe.zrange(self.keys.board(ranking), start, max(stop - 1, start), withscores=True)
        whole, pairs = await pipe.execute()
        if not whole:
            raise boards_rebuilding()
        if stop <= start:
            return []
        return [(_user_of(member), -float(score)) for member, score in pairs]

    async def board_standing(self, ranking: str, user_id: str) -> tuple[int, float] | None:
        """The user's position (0 is first) and value in the ranking; None when the user is
        not in it. 503 while the board views are being rebuilt."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.exists(self.keys.board_epoch)
        pipe.hget(self.keys.board_members(ranking), user_id)
        whole, member = await pipe.execute()
        if not whole:
            raise boards_rebuilding()
        if member is None:
            return None
        pipe = self.redis.pipeline(transaction=False)
        pipe.zrank(self.keys.board(ranking), member)
        pipe.zscore(self.keys.board(ranking), member)
        position, score = await pipe.execute()
        if position is None or score is None:  # moved between the two reads
            return None
        return int(position), -float(score)

    async def board_history(self, ranking: str, user_id: str) -> list[HistoryDay]:
        """The participant's kept days on the ranking, oldest first (`schemas.views.HistoryDay`);
        503 while the histories are being rebuilt."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.exists(self.keys.rank_history_epoch)
        pipe.zrange(self.keys.rank_history(ranking, user_id), 0, -1)
        whole, members = await pipe.execute()
        if not whole:
            raise boards_rebuilding()
        return [parse_history_member(m) for m in members]

    async def year_ranks(
        self, user_id: str, year: int, series: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[int, int]]:
        """Per `(kind, key)` in which the user has a change scored for the year: (users whose
        change is at or below the user's, users scored). 503 while the views are rebuilt."""
        keys = [self.keys.year(kind, key, year) for kind, key in series]
        pipe = self.redis.pipeline(transaction=False)
        for key in keys:
            pipe.zscore(key, user_id)
            pipe.zcard(key)
        pipe.exists(self.keys.epoch)
        *found, whole = await pipe.execute()
        if not whole:
            raise rebuilding()
        scored = [
            (s, k, score, n)
            for s, k, score, n in zip(series, keys, found[::2], found[1::2], strict=True)
            if score is not None
        ]
        pipe = self.redis.pipeline(transaction=False)
        for _s, key, score, _n in scored:
            pipe.zcount(key, "-inf", score)
        below = await pipe.execute()
        return {s: (int(b), int(n)) for (s, _k, _score, n), b in zip(scored, below, strict=True)}

    async def built(self) -> bool:
        """Whether every view was built whole (the views', the boards' and the histories'
        epoch markers are there); False while the projector rebuilds them, when their reads
        answer 503, or when Redis does not answer."""
        markers = (self.base.epoch, self.base.board_epoch, self.base.rank_history_epoch)
        try:
            return int(await self.redis.exists(*markers)) == len(markers)
        except (OSError, TimeoutError, RedisError):
            return False

    async def ping(self) -> bool:
        try:
            return bool(await self.redis.ping())
        except (OSError, TimeoutError, RedisError):  # unreachable, slow, or refusing
            return False
