"""One input partition of `podium.events`, owned by this worker: its user states and its own
transactional producer (transactional id from the prefix and the partition number).

Every batch commits in one Kafka transaction: the changed states (`podium.state`, same
partition), the derived records (`podium.progress`, `podium.achievements`, `podium.streaks`,
`podium.points`, same partition: they are keyed by user id and have as many partitions as
the input), the dead letters (`podium.events.dlq`), the score changes (`podium.scores`, each
on its ranking's partition) and the input offset. A new owner's `init_transactions` fences a
stalled former owner and completes its open transaction first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.producer import sender

from processors.runtime import telemetry
from processors.runtime.batch import Effects, KeyValue
from processors.runtime.step import encode_out_record
from processors.runtime.store import StateStore
from schemas.topics import Names

Written = tuple[bytes, bytes | None]  # a record to write; None: a tombstone
MAX_BATCH_BYTES = 1024 * 1024
log = logging.getLogger("podium.worker")


@dataclass(frozen=True)
class ProducerConfig:
    bootstrap: str
    transaction_timeout_ms: int = 10_000
    linger_ms: int = 5
    # How long the producer waits before it retries a request the broker answered with a
    # retriable error (aiokafka's default, 100 ms). See `retry_backoff`.
    retry_backoff_ms: int = 100


def retry_backoff(config: ProducerConfig) -> None:
    """Set how soon a transaction retries after CONCURRENT_TRANSACTIONS.

    The broker writes a committed transaction's markers after answering the commit; a new
    transaction of the same producer that adds a partition meanwhile is answered
    CONCURRENT_TRANSACTIONS (KAFKA-5477), and aiokafka retries after a fixed 20 ms
    (`sender.BACKOFF_OVERRIDE`, or its retry back-off once partitions are added). The worker
    begins its next transaction right after a commit, so under a steady trickle most
    transactions paid that wait. Shorter back-offs shorten a lone transaction, but their gain
    under load is not established (docs/fast-path.md, section 6, has the figures), so the
    default stays aiokafka's (20 ms).
    The constant is the module's: this sets it for every producer of the process."""
    sender.BACKOFF_OVERRIDE = min(config.retry_backoff_ms, 20) / 1000


async def start_producer(config: ProducerConfig, transactional_id: str) -> AIOKafkaProducer:
    """A started transactional producer; starting it fences every older one with this id."""
    retry_backoff(config)
    producer = AIOKafkaProducer(
        bootstrap_servers=config.bootstrap,
        transactional_id=transactional_id,
        transaction_timeout_ms=config.transaction_timeout_ms,
        enable_idempotence=True,
        acks="all",
        linger_ms=config.linger_ms,
        retry_backoff_ms=config.retry_backoff_ms,
        max_batch_size=MAX_BATCH_BYTES,
        max_request_size=4 * MAX_BATCH_BYTES,
    )
    try:
        await producer.start()
    except BaseException:
        await stop_producer(producer, transactional_id)
        raise
    return producer


async def start_producers(
    config: ProducerConfig, transactional_ids: Sequence[str]
) -> list[AIOKafkaProducer]:
    """Started transactional producers, one per id, started concurrently. If any fails to
    start (or this is cancelled), the others are waited for and those that started are
    stopped before the error is raised: a failed take leaves no producer running."""
    tasks = [asyncio.ensure_future(start_producer(config, t)) for t in transactional_ids]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
        for transactional_id, task in zip(transactional_ids, tasks, strict=True):
            if not task.cancelled() and task.exception() is None:
                await stop_producer(task.result(), transactional_id)
        raise


async def stop_producer(producer: AIOKafkaProducer, transactional_id: str) -> None:
    """Stop a producer; a failure is logged and counted, not raised (an open transaction is
    aborted by the broker after its timeout, or by the next owner's init)."""
    try:
        await asyncio.wait_for(producer.stop(), timeout=10)
    except Exception as exc:  # cancellation is not swallowed: it propagates
        telemetry.PRODUCER_STOP_ERRORS.inc()
        what = f"{type(exc).__name__}: {exc}"
        log.warning("producer %s did not stop cleanly: %s", transactional_id, what)


class OwnedPartition:
    """State and producer of one owned input partition."""

    def __init__(
        self,
        names: Names,
        partition: int,
        producer: AIOKafkaProducer,
        store: StateStore,
        *,
        input_topic: str | None = None,
        transactional_id: str | None = None,
    ) -> None:
        """`input_topic` and `transactional_id` default to the worker's (`podium.events`);
        the ranking stage owns `podium.scores` partitions with its own ids."""
        self.names = names
        self.partition = partition
        self.tp = TopicPartition(input_topic or names.events, partition)
        self.transactional_id = transactional_id or names.transactional_id(partition)
        self.producer = producer
        self.store = store
        self.position = 0  # the next input offset to apply (committed offsets so far)

    async def commit(self, effects: Effects, group_id: str) -> None:
        """Publish a batch's effects and its input offset in one transaction."""
        names = self.names
        by_topic = {names.state: effects.encoded_states}
        by_topic.update((names.of(topic), kvs) for topic, kvs in effects.derived.items())
        dead = [encode_out_record(d) for d in effects.dead]
        routed = {(names.scores, p): items for p, items in effects.scores.items()}
        await self.transact(by_topic, effects.next_offset, group_id, dead, routed)

    async def transact(
        self,
        by_topic: Mapping[str, Sequence[Written]],
        next_offset: int,
        group_id: str,
        dead: Sequence[bytes] = (),
        routed: Mapping[tuple[str, int], Sequence[KeyValue]] | None = None,
    ) -> None:
        """One transaction: records to this partition of each topic, records `routed` to a
        (topic, partition) of their own, dead letters, and the input offset `next_offset`
        committed for `group_id`."""
        await self.producer.begin_transaction()
        futures: list[asyncio.Future[object]] = []
        for topic, items in by_topic.items():
            futures += await self._send(topic, items)
        for (topic, partition), routed_items in (routed or {}).items():
            futures += await self._send(topic, routed_items, partition)
        for value in dead:
            futures.append(await self.producer.send(self.names.dlq, value, key=None))
        if futures:
            await asyncio.gather(*futures)
        await self.producer.send_offsets_to_transaction({self.tp: next_offset}, group_id)
        await self.producer.commit_transaction()

    async def _send(
        self, topic: str, items: Sequence[Written], partition: int | None = None
    ) -> list[asyncio.Future[object]]:
        futures: list[asyncio.Future[object]] = []
        if not items:
            return futures
        partition = self.partition if partition is None else partition
        batch = self.producer.create_batch()
        for key, value in items:
            if batch.append(key=key, value=value, timestamp=None) is None:
                futures.append(await self.producer.send_batch(batch, topic, partition=partition))
                batch = self.producer.create_batch()
                if batch.append(key=key, value=value, timestamp=None) is None:
                    # batch.fold_batch dead-letters what would not fit: this is a bug
                    raise ValueError(f"a record for {topic} is larger than {MAX_BATCH_BYTES} bytes")
        futures.append(await self.producer.send_batch(batch, topic, partition=partition))
        return futures

    async def close(self) -> None:
        """Stop the producer (an open transaction is aborted by the broker or the next owner)."""
        await stop_producer(self.producer, self.transactional_id)
