"""The gateway's Kafka shell: it writes commands to `podium.events` and reads
`podium.leaderboards` for ranks; the answers to its events are pushed to it (`ingest.answers`).

- `Publisher`: an idempotent producer (acks=all) keyed by user id. `publish` returns only
  once the broker has acknowledged the record, so the gateway never answers 2xx for an event
  that is not durably written. A failure says which of two things happened: `Unavailable`
  (nothing was handed to the producer: the event is certainly not recorded) or `Unconfirmed`
  (handed over, no acknowledgement: it may be in the log, or land later, since an
  idempotent producer keeps retrying). It (re)connects in the background, tracks whether the
  broker answers (`ready`, which /ready reports) and replaces its producer when the producer
  can no longer write: after a broker restart aiokafka's idempotent producer may be answered
  OUT_OF_ORDER_SEQUENCE_NUMBER or UNKNOWN_PRODUCER_ID on every partition; aiokafka 0.14 fails
  the batch but keeps the advanced sequence numbers, so every later batch fails the same way
  until a new producer (a new producer id) starts again from sequence 0.
- `ProgressWaiter`: resolves the futures of the requests a gateway process waits for by
  event id, with the answers the workers push to it (`ingest.answers`): the `Progress`, or
  `NotApplied` for an `EventRefused` (the worker dead-lettered the command); it reads
  nothing of `podium.progress`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import (
    BrokerResponseError,
    InvalidProducerEpoch,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    UnknownProducerId,
)
from aiokafka.protocol.metadata import MetadataRequest

from ingest import telemetry
from schemas.commands import Command, InvalidRecord, command_user_id, encode_command
from schemas.leaderboards import RankChanged, decode_leaderboard_record
from schemas.records import EventRefused, Progress, decode_record, progress_event_id

log = logging.getLogger("podium.gateway")


PROBE_FAILURES = 3  # consecutive failed probes before the broker counts as unreachable
BATCH_FROM = 16  # from this many commands on, publish_many builds record batches itself
STOP_WITHIN_S = 5.0  # how long a replaced producer may take to close
CONNECT_WITHIN_S = 15.0  # how long a new producer may take to start (metadata, producer id)
# Errors after which a producer never writes again (its producer id or sequences are stale).
PRODUCER_BROKEN = (
    OutOfOrderSequenceNumber,
    UnknownProducerId,
    InvalidProducerEpoch,
    ProducerFenced,
)


MAX_RECORD_BYTES = 1_000_000
"""The most one command's record (key and value) may take. The broker refuses a batch over
its `message.max.bytes` (1,048,588 by default) and aiokafka one over `max_request_size`
(1,048,576); such a refusal must never happen to the shared producer, since aiokafka's
idempotent producer keeps the sequence numbers of a failed batch and every later batch then
fails too. So a larger record is refused before it is handed over (`TooLarge`). Batches of
several records stay under `max_batch_size` (256 kB); a record over it travels alone."""


class Unavailable(Exception):
    """Nothing was handed to the broker: the event is certainly not recorded."""


class NotApplied(Exception):
    """The worker dead-lettered the command instead of folding it (`EventRefused`)."""

    def __init__(self, refused: EventRefused) -> None:
        super().__init__(refused.reason)
        self.refused = refused


class TooLarge(Exception):
    """A command's record is over `MAX_RECORD_BYTES`: nothing was handed to the broker."""


class Unconfirmed(Exception):
    """The write was sent but not acknowledged: it may or may not be in the log."""


def describe(exc: BaseException, timeout_s: float) -> str:
    """What went wrong, in the operator's terms (no exception class names)."""
    if isinstance(exc, TimeoutError | KafkaTimeoutError):
        return f"did not acknowledge the write within {timeout_s:g} s"
    if isinstance(exc, PRODUCER_BROKEN):
        return "rejected the write's sequence (the broker restarted); the gateway reconnects"
    if isinstance(exc, KafkaConnectionError):
        return "closed the connection before acknowledging the write"
    if isinstance(exc, BrokerResponseError):
        return f"refused the write ({exc.message.lower().replace('_', ' ')})"
    return "failed to acknowledge the write"


