"""`podium webhooks`: the dispatcher. Per endpoint, a consumer in its own group
(`Names.webhooks_group`, read_committed) reads the fact topics (`schemas.topics.WEBHOOK_FACTS`),
turns each fact into Trophy's webhooks (`ingest.webhooks.payloads`), queues the endpoint's
deliveries in its lanes (`ingest.webhooks.lanes`) and commits, about five times a second, only
offsets whose deliveries all ended: delivered, or written to `podium.webhooks.dlq` after the
last retry. A crash, a rebalance or a restart sends the open ones again, with the same
delivery ids.

One consumer per endpoint: a dead endpoint holds back only its own offsets. Its lanes hold
at most `max_pending` deliveries: beyond that its partitions pause until they drain.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition
from redis.asyncio import Redis
from redis.exceptions import RedisError

from ingest.http.answers import User
from ingest.webhooks.config import Endpoint, WebhooksConfig
from ingest.webhooks.delivery import Sender, Users, client
from ingest.webhooks.lanes import Delivery, Lanes, Ledger, Partition
from ingest.webhooks.metrics import OLDEST_PENDING, Metrics
from ingest.webhooks.payloads import Fact, Outgoing, fact_time, webhooks_of
from processors.runtime.health import Pulse
from processors.runtime.kafka import consumer, producer_config, record_of
from processors.runtime.kafka_async import AsyncProducer
from processors.runtime.ops_server import operated
from schemas.commands import InvalidRecord
from schemas.rules import Rules
from schemas.topics import WEBHOOK_FACTS, WEBHOOKS_DLQ, Topic
from schemas.views import Keys
from schemas.webhooks import WebhookDeadLetter, delivery_id

log = logging.getLogger("podium.webhooks")
COMMIT_INTERVAL_S = 0.2
POLL_S = 0.05  # nothing fetched: look again after this
RETRY_S = 1.0  # Redis did not answer: look the users up again after this
RESUME_BELOW = 0.8  # of max_pending: paused partitions resume once the lanes drain to this


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class EndpointLoop:
    """One endpoint's consumer, lanes and ledger."""

    def __init__(
        self,
        config: WebhooksConfig,
        endpoint: Endpoint,
        rules: Rules,
        users: Users,
        producer: AsyncProducer,
    ) -> None:
        self.config, self.endpoint, self.rules = config, endpoint, rules
        self.users, self.producer = users, producer
        self.topics: dict[str, Topic] = {config.names.of(t): t for t in WEBHOOK_FACTS}
        self.ledger = Ledger()
        self.committed: dict[Partition, int] = {}
        self.paused = False
        self.group = config.names.webhooks_group(endpoint.name)
        self.cons: Consumer = consumer(config.bootstrap, self.group)
        # what the probes and the lag sampler see of this loop, per fact topic
        self.pulses: dict[str, Pulse] = {topic: Pulse() for topic in self.topics}

    async def run(self, stop: asyncio.Event) -> None:
        http = client(self.config.retry)
        sender = Sender(self.endpoint, self.config.retry, http)
        self.lanes = Lanes(
            sender.attempt,
            self.dead_letter,
            self.settle,
            self.config.retry,
            self.config.concurrency,
            Metrics(),
        )
        self.cons.subscribe(list(self.topics), on_assign=self._assigned, on_revoke=self._revoked)
        try:
            await self._loop(stop)
        finally:
            await self.lanes.close()
            self.cons.close()
            await http.aclose()

    async def _loop(self, stop: asyncio.Event) -> None:
        committed_at = time.monotonic()
        while not stop.is_set():
            self._throttle()
            # consume on the loop's thread, without blocking: the rebalance callbacks then run
            # here too, between the lanes' steps (the ledger has one thread)
            messages = self.cons.consume(500, 0)
            for pulse in self.pulses.values():
                pulse.polled()
            if not messages:
                await asyncio.sleep(POLL_S)
            for part, recs in _by_partition(messages).items():
                await self.take(part, recs)
            if time.monotonic() - committed_at >= COMMIT_INTERVAL_S:
                await self.commit()
                committed_at = time.monotonic()
        await self.commit()

    def _throttle(self) -> None:
        """Pause every assigned partition at `max_pending`; resume below `RESUME_BELOW` of it."""
        bound = self.config.max_pending
        if not self.paused and self.lanes.pending >= bound:
            self.cons.pause(self.cons.assignment())
            self.paused = True
        elif self.paused and self.lanes.pending < bound * RESUME_BELOW:
            self.cons.resume(self.cons.assignment())
            self.paused = False

    async def take(self, part: Partition, recs: Sequence[object]) -> None:
        """Queue the deliveries of one partition's records, in offset order. A record that
        does not decode, or whose webhooks cannot be built (a bug), is dead-lettered without
        a body: the partition goes on."""
        topic = self.topics[part[0]]
        decoded: list[tuple[int, bytes, Fact | None]] = []
        for rec in recs:
            offset, value = rec.offset, rec.value or b""  # type: ignore[attr-defined]
            try:
                decoded.append((offset, value, topic.value.decode(value)))
            except InvalidRecord as exc:
                await self._dead_record(part, offset, value, exc.reason)
                decoded.append((offset, value, None))
        facts = [f for _, _, f in decoded if f is not None]
        users = iter(await self._users([(f.user_id, fact_time(f)) for f in facts]))
        queued = time.monotonic()
        for offset, value, fact in decoded:
            hooks = [] if fact is None else await self._hooks(part, offset, value, fact, users)
            self.ledger.add(part, offset, len(hooks))
            for hook in hooks:
                did = delivery_id(self.endpoint.name, hook.fact_id, hook.type)
                self.lanes.submit(Delivery(did, part, offset, hook, queued))

    async def _hooks(
        self, part: Partition, offset: int, value: bytes, fact: Fact, users: Iterator[User]
    ) -> list[Outgoing]:
        """The fact's webhooks this endpoint takes."""
        user = next(users)
        try:
            made = webhooks_of(fact, self.rules, user)
        except Exception as exc:  # a bug in a payload: kept with its record, not a stop
            log.exception("no webhook could be built of the fact at %s/%d", part, offset)
            await self._dead_record(part, offset, value, f"payload: {exc!r}")
            return []
        return [h for h in made if self.endpoint.takes(h.type, h.backfilled)]

    async def _users(self, facts: list[tuple[str, int]]) -> list[User]:
        """The facts' users; while Redis does not answer, wait (the consumer stops reading:
        nothing is lost, and no webhook goes out without its user's profile)."""
        while True:
            try:
                return await self.users.of(facts)
            except RedisError as exc:
                log.warning("the views do not answer (%s): retrying in %.0f s", exc, RETRY_S)
                await asyncio.sleep(RETRY_S)

    async def _dead_record(self, part: Partition, offset: int, value: bytes, reason: str) -> None:
        log.warning("dead-lettering the fact record at %s/%d: %s", part, offset, reason)
        dead = WebhookDeadLetter.undecodable(
            self.endpoint.name, reason, part[0], part[1], offset, value, now_ms()
        )
        await self._write(dead)

    async def dead_letter(self, delivery: Delivery, reason: str, attempts: int) -> None:
        hook = delivery.hook
        log.warning("webhook %s to %s dead-lettered: %s", delivery.id, self.endpoint.name, reason)
        await self._write(
            WebhookDeadLetter(
                id=delivery.id,
                endpoint=self.endpoint.name,
                reason=reason,
                topic=delivery.part[0],
                partition=delivery.part[1],
                offset=delivery.offset,
                time_ms=now_ms(),
                attempts=attempts,
                webhook_type=hook.type,
                user_id=hook.user_id,
                fact_id=hook.fact_id,
                body=hook.body.decode(),
                backfilled=hook.backfilled,
            )
        )

    async def _write(self, dead: WebhookDeadLetter) -> None:
        topic = self.config.names.webhooks_dlq
        key, value = WEBHOOKS_DLQ.key.encode(dead.id), WEBHOOKS_DLQ.value.encode(dead)
        await self.producer.send(topic, value, key)

    def settle(self, delivery: Delivery) -> None:
        self.ledger.settle(delivery.part, delivery.offset)

    async def commit(self) -> None:
        """Commit what advanced since the last commit (the broker's answer awaited in a
        thread: the lanes go on meanwhile)."""
        offsets = self._advanced()
        if not offsets:
            return
        try:
            await asyncio.to_thread(self.cons.commit, offsets=offsets, asynchronous=False)
        except KafkaException as exc:  # a rebalance under way: the next commit covers these
            log.warning("commit failed (%s): the next one retries", exc)
            return
        self.committed.update({(tp.topic, tp.partition): tp.offset for tp in offsets})

    def _advanced(self, parts: Sequence[Partition] | None = None) -> list[TopicPartition]:
        ready = self.ledger.committable()
        return [
            TopicPartition(part[0], part[1], offset)
            for part, offset in ready.items()
            if (parts is None or part in parts) and self.committed.get(part) != offset
        ]

    def _revoked(self, cons: Consumer, revoked: list[TopicPartition]) -> None:
        """On a rebalance, commit what ended of the partitions going, then forget them (their
        open deliveries go on: the new owner may send them again, under the same ids)."""
        parts = [(tp.topic, tp.partition) for tp in revoked]
        offsets = self._advanced(parts)
        if offsets:
            try:
                cons.commit(offsets=offsets, asynchronous=False)
            except KafkaException as exc:
                log.warning("commit on revocation failed (%s): they are sent again", exc)
        self.ledger.drop(parts)
        for part in parts:
            self.committed.pop(part, None)
        self._owned({(tp.topic, tp.partition) for tp in cons.assignment()} - set(parts))

    def _assigned(self, cons: Consumer, assigned: list[TopicPartition]) -> None:
        if self.paused and assigned:
            cons.pause(assigned)
        self._owned({(tp.topic, tp.partition) for tp in (*cons.assignment(), *assigned)})

    def _owned(self, parts: set[Partition]) -> None:
        for topic, pulse in self.pulses.items():
            pulse.owned = sorted(p for t, p in parts if t == topic)


