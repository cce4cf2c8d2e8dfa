"""The gateway's reads of the Redis views (layout in `schemas.views`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from redis.asyncio import Redis

from schemas.views import Keys, decode_view


class ViewReader:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    async def user(self, user_id: str) -> dict[str, Any] | None:
        raw = await self.redis.hget(self.keys.user(user_id), "doc")
        return None if raw is None else decode_view(raw)

    async def users(self, user_ids: Iterable[str]) -> list[dict[str, Any] | None]:
        pipe = self.redis.pipeline(transaction=False)
        for uid in user_ids:
            pipe.hget(self.keys.user(uid), "doc")
        return [None if raw is None else decode_view(raw) for raw in await pipe.execute()]

    async def completions(self, achievements: Iterable[str]) -> tuple[dict[str, int], int]:
        """Completions per achievement, and the number of users (rarity's denominator)."""
        keys = list(achievements)
        pipe = self.redis.pipeline(transaction=False)
        for key in keys:
            pipe.scard(self.keys.completed(key))
        pipe.scard(self.keys.users)
        counts = await pipe.execute()
        return dict(zip(keys, counts[:-1], strict=True)), int(counts[-1])

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

    async def points_totals(self, system: str) -> dict[str, int]:
        """Every user's total in the points system (for filters the sorted set cannot do)."""
        pairs: list[Any] = await self.redis.zrange(self.keys.points(system), 0, -1, withscores=True)
        out: dict[str, int] = {}
        for member, score in pairs:
            out[member.decode() if isinstance(member, bytes) else str(member)] = int(score)
        return out

    async def ping(self) -> bool:
        try:
            return bool(await self.redis.ping())
        except (OSError, ConnectionError, TimeoutError):
            return False
        except Exception:  # redis.exceptions.ConnectionError and kin
            return False
