"""Podium's one Kafka client: confluent-kafka (librdkafka), built here and nowhere else.

- `consumer_config` / `producer_config` and the `consumer`, `producer`, `admin` constructors:
  every client of the project starts from `base_config` (client id, timeouts, librdkafka's log
  routed to Python's `logging`); producers are idempotent with acks=all, consumers read
  read_committed and never auto-commit.
- `count_partitions`, `wait_for_topic`: how many partitions a topic has (waiting until it
  exists, when asked to).
- `end_offsets`: each partition's end, the last stable offset (read_committed) or the high
  watermark.
- `read_range` / `read_range_async`: partitions P of topic T from the beginning (or from given
  offsets) up to the end offsets taken when the read starts, read_committed, in batches of
  `Record`s: what a restore, replay and the tests need. It ends even while others write.
- `AsyncProducer`: a producer for asyncio code. librdkafka fires delivery callbacks inside
  `poll()`; a thread per producer polls and hands each result to the loop with
  `call_soon_threadsafe`, so `send` returns an asyncio future of the record's delivery
  (measured against `confluent_kafka.aio.AIOProducer`: docs/fast-path.md).

A `Record` has attributes (`offset`, `key`, `value`, ...) where confluent's `Message` has
methods, so it fits `processors.runtime.step.RawRecord` and `schemas.views.Positioned`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Collection, Iterator, Mapping
from typing import Any, NamedTuple

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    IsolationLevel,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, OffsetSpec

log = logging.getLogger("podium.kafka")

Config = dict[str, Any]
Headers = list[tuple[str, str | bytes | None]]

FETCH_BYTES = 16 * 1024 * 1024  # per partition and fetch: a range read takes big bites
READ_BATCH = 20_000  # records per consume() call of a range read
SETTLING = frozenset(  # answers while a topic's leadership settles (a topic just created)
    {
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError._TRANSPORT,
        KafkaError._TIMED_OUT,
    }
)


class TopicMissing(Exception):
    """The topic does not exist (or has no partitions yet)."""


class Record(NamedTuple):
    """A consumed record, with attributes."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] | None
    timestamp: int  # ms since the epoch (the record's CreateTime or LogAppendTime)


def record_of(msg: Message) -> Record:
    """The `Record` of a message that carries no error."""
    headers = msg.headers()
    return Record(
        msg.topic() or "",
        msg.partition() or 0,
        msg.offset() or 0,
        msg.key(),
        msg.value(),
        headers if headers else None,  # type: ignore[arg-type]  # values are bytes (or None)
        msg.timestamp()[1],
    )


def base_config(bootstrap: str, client_id: str = "podium") -> Config:
    """What every client shares: where the brokers are, who asks, how long to wait."""
    return {
        "bootstrap.servers": bootstrap,
        "client.id": client_id,
        "socket.connection.setup.timeout.ms": 10_000,
        "reconnect.backoff.max.ms": 1_000,  # a broker back after a restart is found in 1 s
        "logger": log,
    }


def consumer_config(
    bootstrap: str, group: str | None = None, *, client_id: str = "podium"
) -> Config:
    """read_committed, no auto-commit, from the earliest offset when nothing is committed.
    Without a group the consumer only `assign`s (librdkafka wants some group id)."""
    return base_config(bootstrap, client_id) | {
        "group.id": group or f"{client_id}.unjoined",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "isolation.level": "read_committed",
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 10_000,
        "fetch.wait.max.ms": 100,
    }


def producer_config(
    bootstrap: str,
    *,
    client_id: str = "podium",
    transactional_id: str | None = None,
    linger_ms: float = 2,
    delivery_timeout_s: float = 30.0,
) -> Config:
    """Idempotent, acks=all, lz4; a delivery is reported failed after `delivery_timeout_s`."""
    config = base_config(bootstrap, client_id) | {
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": linger_ms,
        "compression.type": "lz4",
        "message.timeout.ms": int(delivery_timeout_s * 1000),
        "request.timeout.ms": min(30_000, int(delivery_timeout_s * 1000)),
    }
    if transactional_id is not None:
        config["transactional.id"] = transactional_id
    return config


