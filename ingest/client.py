"""A Python client that sends events straight to `podium.events`, without the HTTP gateway.

Same payload (`schemas.commands.MetricTracked`), same validation (`ingest.http.api`: the metric
must be in the rules, the user and value checked the same way), same stamping: a fresh event
id, and the receive time unless the caller supplies the event's own time (a backfill).
Idempotent producer, acks=all.

The key rule: every command on `podium.events` is keyed by its user id (UTF-8), which is what
puts all of a user's commands on one partition. This client does that for you; anything else
producing to the topic must do the same. The worker turns a command under another key (or no
key) into a dead letter with the reason `key: ...`, rather than fold it into a second copy of
the user's state on another partition:

    async with EventClient(settings.bootstrap, rules, prefix) as client:
        event_id = await client.send("words-written", {"id": "18"}, 750)

Many at once (a backfill, an import): build each with `command` and hand them to
`send_many`, which hands them all to the producer (it batches them per partition) and waits
for every acknowledgement; `make bench` (bench_kafka) measures its rate.

With `tenant="acme"` the users are that tenant's, as with the gateway's `Tenant-ID` header
(`schemas.tenants`: the id on the topic is "acme", U+0000, "18").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from ingest.http import api
from ingest.stamp import new_event_id, now_ms
from processors.runtime import kafka, kafka_async
from schemas.commands import MAX_TIME_MS, MetricTracked, encode_command
from schemas.rules import Rules
from schemas.tenants import qualify
from schemas.topics import EVENTS
from schemas.values import replace

Stamp = tuple[str, int]
BATCH_BYTES = 256 * 1024  # the producer's record batches per partition


class EventClient:
    def __init__(
        self,
        bootstrap: str,
        rules: Rules,
        topic_prefix: str = "",
        linger_ms: int = 5,
        tenant: str | None = None,
    ) -> None:
        """`tenant`: the users are that tenant's (as the gateway's `Tenant-ID` header)."""
        self.tenant = tenant
        self.rules = rules
        self.topic = EVENTS.named(topic_prefix)
        self.bootstrap = bootstrap
        self.linger_ms = linger_ms
        self._producer: kafka_async.AsyncProducer | None = None

    async def __aenter__(self) -> EventClient:
        config = kafka.producer_config(
            self.bootstrap, client_id="podium-client", linger_ms=self.linger_ms
        )
        self._producer = kafka_async.AsyncProducer(config | {"batch.size": BATCH_BYTES})
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._producer is not None:
            await self._producer.close(30.0)
            self._producer = None

    def command(
        self,
        metric: str,
        user: Mapping[str, Any],
        value: int | float,
        attributes: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        time_ms: int | None = None,
    ) -> MetricTracked:
        """The validated, stamped command; raises `ingest.http.api.ApiError` like the gateway."""
        body: dict[str, Any] = {"user": dict(user), "value": value}
        if attributes is not None:
            body["attributes"] = dict(attributes)
        req = api.parse_event(body, metric, self.rules, idempotency_key)
        at = now_ms() if time_ms is None else time_ms
        if not 0 <= at <= MAX_TIME_MS:
            raise api.bad(f"time: out of range: {at}")
        return req.tracked(
            new_event_id(), at, replace(req.user, id=qualify(self.tenant, req.user.id))
        )

    async def send(
        self,
        metric: str,
        user: Mapping[str, Any],
        value: int | float,
        attributes: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        time_ms: int | None = None,
    ) -> str:
        """Send one event and wait for the broker's acknowledgement; its event id."""
        if self._producer is None:
            raise RuntimeError("EventClient is not started: use `async with EventClient(...)`")
        cmd = self.command(metric, user, value, attributes, idempotency_key, time_ms)
        await self._producer.send(self.topic, encode_command(cmd), cmd.user.id.encode())
        return cmd.event_id

    async def send_many(self, commands: Sequence[MetricTracked]) -> None:
        """Send commands built by `command` and wait for every acknowledgement (`KafkaException`
        for the first failure). On an error some of them may be written. Sent again, the same
        commands count once only while each event id is among its user's last
        `[limits] recent_event_ids` (8 by default); an import that may retry gives each
        event an idempotency key."""
        if self._producer is None:
            raise RuntimeError("EventClient is not started: use `async with EventClient(...)`")
        records = [(cmd.user.id.encode(), encode_command(cmd)) for cmd in commands]
        if records:
            await self._producer.send_all(self.topic, records)
