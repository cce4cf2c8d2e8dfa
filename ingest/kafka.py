"""The gateway's Kafka shell: it writes commands to `podium.events` and reads `podium.progress`.

- `Publisher`: an idempotent producer (acks=all) keyed by user id. `publish` returns only
  once the broker has acknowledged the record; otherwise it raises `Unavailable`, so the
  gateway never answers 2xx for an event that is not durably written. It (re)connects in
  the background and tracks whether the broker answers (`ready`), which /ready reports.
- `ProgressWaiter`: each gateway process reads every partition of `podium.progress` with no
  consumer group, from the end at start, and resolves the futures of the requests it is
  waiting for by event id; records of other processes' requests are skipped unparsed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaError
from aiokafka.protocol.metadata import MetadataRequest

from schemas.commands import Command, InvalidRecord, command_user_id, encode_command
from schemas.records import Progress, decode_record, progress_event_id

log = logging.getLogger("podium.gateway")


PROBE_FAILURES = 3  # consecutive failed probes before the broker counts as unreachable
BATCH_FROM = 16  # from this many commands on, publish_many builds record batches itself


class Unavailable(Exception):
    """The broker did not acknowledge the write in time; nothing may be promised."""


class Publisher:
    def __init__(
        self, bootstrap: str, topic: str, *, timeout_s: float = 5.0, linger_ms: int = 2
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.timeout_s = timeout_s
        self.linger_ms = linger_ms
        self.ready = False
        self._producer: AIOKafkaProducer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name="publisher")

    async def _connect(self) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            enable_idempotence=True,
            acks="all",
            linger_ms=self.linger_ms,
            max_batch_size=256 * 1024,
            request_timeout_ms=int(self.timeout_s * 1000),
            compression_type="lz4",
        )
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        return producer

    async def _supervise(self) -> None:
        """Connect (retrying), then probe the broker every second for /ready."""
        failures = 0
        while True:
            if self._producer is None:
                try:
                    self._producer = await self._connect()
                except (KafkaError, OSError) as exc:
                    log.warning("kafka not reachable at %s: %s", self.bootstrap, exc)
                    self.ready = False
                    await asyncio.sleep(1.0)
                    continue
            try:
                await asyncio.wait_for(self._probe(self._producer), 2.0)
                self.ready, failures = True, 0
            except (KafkaError, OSError, TimeoutError):
                failures += 1  # one slow answer on a busy machine is not an outage
                if failures >= PROBE_FAILURES:
                    self.ready = False
            await asyncio.sleep(1.0)

    async def _probe(self, producer: AIOKafkaProducer) -> None:
        """A metadata request for our topic only (all topics' metadata can be large)."""
        client = producer.client
        node = client.get_random_node()
        if node is None:
            raise KafkaConnectionError("no broker known")
        await client.send(node, MetadataRequest([self.topic]))

    async def publish(self, command: Command) -> None:
        await self.publish_many([command])

    async def publish_many(self, commands: Sequence[Command]) -> None:
        """Write the commands and wait for every acknowledgement (acks=all)."""
        producer = self._producer
        if producer is None or not self.ready:
            raise Unavailable("the event log (Kafka) is not reachable")
        try:
            async with asyncio.timeout(self.timeout_s):
                if len(commands) < BATCH_FROM:
                    futures = [
                        await producer.send(
                            self.topic, encode_command(cmd), key=command_user_id(cmd).encode()
                        )
                        for cmd in commands
                    ]
                else:
                    futures = await self._send_batches(producer, commands)
                await asyncio.gather(*futures)
        except (KafkaError, TimeoutError) as exc:
            raise Unavailable(
                f"the event log (Kafka) did not acknowledge the write: {type(exc).__name__}"
            ) from None

    async def _send_batches(
        self, producer: AIOKafkaProducer, commands: Sequence[Command]
    ) -> list[asyncio.Future[object]]:
        """One record batch per partition (the producer's own partitioner picks it), so a
        large request costs a handful of futures instead of one per event."""
        await producer.client._wait_on_metadata(self.topic)
        batches: dict[int, Any] = {}
        futures: list[asyncio.Future[object]] = []
        for cmd in commands:
            key = command_user_id(cmd).encode()
            partition = producer._partition(self.topic, None, None, None, key, None)
            value = encode_command(cmd)
            batch = batches.get(partition)
            if batch is None or batch.append(timestamp=None, key=key, value=value) is None:
                if batch is not None:  # full: send it, start another
                    futures.append(
                        await producer.send_batch(batch, self.topic, partition=partition)
                    )
                batch = batches[partition] = producer.create_batch()
                if batch.append(timestamp=None, key=key, value=value) is None:
                    raise ValueError(f"a record of {len(value)} bytes exceeds a batch")
        for partition, batch in batches.items():
            futures.append(await producer.send_batch(batch, self.topic, partition=partition))
        return futures

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._producer is not None:
            await self._producer.stop()


class ProgressWaiter:
    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.ready = False
        self._pending: dict[str, asyncio.Future[Progress]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name="progress-waiter")

    def expect(self, event_id: str) -> asyncio.Future[Progress]:
        """A future for the Progress of `event_id`; register before publishing."""
        future: asyncio.Future[Progress] = asyncio.get_running_loop().create_future()
        self._pending[event_id] = future
        return future

    def forget(self, event_id: str) -> None:
        future = self._pending.pop(event_id, None)
        if future is not None and not future.done():
            future.cancel()

    async def _supervise(self) -> None:
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker went away: reconnect from the end
                log.warning("progress consumer stopped (%s); reconnecting", exc)
                self.ready = False
                await asyncio.sleep(1.0)

    async def _consume(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            isolation_level="read_committed",
            fetch_max_wait_ms=100,
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        try:
            await consumer.start()
            partitions = await self._partitions(consumer)
            consumer.assign(partitions)
            await consumer.seek_to_end(*partitions)
            for tp in partitions:  # resolve the end offsets now, before any request waits
                await consumer.position(tp)
            self.ready = True
            while True:
                batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
                if not self._pending:
                    continue
                for records in batches.values():
                    for rec in records:
                        self._resolve(rec.value)
        finally:
            self.ready = False
            try:
                await consumer.stop()
            except asyncio.CancelledError:  # aiokafka 0.14: see processors.projector.stop
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise

    async def _partitions(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        while True:
            parts = consumer.partitions_for_topic(self.topic)
            if parts:
                return [TopicPartition(self.topic, p) for p in sorted(parts)]
            await consumer._client.force_metadata_update()
            await asyncio.sleep(0.5)

    def _resolve(self, raw: bytes | None) -> None:
        if raw is None:
            return
        event_id = progress_event_id(raw)  # cheaper than decoding every other one's record
        if event_id is None:
            return
        future = self._pending.pop(event_id, None)
        if future is None or future.done():
            return
        try:
            record = decode_record(raw)
        except InvalidRecord as exc:
            future.set_exception(exc)
            return
        if isinstance(record, Progress):
            future.set_result(record)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()
