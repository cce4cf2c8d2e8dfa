"""The asyncio side of the Kafka adapter (`processors.runtime.kafka` builds the clients).

- `AsyncProducer`: librdkafka fires delivery callbacks inside `poll()`; a thread per producer
  polls and hands each result to the loop with `call_soon_threadsafe`, so `send` returns an
  asyncio future of one record's delivery and `send_all` one future for many records (a
  single wake-up of the loop when the last is in). Measured against confluent-kafka's own
  `confluent_kafka.aio.AIOProducer` under the gateway's publish (tests/bench/bench_kafka.py,
  docs/fast-path.md); that one also refuses headers, which the gateway's answers need.
- `AsyncConsumer`: a consumer whose blocking calls run one at a time on a thread of its own.
- `read_range_async`: `kafka.read_range` for asyncio code.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from processors.runtime.kafka import (
    READ_BATCH,
    READ_WAIT_S,
    Config,
    Range,
    Record,
    consumer_config,
    dotted,
    end_offsets,
    is_record,
    range_reader,
    record_of,
)

T = TypeVar("T")
Headers = Sequence[tuple[str, bytes]]


def _listed(headers: Headers | None) -> list[tuple[str, str | bytes | None]] | None:
    return list(headers) if headers else None


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
            self.client.produce(topic, value, key, on_delivery=settle, headers=_listed(headers))
        else:
            self.client.produce(
                topic, value, key, partition, on_delivery=settle, headers=_listed(headers)
            )
        return future

    def send_all(
        self, topic: str, records: Sequence[tuple[bytes, bytes]], headers: Headers | None = None
    ) -> asyncio.Future[int]:
        """Hand keyed records over (the producer's partitioner places them); one future for
        all: their count once every delivery is in, or the first failure's `KafkaException`
        once every delivery is in. `BufferError` / `KafkaException` when librdkafka refuses
        record i at once: records before i are handed over and still counted."""
        future: asyncio.Future[int] = self._loop.create_future()
        if not records:
            future.set_result(0)
            return future
        batch = _Batch(self._loop, future, len(records))
        produce = self.client.produce
        listed = _listed(headers)
        handed = 0
        try:
            for key, value in records:
                produce(topic, value, key, on_delivery=batch.delivered, headers=listed)
                handed += 1
        except BaseException:
            batch.drop(len(records) - handed)
            raise
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
        self._running = False  # one thread serves the callbacks at a time: flush's, after it
        await asyncio.to_thread(self._poller.join)
        await self.flush(within_s)
        self.client.purge()
        await asyncio.to_thread(self.client.flush, 1.0)


def _settle(future: asyncio.Future[Delivered], err: KafkaError | None, msg: Message) -> None:
    if future.done():
        return
    if err is not None:
        future.set_exception(KafkaException(err))
    else:
        future.set_result(Delivered(msg.partition() or 0, msg.offset() or 0))


class _Batch:
    """The deliveries of one `send_all`, counted down in the poll thread."""

    __slots__ = ("error", "future", "left", "lock", "loop", "total")

    def __init__(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[int], n: int):
        self.loop = loop
        self.future = future
        self.total = self.left = n
        self.error: KafkaError | None = None
        self.lock = threading.Lock()

    def delivered(self, err: KafkaError | None, _msg: Message) -> None:
        with self.lock:
            if err is not None and self.error is None:
                self.error = err
            self.left -= 1
            done = self.left == 0
        if done:
            self._finish()

    def drop(self, never_handed: int) -> None:
        """Records that librdkafka refused at once: none of them will be delivered."""
        with self.lock:
            self.total -= never_handed
            self.left -= never_handed
            done = self.left == 0 and self.total > 0
        if done:
            self._finish()

    def _finish(self) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            self.loop.call_soon_threadsafe(_settle_all, self.future, self.error, self.total)


def _settle_all(future: asyncio.Future[int], err: KafkaError | None, count: int) -> None:
    if future.done():
        return
    if err is not None:
        future.set_exception(KafkaException(err))
    else:
        future.set_result(count)


class AsyncConsumer:
    """A consumer for asyncio code: its blocking calls run one at a time on a thread of its
    own, so `close` never races a `consume` still waiting for records."""

    def __init__(self, config: Config) -> None:
        self.client = Consumer(config)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="kafka-consumer")

    async def run(self, call: Callable[..., T], *args: Any) -> T:
        """`call(*args)` on the consumer's thread (after whatever runs there now)."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, call, *args)

    def subscribe(self, topics: list[str]) -> None:
        self.client.subscribe(topics)

    def assignment(self) -> list[TopicPartition]:
        return self.client.assignment()

    async def consume(self, max_records: int, within_s: float) -> list[Message]:
        return await self.run(self.client.consume, max_records, within_s)

    async def records(self, max_records: int, within_s: float) -> list[Record]:
        """The records among the next messages (`is_record`)."""
        messages = await self.consume(max_records, within_s)
        return [record_of(m) for m in messages if is_record(m)]

    async def commit(self) -> None:
        """Commit, and wait for, the offsets after every record `consume` returned."""
        await self.run(functools.partial(self.client.commit, asynchronous=False))

    async def close(self) -> None:
        """Leave the group (if any) and close, after the call under way; safe to cancel."""
        closing = asyncio.get_running_loop().run_in_executor(self._thread, self.client.close)
        try:
            await asyncio.shield(closing)
        finally:
            self._thread.shutdown(wait=False)


def async_consumer(bootstrap: str, group: str | None = None, **overrides: Any) -> AsyncConsumer:
    """An `AsyncConsumer` (see `consumer_config`; `overrides` as for `consumer`)."""
    return AsyncConsumer(consumer_config(bootstrap, group) | dotted(overrides))


async def read_range_async(
    bootstrap: str,
    topic: str,
    partitions: Collection[int],
    start: Mapping[int, int] | None = None,
    *,
    ends: Mapping[int, int] | None = None,
    committed: bool = True,
) -> AsyncIterator[list[Record]]:
    """`read_range` for asyncio code: the blocking calls run in a worker thread."""
    if ends is None:
        ends = await asyncio.to_thread(
            end_offsets, bootstrap, topic, partitions, committed=committed
        )
    span = Range(topic, ends, start or {})
    if not span.todo:
        return
    reader = range_reader(bootstrap, committed)
    try:
        reader.assign(span.assignment)
        while span.todo:
            messages = await asyncio.to_thread(reader.consume, READ_BATCH, READ_WAIT_S)
            batch = span.take(reader, messages)
            if batch:
                yield batch
    finally:
        await asyncio.to_thread(reader.close)