def consumer(bootstrap: str, group: str | None = None, **overrides: Any) -> Consumer:
    """A consumer (see `consumer_config`); `overrides` are librdkafka settings with `_` for `.`."""
    return Consumer(consumer_config(bootstrap, group) | _dotted(overrides))


def producer(bootstrap: str, **overrides: Any) -> Producer:
    """A producer (see `producer_config`); `overrides` as for `consumer`."""
    return Producer(producer_config(bootstrap) | _dotted(overrides))


def admin(bootstrap: str) -> AdminClient:
    return AdminClient(base_config(bootstrap))


def _dotted(overrides: Mapping[str, Any]) -> Config:
    return {k.replace("_", "."): v for k, v in overrides.items()}


def count_partitions(
    client: AdminClient | Consumer | Producer, topic: str, timeout: float = 10
) -> int:
    """How many partitions `topic` has; `TopicMissing` when it does not exist."""
    meta = client.list_topics(topic, timeout=timeout).topics.get(topic)
    if meta is None or meta.error is not None or not meta.partitions:
        raise TopicMissing(f"topic {topic} does not exist")
    return len(meta.partitions)


async def wait_for_topic(bootstrap: str, topic: str, within: float = 30.0) -> int:
    """The number of partitions of `topic`, once it exists (`TopicMissing` after `within` s)."""
    client = admin(bootstrap)
    deadline = time.monotonic() + within
    while True:
        try:
            return await asyncio.to_thread(count_partitions, client, topic, 5.0)
        except (TopicMissing, KafkaException):
            if time.monotonic() > deadline:
                raise TopicMissing(f"topic {topic} did not appear within {within:g} s") from None
        await asyncio.sleep(0.2)


def end_offsets(
    bootstrap: str,
    topic: str,
    partitions: Collection[int],
    *,
    committed: bool = True,
    within: float = 30.0,
) -> dict[int, int]:
    """{partition: end}: the last stable offset (`committed`, what read_committed reads up to)
    or the high watermark; retried while the topic's leadership settles."""
    if not partitions:
        return {}
    client = admin(bootstrap)
    asked = {TopicPartition(topic, p): OffsetSpec.latest() for p in partitions}
    level = IsolationLevel.READ_COMMITTED if committed else IsolationLevel.READ_UNCOMMITTED
    deadline = time.monotonic() + within
    while True:
        futures = client.list_offsets(asked, isolation_level=level, request_timeout=10)
        try:
            return {tp.partition: fut.result().offset for tp, fut in futures.items()}
        except KafkaException as exc:
            err: KafkaError = exc.args[0]
            if not (err.retriable() or err.code() in SETTLING) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class _Range:
    """The bookkeeping of one range read: what is left to read and up to where."""

    def __init__(self, topic: str, ends: Mapping[int, int], start: Mapping[int, int]) -> None:
        self.topic = topic
        self.ends = dict(ends)
        self.todo = {p for p, end in ends.items() if start.get(p, 0) < end}
        self.assignment = [
            TopicPartition(topic, p, start.get(p, OFFSET_BEGINNING)) for p in sorted(self.todo)
        ]

    def take(self, reader: Consumer, messages: list[Message]) -> list[Record]:
        """The records of `messages` below their partition's end; marks partitions done."""
        out: list[Record] = []
        for msg in messages:
            p = msg.partition() or 0
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    self.todo.discard(p)
                    continue
                raise KafkaException(err)
            if (msg.offset() or 0) >= self.ends[p]:
                self.todo.discard(p)  # written after the read started
                continue
            out.append(record_of(msg))
        # transaction markers take offsets too: compare positions, not record offsets
        if self.todo:
            positions = reader.position([TopicPartition(self.topic, p) for p in self.todo])
            for tp in positions:
                if tp.offset >= self.ends[tp.partition]:
                    self.todo.discard(tp.partition)
        return out