def _by_partition(messages: list[Message]) -> dict[Partition, list[Any]]:
    """The messages' records by partition, in offset order; a consumer error is logged (the
    consumer recovers by itself: librdkafka retries)."""
    out: dict[Partition, list[Any]] = {}
    for msg in messages:
        err = msg.error()
        if err is not None:
            log.warning("consumer error: %s", err)
            continue
        rec = record_of(msg)
        out.setdefault((rec.topic, rec.partition), []).append(rec)
    return out


async def _gauge(loops: Sequence[EndpointLoop], stop: asyncio.Event) -> None:
    while not stop.is_set():
        now = time.monotonic()
        ages = [lp.lanes.oldest_pending_s(now) for lp in loops if hasattr(lp, "lanes")]
        OLDEST_PENDING.set(max(ages, default=0.0))
        await asyncio.sleep(1.0)


async def run_webhooks(
    config: WebhooksConfig, rules: Rules, stop: asyncio.Event | None = None
) -> None:
    """Deliver to every configured endpoint until `stop` is set (or forever)."""
    stop = stop or asyncio.Event()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request
    redis = Redis.from_url(config.redis_url)
    producer = AsyncProducer(producer_config(config.bootstrap, client_id="podium-webhooks"))
    users = Users(redis, Keys(config.views_prefix))
    loops = [EndpointLoop(config, ep, rules, users, producer) for ep in config.endpoints]
    try:
        async with operated(config.ops, "webhooks", config.bootstrap) as ops:
            for lp in loops:
                for topic, pulse in lp.pulses.items():
                    ops.watch(lp.group, topic, pulse)
            await asyncio.gather(_gauge(loops, stop), *(lp.run(stop) for lp in loops))
    finally:
        await producer.close()
        await redis.aclose()