def breaks_producer(exc: BaseException) -> bool:
    """Whether the producer that raised `exc` must be replaced before it can write again."""
    if isinstance(exc, PRODUCER_BROKEN):
        return True
    return isinstance(exc, BrokerResponseError) and not exc.retriable


class Publisher:
    def __init__(
        self,
        bootstrap: str,
        topic: str,
        *,
        timeout_s: float = 5.0,
        linger_ms: int = 2,
        max_record_bytes: int = MAX_RECORD_BYTES,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.max_record_bytes = max_record_bytes
        self.timeout_s = timeout_s
        self.linger_ms = linger_ms
        self.ready = False
        self.replaced = 0  # producers replaced since start (a broker restart shows here)
        # the header naming this gateway's answer listener (`schemas.answers`), set once it
        # listens: each record of fewer than BATCH_FROM (a request that may wait) carries it
        self.answer_to: list[tuple[str, bytes]] | None = None
        self._producer: AIOKafkaProducer | None = None
        self._broken: AIOKafkaProducer | None = None
        self._wake = asyncio.Event()
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
        try:  # start() waits for a producer id without end while the broker is loading
            await asyncio.wait_for(producer.start(), CONNECT_WITHIN_S)
        except BaseException:
            await _close(producer)
            raise
        return producer

    async def _supervise(self) -> None:
        """Connect (retrying), replace a broken producer, probe the broker every second.
        Nothing but our own cancellation ends this loop: if it ended, the gateway would
        answer 503 until restarted."""
        failures = 0
        while True:
            try:
                failures = await self._step(failures)
            except asyncio.CancelledError:
                if _cancelling():
                    raise
                log.warning("an internal Kafka client task was cancelled; carrying on")
            except Exception:
                telemetry.SUPERVISOR_ERRORS.inc()
                log.exception("the Kafka producer's supervisor failed a step; retrying")
                self.ready = False
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 1.0)

    async def _step(self, failures: int) -> int:
        """One round: replace a broken producer, connect if needed, probe; the failures."""
        if self._producer is not None and (
            self._broken is self._producer or _sender_dead(self._producer)
        ):
            await self._retire(self._producer)
        if self._producer is None:
            try:
                self._producer = await self._connect()
            except (KafkaError, OSError, TimeoutError) as exc:
                log.warning("kafka not reachable at %s: %s", self.bootstrap, exc or "timeout")
                self.ready = False
                return failures
        try:
            await asyncio.wait_for(self._probe(self._producer), 2.0)
            return 0 if self._set_ready() else failures
        except (KafkaError, OSError, TimeoutError):
            failures += 1  # one slow answer on a busy machine is not an outage
            if failures >= PROBE_FAILURES:
                self.ready = False
            return failures

    def _set_ready(self) -> bool:
        self.ready = self._producer is not None and self._broken is not self._producer
        return self.ready

    async def _retire(self, producer: AIOKafkaProducer) -> None:
        """Drop a producer that cannot write; its unacknowledged batches fail (they were
        answered as unconfirmed already) and a new producer id starts from sequence 0."""
        self.ready = False
        self._producer = None
        self.replaced += 1
        log.warning("replacing the Kafka producer: it can no longer write to %s", self.topic)
        producer._message_accumulator.fail_all(KafkaError("producer replaced"))
        await _close(producer)

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
        if producer is None or not self.ready or self._broken is producer:
            raise Unavailable("the event log (Kafka) is not reachable")
        records = [_keyed(cmd) for cmd in commands]
        refuse_large(records, self.max_record_bytes)
        sent = False
        try:
            async with asyncio.timeout(self.timeout_s):
                if len(records) < BATCH_FROM:
                    futures = []
                    for key, value in records:
                        futures.append(
                            await producer.send(self.topic, value, key=key, headers=self.answer_to)
                        )
                        sent = True
                else:
                    sent = True  # batches go out one by one: some may be sent when one fails
                    futures = await send_batches(producer, self.topic, records)
                await asyncio.gather(*futures)
        except (KafkaError, TimeoutError) as exc:
            if breaks_producer(exc):
                self._mark_broken(producer)
            what = describe(exc, self.timeout_s)
            if sent:
                raise Unconfirmed(f"the event log (Kafka) {what}") from None
            raise Unavailable(f"the event log (Kafka) {what}") from None

    def _mark_broken(self, producer: AIOKafkaProducer) -> None:
        if self._broken is not producer:
            self._broken = producer
            self.ready = False
            self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._producer is not None:
            await self._producer.stop()


