"""One attempt of one delivery over HTTP (httpx), and the user of a fact from the views.

An attempt fails on a timeout (the whole request, `Retry.timeout_s`: a receiver that trickles
its answer is cut too), a network error or any status but 2xx; the reason is kept for the
dead letter.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

import httpx
import msgspec
from redis.asyncio import Redis

from ingest.http.answers import User
from ingest.http.api import user_json
from ingest.webhooks.config import Endpoint, Retry
from ingest.webhooks.lanes import Delivery
from ingest.webhooks.payloads import bare_user
from ingest.webhooks.signing import headers
from schemas.tenants import split_user
from schemas.views import Keys, decode_view


class Sender:
    """Posts a delivery's body, signed, to one endpoint."""

    def __init__(
        self,
        endpoint: Endpoint,
        retry: Retry,
        client: httpx.AsyncClient,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.endpoint, self.retry, self.client, self.clock = endpoint, retry, client, clock

    async def attempt(self, delivery: Delivery) -> str | None:
        """None when the receiver answered 2xx; else why not."""
        body, ep = delivery.hook.body, self.endpoint
        tenant, _ = split_user(delivery.hook.user_id)
        at = int(self.clock())
        sent = headers(body, ep.secret, delivery.id, delivery.hook.type, at, tenant)
        try:
            async with asyncio.timeout(self.retry.timeout_s):
                answer = await self.client.post(ep.url, content=body, headers=sent)
        except TimeoutError:
            return "timeout"
        except httpx.TimeoutException:
            return "timeout"
        except httpx.HTTPError as exc:
            return f"network: {type(exc).__name__}"
        return None if 200 <= answer.status_code < 300 else f"HTTP {answer.status_code}"


def client(retry: Retry) -> httpx.AsyncClient:
    """One client (and connection pool) per endpoint; no redirects (Trophy follows none)."""
    return httpx.AsyncClient(timeout=retry.timeout_s, follow_redirects=False)


class Users:
    """Trophy's `User` of the facts' users, from the projector's views (Redis); a user the
    views do not hold yet is sent with its id and Trophy's defaults (`bare_user`)."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis, self.keys = redis, keys

    async def of(self, facts: Sequence[tuple[str, int]]) -> list[User]:
        """The users of (user id, fact time) pairs, in order."""
        if not facts:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for user_id, _ in facts:
            tenant, uid = split_user(user_id)
            pipe.hget(self.keys.scoped(tenant).user(uid), "doc")
        docs = await pipe.execute()
        return [self._user(raw, uid, at) for raw, (uid, at) in zip(docs, facts, strict=True)]

    @staticmethod
    def _user(raw: bytes | None, user_id: str, time_ms: int) -> User:
        if raw is None:
            return bare_user(user_id, time_ms)
        try:
            return user_json(decode_view(raw))
        except msgspec.DecodeError:  # a layout the projector has not rebuilt yet
            return bare_user(user_id, time_ms)