def _range_reader(bootstrap: str, committed: bool) -> Consumer:
    return consumer(
        bootstrap,
        enable_partition_eof=True,
        isolation_level="read_committed" if committed else "read_uncommitted",
        max_partition_fetch_bytes=FETCH_BYTES,
        fetch_max_bytes=4 * FETCH_BYTES,
    )


def read_range(
    bootstrap: str,
    topic: str,
    partitions: Collection[int],
    start: Mapping[int, int] | None = None,
    *,
    committed: bool = True,
) -> Iterator[list[Record]]:
    """Batches of the records of `partitions` of `topic` from `start` (default: the beginning)
    up to the end offsets taken now (`end_offsets`), in each partition's order."""
    span = _Range(
        topic, end_offsets(bootstrap, topic, partitions, committed=committed), start or {}
    )
    if not span.todo:
        return
    reader = _range_reader(bootstrap, committed)
    try:
        reader.assign(span.assignment)
        while span.todo:
            batch = span.take(reader, reader.consume(READ_BATCH, timeout=0.5))
            if batch:
                yield batch
    finally:
        reader.close()


async def read_range_async(
    bootstrap: str,
    topic: str,
    partitions: Collection[int],
    start: Mapping[int, int] | None = None,
    *,
    committed: bool = True,
) -> AsyncIterator[list[Record]]:
    """`read_range` for asyncio code: the blocking calls run in a worker thread."""
    ends = await asyncio.to_thread(end_offsets, bootstrap, topic, partitions, committed=committed)
    span = _Range(topic, ends, start or {})
    if not span.todo:
        return
    reader = _range_reader(bootstrap, committed)
    try:
        reader.assign(span.assignment)
        while span.todo:
            messages = await asyncio.to_thread(reader.consume, READ_BATCH, 0.5)
            batch = span.take(reader, messages)
            if batch:
                yield batch
    finally:
        await asyncio.to_thread(reader.close)


class Delivered(NamedTuple):
    """Where the broker wrote a record."""

    partition: int
    offset: int


class AsyncProducer:
    """A producer for asyncio code: `send` hands a record to librdkafka and returns a future of
    its delivery; a thread polls the producer and settles the futures on their loop."""

    def __init__(self, config: Config) -> None:
        self.client = Producer(config)
        self._loop = asyncio.get_running_loop()
        self._running = True
        self._errors: list[KafkaError] = []
        self._poller = threading.Thread(target=self._poll, name="kafka-producer-poll", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while self._running:
            self.client.poll(0.05)

    def send(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        *,
        partition: int | None = None,
        headers: Headers | None = None,
    ) -> asyncio.Future[Delivered]:
        """Hand one record over (`BufferError` when librdkafka's queue is full,
        `KafkaException` when it refuses the record); the future fails with a
        `KafkaException` when the delivery does."""
        future: asyncio.Future[Delivered] = self._loop.create_future()
        settle = self._settler(future)
        if partition is None:
            self.client.produce(topic, value, key, on_delivery=settle, headers=headers)
        else:
            self.client.produce(topic, value, key, partition, on_delivery=settle, headers=headers)
        return future

    def _settler(self, future: asyncio.Future[Delivered]) -> Any:
        loop = self._loop

        def delivered(err: KafkaError | None, msg: Message) -> None:
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_settle, future, err, msg)

        return delivered

    async def flush(self, within_s: float = 10.0) -> int:
        """Wait until every record handed over is delivered or failed; how many are left."""
        return await asyncio.to_thread(self.client.flush, within_s)

    async def close(self, within_s: float = 5.0) -> None:
        """Deliver what is queued (within `within_s`), fail the rest, stop the poll thread."""
        try:
            await self.flush(within_s)
            self.client.purge()
            await asyncio.to_thread(self.client.poll, 0)
        finally:
            self._running = False
            await asyncio.to_thread(self._poller.join)


def _settle(future: asyncio.Future[Delivered], err: KafkaError | None, msg: Message) -> None:
    if future.done():
        return
    if err is not None:
        future.set_exception(KafkaException(err))
    else:
        future.set_result(Delivered(msg.partition() or 0, msg.offset() or 0))
