"""`podium webhooks redeliver`: send the dead-lettered deliveries again.

Per endpoint, a consumer in its own group (`Names.webhooks_redeliver_group`) reads
`podium.webhooks.dlq` from where its last run stopped up to the topic's current end, and
sends each of the endpoint's dead letters that has a body once more: the same bytes under the
same delivery id (a receiver that saw it already drops it), freshly signed, with the
endpoint's retries. One that fails again is dead-lettered again (at the end of the topic, for
the next run). Dead letters of undecodable facts have nothing to send: they are counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer, TopicPartition
from msgspec.structs import replace

from ingest.webhooks.config import Endpoint, WebhooksConfig
from ingest.webhooks.delivery import Sender, client
from ingest.webhooks.dispatcher import now_ms
from ingest.webhooks.lanes import Delivery, Lanes
from ingest.webhooks.metrics import Metrics
from ingest.webhooks.payloads import Outgoing
from processors.projector import consumer
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

    def __init__(self, config: WebhooksConfig, endpoint: Endpoint, producer: AIOKafkaProducer):
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
        await self.producer.send_and_wait(topic, value, key=key)
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
        names = self.config.names
        cons = consumer(self.config.bootstrap, names.webhooks_redeliver_group(self.endpoint.name))
        tp = TopicPartition(names.webhooks_dlq, 0)  # the topic has one partition
        cons.assign([tp])
        await cons.start()
        try:
            end = (await cons.end_offsets([tp]))[tp]
            while await cons.position(tp) < end:
                batch = await cons.getmany(tp, timeout_ms=500, max_records=1000)
                for rec in batch.get(tp, []):
                    if rec.offset < end:
                        self._take(rec.value)
            await self.lanes.drained()
            if end:
                await cons.commit({tp: end})
        finally:
            await cons.stop()


async def redeliver(
    config: WebhooksConfig, endpoints: Sequence[Endpoint]
) -> dict[str, Redelivered]:
    """Send the dead letters of each endpoint again; what each run did, by endpoint name."""
    producer = AIOKafkaProducer(
        bootstrap_servers=config.bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        return {ep.name: await Redeliverer(config, ep, producer).run() for ep in endpoints}
    finally:
        await producer.stop()
