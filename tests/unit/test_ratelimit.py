"""Per-API-key rate limits: the token bucket (pure, exact clock) and the 429 it answers."""

from __future__ import annotations

import pytest
from starlette.responses import PlainTextResponse
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from ingest.app import RequireApiKey
from ingest.auth import KeyRing, mint_key
from ingest.ratelimit import Bucket, Limit, RateLimiter, retry_after, take


def test_a_full_bucket_allows_the_burst_then_refuses() -> None:
    limit = Limit(per_s=2, burst=3)
    bucket = None
    waits = []
    for _ in range(4):
        bucket, wait = take(bucket, limit, now=10.0)
        waits.append(wait)
    assert waits == [0, 0, 0, 0.5]  # the 4th token arrives after 1 / 2 s


def test_tokens_refill_at_the_rate_up_to_the_burst() -> None:
    limit = Limit(per_s=4, burst=2)
    assert take(Bucket(0.0, 0.0), limit, now=0.25) == (Bucket(0.0, 0.25), 0.0)
    assert take(Bucket(0.0, 0.0), limit, now=100.0) == (Bucket(1.0, 100.0), 0.0)
    assert take(Bucket(0.5, 0.0), limit, now=0.0) == (Bucket(0.5, 0.0), 0.125)


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert [retry_after(w) for w in (0.01, 1.0, 1.2, 2.9)] == ["1", "1", "2", "3"]


def test_a_limit_must_allow_something() -> None:
    with pytest.raises(ValueError, match="per_s > 0"):
        Limit(per_s=0, burst=1)


async def ok(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("ok")(scope, receive, send)


def test_the_gateway_answers_429_per_key_with_retry_after() -> None:
    now = [0.0]
    (a, ha), (b, hb) = mint_key(), mint_key()
    limiter = RateLimiter(Limit(per_s=1, burst=2), clock=lambda: now[0])
    client = TestClient(RequireApiKey(ok, KeyRing([ha, hb]), limiter))
    got = [client.get("/v1/x", headers={"X-API-KEY": a}).status_code for _ in range(3)]
    assert got == [200, 200, 429]
    refused = client.get("/v1/x", headers={"X-API-KEY": a})
    assert refused.headers["Retry-After"] == "1"
    assert refused.json() == {
        "error": "rate limit exceeded: 1 requests per second per API key (bursts of 2); "
        "retry after 1.00 s"
    }
    assert client.get("/v1/x", headers={"X-API-KEY": b}).status_code == 200  # its own bucket
    now[0] = 1.0
    assert client.get("/v1/x", headers={"X-API-KEY": a}).status_code == 200
    assert client.get("/v1/x", headers={"X-API-KEY": "wrong"}).status_code == 401
    assert limiter.refused == 2
