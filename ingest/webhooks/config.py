"""The dispatcher's configuration: its endpoints and its retry policy (built from the settings
by `deploy.cli.webhooks_config`; nothing here reads the environment)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from processors.runtime.ops_server import OpsConfig
from schemas.topics import Names

TROPHY_RETRY_DELAYS_S: tuple[float, ...] = (60.0, 120.0, 240.0)
"""Trophy's schedule: 3 retries, exponential back-off from one minute."""
NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One receiver: its name (the consumer group's suffix and the delivery ids' salt: keep
    it when the URL changes), URL, secret, the types it takes (empty: every type Podium
    sends) and whether it takes the facts a replay backfilled."""

    name: str
    url: str
    secret: str
    types: frozenset[str] = frozenset()
    include_backfilled: bool = False

    def __post_init__(self) -> None:
        if not NAME.match(self.name):
            raise ValueError(f"webhook endpoint name {self.name!r}: use 1-64 of A-Z a-z 0-9 _ . -")
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(
                f"webhook endpoint {self.name}: url must be http(s)://, not {self.url!r}"
            )

    def takes(self, webhook_type: str, backfilled: bool) -> bool:
        if backfilled and not self.include_backfilled:
            return False
        return not self.types or webhook_type in self.types


@dataclass(frozen=True, slots=True)
class Retry:
    """When to try again after a failed attempt (a timeout, a network error or a non-2xx):
    `delays_s[i]` after attempt i + 1; dead-lettered after the last."""

    delays_s: tuple[float, ...] = TROPHY_RETRY_DELAYS_S
    timeout_s: float = 10.0  # one attempt, connect to last byte

    @property
    def attempts(self) -> int:
        return len(self.delays_s) + 1


@dataclass(frozen=True, slots=True)
class WebhooksConfig:
    """What `podium webhooks` needs."""

    bootstrap: str
    names: Names
    redis_url: str
    endpoints: tuple[Endpoint, ...]
    views_prefix: str = "podium:"
    retry: Retry = field(default_factory=Retry)
    max_pending: int = 10_000  # deliveries held per endpoint before its partitions pause
    concurrency: int = 32  # attempts in flight per endpoint
    ops: OpsConfig | None = None  # where /metrics, /livez and /readyz are served (None: not)


def endpoints_of(
    entries: Iterable[dict[str, object]], url: str | None, secret: str | None
) -> tuple[Endpoint, ...]:
    """The endpoints of the settings: each entry of the list (name, url, secret, types,
    include_backfilled), and `url`/`secret` as one more named "default" taking every type."""
    out = [
        Endpoint(
            name=str(e["name"]),
            url=str(e["url"]),
            secret=str(e.get("secret", "")),
            types=frozenset(str(t) for t in e.get("types", ()) or ()),  # type: ignore[attr-defined]
            include_backfilled=bool(e.get("include_backfilled", False)),
        )
        for e in entries
    ]
    if url:
        out.append(Endpoint("default", url, secret or ""))
    names = [e.name for e in out]
    if len(set(names)) != len(names):
        raise ValueError(f"webhook endpoint names must differ: {names}")
    return tuple(out)
