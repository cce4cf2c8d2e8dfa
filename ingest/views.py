"""The gateway's reads of the Redis views (layout in `schemas.views`)."""

from __future__ import annotations

from collections.abc import Iterable
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

    async def ping(self) -> bool:
        try:
            return bool(await self.redis.ping())
        except (OSError, ConnectionError, TimeoutError):
            return False
        except Exception:  # redis.exceptions.ConnectionError and kin
            return False