def _keyed(cmd: Command) -> tuple[bytes, bytes]:
    return command_user_id(cmd).encode(), encode_command(cmd)


def refuse_large(records: Sequence[tuple[bytes, bytes]], limit: int) -> None:
    """Raise `TooLarge` when a record is over `limit` bytes (its key and value)."""
    for i, (key, value) in enumerate(records):
        size = len(key) + len(value)
        if size > limit:
            which = "the event" if len(records) == 1 else f"event {i}"
            raise TooLarge(
                f"{which} would be a record of {size:,} bytes, over the limit of {limit:,} bytes"
            )


async def send_batches(
    producer: AIOKafkaProducer, topic: str, records: Sequence[tuple[bytes, bytes]]
) -> list[asyncio.Future[object]]:
    """Hand keyed records to `producer` as one record batch per partition (the producer's
    own partitioner picks it, as `send` would), so many records cost a handful of futures
    instead of one each; await the futures for the acknowledgements. Batches go out one by
    one: when one fails, some may already be sent."""
    await producer.client._wait_on_metadata(topic)
    # what producer._partition would pass the partitioner, once instead of once per record
    cluster = producer.client.cluster
    every = sorted(cluster.partitions_for_topic(topic))
    available = sorted(cluster.available_partitions_for_topic(topic))
    partitioner = producer._partitioner
    batches: dict[int, Any] = {}
    futures: list[asyncio.Future[object]] = []
    for key, value in records:
        partition = partitioner(key, every, available)
        batch = batches.get(partition)
        if batch is None or batch.append(timestamp=None, key=key, value=value) is None:
            if batch is not None:  # full: send it, start another
                futures.append(await producer.send_batch(batch, topic, partition=partition))
            batch = batches[partition] = producer.create_batch()
            if batch.append(timestamp=None, key=key, value=value) is None:
                raise ValueError(f"a record of {len(value)} bytes exceeds a batch")
    for partition, batch in batches.items():
        futures.append(await producer.send_batch(batch, topic, partition=partition))
    return futures


def _cancelling() -> bool:
    """Whether the current task itself is being cancelled (aiokafka 0.14 can also raise the
    CancelledError of an internal task it cancelled, see processors.projector.stop)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def _close(producer: AIOKafkaProducer) -> None:
    """Stop a producer within STOP_WITHIN_S, whatever state it is in."""
    try:
        await asyncio.wait_for(producer.stop(), STOP_WITHIN_S)
    except asyncio.CancelledError:
        if _cancelling():
            raise
    except Exception as exc:
        telemetry.PRODUCER_CLOSE_ERRORS.inc()
        log.warning("a Kafka producer did not close cleanly: %s", exc or "timeout")


def _sender_dead(producer: AIOKafkaProducer) -> bool:
    """aiokafka's sender task ends only on a fatal error; the producer then never sends."""
    task = producer._sender.sender_task
    return task is not None and task.done()


