"""Per-API-key rate limits: a token bucket per key, refilled at `per_s` up to `burst`.

`take` is pure (the clock is an argument); `RateLimiter` keeps one bucket per key hash in a
dict (keys are few: one per app). Off by default (`PODIUM_GATEWAY_RATE_LIMIT_PER_S=0`);
over the limit the gateway answers 429 in Trophy's shape with `Retry-After` (whole seconds,
at least 1), which Trophy's SDK honours.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Bucket:
    tokens: float
    at: float  # the clock reading the tokens were counted at


@dataclass(frozen=True, slots=True)
class Limit:
    per_s: float
    burst: float

    def __post_init__(self) -> None:
        if self.per_s <= 0 or self.burst < 1:
            raise ValueError(f"a rate limit needs per_s > 0 and burst >= 1, got {self}")


def take(bucket: Bucket | None, limit: Limit, now: float) -> tuple[Bucket, float]:
    """Spend one token: the new bucket, and 0 when allowed or the seconds until a token."""
    if bucket is None:
        tokens = limit.burst
    else:
        tokens = min(limit.burst, bucket.tokens + (now - bucket.at) * limit.per_s)
    if tokens >= 1:
        return Bucket(tokens - 1, now), 0.0
    return Bucket(tokens, now), (1 - tokens) / limit.per_s


def retry_after(wait_s: float) -> str:
    """The Retry-After header for a wait: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(wait_s)))


class RateLimiter:
    def __init__(self, limit: Limit, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.clock = clock
        self._buckets: dict[str, Bucket] = {}
        self.refused = 0

    def check(self, key: str) -> float:
        """0 when the request of `key` may pass, else the seconds to wait."""
        bucket, wait = take(self._buckets.get(key), self.limit, self.clock())
        self._buckets[key] = bucket
        if wait:
            self.refused += 1
        return wait
