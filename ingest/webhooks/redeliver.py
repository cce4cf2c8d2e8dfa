"""`podium webhooks redeliver`: send the dead-lettered deliveries again.

Per endpoint, a consumer in its own group (`Names.webhooks_redeliver_group`) reads
`podium.webhooks.dlq` from where its last run stopped up to the topic's current end, and
sends each of the endpoint's dead letters that has a body once more: the same bytes under the
same delivery id (a receiver that saw it already drops it), freshly signed, with the
endpoint's retries. One that fails again is dead-lettered again (at the end of the topic, for
the next run). Dead letters of undecodable facts have nothing to send: they are counted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import TopicPartition
from msgspec.structs import replace

from ingest.webhooks.config import Endpoint, WebhooksConfig
from ingest.webhooks.delivery import Sender, client
from ingest.webhooks.dispatcher import now_ms
from ingest.webhooks.lanes import Delivery, Lanes
from ingest.webhooks.metrics import Metrics
from ingest.webhooks.payloads import Outgoing
from processors.runtime.kafka import consumer, end_offsets, producer_config, record_of
from processors.runtime.kafka_async import AsyncProducer
from schemas.commands import InvalidRecord
from schemas.topics import WEBHOOKS_DLQ
from schemas.webhooks import WebhookDeadLetter


@dataclass
class Redelivered:
    """What one run did, per endpoint."""

    sent: int = 0  # delivered (or dead-lettered again)
    again: int = 0  # dead-lettered again
    skipped: int = 0  # no body (an undecodable fact) or not decodable itself


def _delivery(dead: WebhookDeadLetter) -> Delivery:
    hook = Outgoing(
        type=dead.webhook_type or "",
        fact_id=dead.fact_id or "",
        user_id=dead.user_id or "",
        time_ms=dead.time_ms,
        backfilled=dead.backfilled,
        body=(dead.body or "").encode(),
    )
    return Delivery(dead.id, (dead.topic, dead.partition), dead.offset, hook, 0.0)


class Redeliverer:
    """One endpoint's run: its lanes, and the dead letters it queued (to tell them again)."""

    def __init__(self, config: WebhooksConfig, endpoint: Endpoint, producer: AsyncProducer):
        self.config, self.endpoint, self.producer = config, endpoint, producer
        self.out = Redelivered()
        self.letters: dict[str, WebhookDeadLetter] = {}

    async def run(self) -> Redelivered:
        http = client(self.config.retry)
        sender = Sender(self.endpoint, self.config.retry, http)
        retry, width = self.config.retry, self.config.concurrency
        self.lanes = Lanes(sender.attempt, self.again, self.ended, retry, width, Metrics())
        try:
            await self._read()
        finally:
            await self.lanes.close()
            await http.aclose()
        return self.out

    async def again(self, delivery: Delivery, reason: str, attempts: int) -> None:
        """Dead-letter it once more, at the end of the topic."""
        old = self.letters[delivery.id]
        dead = replace(old, reason=reason, attempts=old.attempts + attempts, time_ms=now_ms())
        topic = self.config.names.webhooks_dlq
        value, key = WEBHOOKS_DLQ.value.encode(dead), WEBHOOKS_DLQ.key.encode(dead.id)
        await self.producer.send(topic, value, key)
        self.out.again += 1

    def ended(self, delivery: Delivery) -> None:
        self.out.sent += 1

    def _take(self, raw: bytes | None) -> None:
        try:
            dead = WEBHOOKS_DLQ.value.decode(raw or b"")
        except InvalidRecord:
            self.out.skipped += 1
            return
        if dead.endpoint != self.endpoint.name:
            return
        if dead.body is None:
            self.out.skipped += 1
            return
        self.letters[dead.id] = dead
        self.lanes.submit(_delivery(dead))

    async def _read(self) -> None:
        """Queue the endpoint's dead letters up to the topic's end; commit once they ended."""
        names, bootstrap = self.config.names, self.config.bootstrap
        topic = names.webhooks_dlq  # one partition
        end = (await asyncio.to_thread(end_offsets, bootstrap, topic, [0]))[0]
        cons = consumer(bootstrap, names.webhooks_redeliver_group(self.endpoint.name))
        try:
            cons.assign([TopicPartition(topic, 0)])  # from the group's committed offset
            while await self._position(cons, topic) < end:
                for msg in await asyncio.to_thread(cons.consume, 1000, 0.5):
                    if msg.error() is None and (msg.offset() or 0) < end:
                        self._take(record_of(msg).value)
            await self.lanes.drained()
            if end:
                tp = TopicPartition(topic, 0, end)
                await asyncio.to_thread(cons.commit, offsets=[tp], asynchronous=False)
        finally:
            await asyncio.to_thread(cons.close)

    @staticmethod
    async def _position(cons: Any, topic: str) -> int:
        """The next offset to read (before the first read: the committed one, or 0)."""
        (tp,) = await asyncio.to_thread(cons.position, [TopicPartition(topic, 0)])
        if tp.offset >= 0:
            return int(tp.offset)
        (done,) = await asyncio.to_thread(cons.committed, [TopicPartition(topic, 0)], 10)
        return max(int(done.offset), 0)


async def redeliver(
    config: WebhooksConfig, endpoints: Sequence[Endpoint]
) -> dict[str, Redelivered]:
    """Send the dead letters of each endpoint again; what each run did, by endpoint name."""
    producer = AsyncProducer(producer_config(config.bootstrap, client_id="podium-redeliver"))
    try:
        return {ep.name: await Redeliverer(config, ep, producer).run() for ep in endpoints}
    finally:
        await producer.close()