class TopicReader:
    """Reads every partition of one topic read_committed, with no consumer group, from the
    end as it stands at start, and hands each record's value to `_take` while anything waits
    (`_waiting`). Reconnects after any failure (the broker went away), counting it."""

    name = "topic-reader"

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.ready = False
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name=self.name)

    def _waiting(self) -> bool:
        raise NotImplementedError

    def _take(self, raw: bytes) -> None:
        raise NotImplementedError

    def _release_all(self) -> None:
        raise NotImplementedError

    async def _supervise(self) -> None:
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker went away: reconnect from the end
                telemetry.READER_RECONNECTS.labels(self.name).inc()
                log.warning("%s consumer stopped (%s); reconnecting", self.name, exc)
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
                if not self._waiting():
                    continue
                for records in batches.values():
                    for rec in records:
                        if rec.value is not None:
                            self._take(rec.value)
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

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._release_all()


class ProgressWaiter:
    """Resolves the futures of the requests this process waits for by event id, with the
    answers the workers push (`take`, called by `ingest.answers.AnswerListener`); an answer
    nobody waits for (any more) is skipped unparsed.

    An answer is pushed as soon as the worker has folded the event, before its transaction
    commits. The fold is deterministic over the partition's order and the event is in the log
    already, so a transaction that aborts (the worker crashed or was fenced) is redone by the
    next owner with the very same progress; only a rules change between the two makes them
    differ (docs/fast-path.md)."""

    def __init__(self) -> None:
        self.ready = False  # whether answers can reach it (its listener listens)
        self._pending: dict[str, asyncio.Future[Progress]] = {}

    def expect(self, event_id: str) -> asyncio.Future[Progress]:
        """A future for the Progress of `event_id`; register before publishing."""
        future: asyncio.Future[Progress] = asyncio.get_running_loop().create_future()
        self._pending[event_id] = future
        return future

    def forget(self, event_id: str) -> None:
        """Release `event_id`'s entry; a no-op once its Progress has resolved it."""
        future = self._pending.pop(event_id, None)
        if future is not None and not future.done():
            future.cancel()

    def take(self, raw: bytes) -> None:
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
        elif isinstance(record, EventRefused):
            future.set_exception(NotApplied(record))

    def stop(self) -> None:
        self._release_all()

    def _release_all(self) -> None:
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()


class _Ranks:
    """The mover's rank changes caused by one event, as they arrive."""

    __slots__ = ("arrived", "by_id")

    def __init__(self) -> None:
        self.by_id: dict[str, RankChanged] = {}
        self.arrived = asyncio.Event()


class RankWaiter(TopicReader):
    """Collects, from `podium.leaderboards`, the rank changes the ranking stage made of the
    events this process waits for. A rank change names its cause, the `ScoreChanged` id,
    which ends with the event id (the gateway's ids are hex, without a colon). Registered
    at publish time, before the event is written, so that no rank change can come first; the
    request learns which ones to wait for from its Progress (`Progress.scores`)."""

    name = "rank-waiter"

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(bootstrap, topic)
        self._pending: dict[str, _Ranks] = {}

    def expect(self, event_id: str) -> None:
        self._pending[event_id] = _Ranks()

    def forget(self, event_id: str) -> None:
        self._pending.pop(event_id, None)

    async def ranks(
        self, event_id: str, ids: Sequence[str], within_s: float
    ) -> dict[str, RankChanged]:
        """The rank changes with these ids (a `ScoreChanged` id + ":rank") that arrive within
        `within_s`, by id; fewer when the ranking stage is late (or saw nothing to move)."""
        box = self._pending.get(event_id)
        if box is None:
            return {}
        deadline = asyncio.get_running_loop().time() + within_s
        while not all(i in box.by_id for i in ids):
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            box.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(box.arrived.wait(), left)
        return {i: box.by_id[i] for i in ids if i in box.by_id}

    def _waiting(self) -> bool:
        return bool(self._pending)

    def _take(self, raw: bytes) -> None:
        try:
            record = decode_leaderboard_record(raw)
        except InvalidRecord:
            return  # not the gateway's to judge: the topic's consumers dead-letter it
        if not isinstance(record, RankChanged):
            return
        box = self._pending.get(record.cause.rpartition(":")[2])
        if box is not None:
            box.by_id[record.id] = record
            box.arrived.set()

    def _release_all(self) -> None:
        self._pending.clear()
