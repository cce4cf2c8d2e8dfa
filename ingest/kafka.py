"""The gateway's Kafka shell: it writes commands to `podium.events`; the answers to its events
(the progress, the ranks) are pushed to it (`ingest.answers`), so it reads no topic.

- `Publisher`: an idempotent producer (acks=all) keyed by user id, built by
  `processors.runtime.kafka`. `publish` returns only once the broker has acknowledged the
  record, so the gateway never answers 2xx for an event that is not durably written. A failure
  says which of two things happened: `Unavailable` (nothing was handed to the producer: the
  event is certainly not recorded) or `Unconfirmed` (handed over, no acknowledgement: it may be
  in the log, or land later, since an idempotent producer keeps retrying). It probes the
  broker every second (`ready`, which /ready reports) and replaces its producer only after a
  fatal error (librdkafka recovers an idempotent producer's sequences itself after a broker
  restart).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from confluent_kafka import KafkaError, KafkaException

from ingest import telemetry
from ingest.breaker import Breaker
from processors.runtime import kafka, kafka_async
from schemas.commands import Command, command_user_id, encode_command

log = logging.getLogger("podium.gateway")


PROBE_FAILURES = 3  # consecutive failed probes before the broker counts as unreachable
BATCH_FROM = 16  # from this many commands on, a publish is a batch: no answer header
STOP_WITHIN_S = 5.0  # how long a replaced producer may take to close
TIMED_OUT = frozenset({KafkaError._MSG_TIMED_OUT, KafkaError._TIMED_OUT})
TIMED_OUT_BROKER = frozenset({KafkaError.REQUEST_TIMED_OUT})
CONNECTION = frozenset({KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN})
STALE = frozenset(  # a producer whose id or sequences the broker no longer accepts
    {
        KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER,
        KafkaError.UNKNOWN_PRODUCER_ID,
        KafkaError.INVALID_PRODUCER_EPOCH,
        KafkaError.PRODUCER_FENCED,
    }
)


MAX_RECORD_BYTES = 1_000_000
"""The most one command's record (key and value) may take. The broker refuses a batch over
its `message.max.bytes` (1,048,588 by default) and the producer a record over its own
(`PRODUCER_MAX_BYTES`); a larger record is refused before it is handed over (`TooLarge`), so
that the answer names the limit."""
PRODUCER_MAX_BYTES = 1_048_576


class Unavailable(Exception):
    """Nothing was handed to the broker: the event is certainly not recorded."""


class TooLarge(Exception):
    """A command's record is over `MAX_RECORD_BYTES`: nothing was handed to the broker."""


class Unconfirmed(Exception):
    """The write was sent but not acknowledged: it may or may not be in the log."""


def _error(exc: BaseException) -> KafkaError | None:
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        return exc.args[0]
    return None


def timed_out(exc: BaseException) -> bool:
    """Whether a write failed by not being acknowledged in time."""
    err = _error(exc)
    return isinstance(exc, TimeoutError) or (err is not None and err.code() in TIMED_OUT)


def describe(exc: BaseException, timeout_s: float) -> str:
    """What went wrong, in the operator's terms (no exception class names)."""
    err = _error(exc)
    if timed_out(exc):
        return f"did not acknowledge the write within {timeout_s:g} s"
    if err is None:
        return "failed to acknowledge the write"
    if err.code() in STALE:
        return "rejected the write's sequence (the broker restarted); the gateway reconnects"
    if err.code() in CONNECTION:
        return "closed the connection before acknowledging the write"
    if err.code() in TIMED_OUT_BROKER or not (err.name() or "").startswith("_"):
        return f"refused the write ({(err.name() or '').lower().replace('_', ' ')})"
    return "failed to acknowledge the write"


def breaks_producer(exc: BaseException) -> bool:
    """Whether the producer that raised `exc` must be replaced before it can write again:
    after a fatal error (librdkafka's own verdict) or when its id is no longer accepted."""
    err = _error(exc)
    return err is not None and (err.fatal() or err.code() in STALE)


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
        self.replaced = 0  # producers replaced since start (after a fatal error)
        # what the last probe saw: the topic's partition count and the partitions that cannot
        # acknowledge a write now (no leader, or fewer in-sync copies than min.insync.replicas)
        self.partitions = 0
        self.unwritable: frozenset[int] = frozenset()
        self.placement: dict[int, tuple[int, tuple[int, ...]]] = {}  # leader, live in-sync
        # partitions whose writes timed out: refused at once for a while (ingest.breaker)
        self.breaker = Breaker(timeout_s)
        self._min_insync: int | None = None  # the topic's, read once
        # the header naming this gateway's answer listener (`schemas.answers`), set once it
        # listens: each record of fewer than BATCH_FROM (a request that may wait) carries it
        self.answer_to: list[tuple[str, bytes]] | None = None
        self._producer: kafka_async.AsyncProducer | None = None
        self._broken: kafka_async.AsyncProducer | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name="publisher")

    def _connect(self) -> kafka_async.AsyncProducer:
        config = kafka.producer_config(
            self.bootstrap,
            client_id="podium-gateway",
            linger_ms=self.linger_ms,
            delivery_timeout_s=self.timeout_s,
        )
        return kafka_async.AsyncProducer(config | {"message.max.bytes": PRODUCER_MAX_BYTES})

    async def _supervise(self) -> None:
        """Connect, replace a broken producer, probe the broker every second. Nothing but our
        own cancellation ends this loop: if it ended, the gateway would answer 503 until
        restarted."""
        failures = 0
        while True:
            try:
                failures = await self._step(failures)
            except Exception:
                telemetry.SUPERVISOR_ERRORS.inc()
                log.exception("the Kafka producer's supervisor failed a step; retrying")
                self.ready = False
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 1.0)

    async def _step(self, failures: int) -> int:
        """One round: replace a broken producer, connect if needed, probe; the failures."""
        if self._producer is not None and self._broken is self._producer:
            await self._retire(self._producer)
        if self._producer is None:
            self._producer = self._connect()
        try:
            await asyncio.to_thread(self._probe, self._producer)
            return 0 if self._set_ready() else failures
        except KafkaException:
            failures += 1  # one slow answer on a busy machine is not an outage
            if failures >= PROBE_FAILURES:
                self.ready = False
            return failures

    def _probe(self, producer: kafka_async.AsyncProducer) -> None:
        """Ask the broker for the topic's partitions, and note those that cannot acknowledge
        a write now (acks=all): no leader, or fewer in-sync copies than the topic's
        `min.insync.replicas`. Their writes would only time out (504); they are refused at
        once instead (503), and with none writable the gateway is not ready."""
        cluster = producer.client.list_topics(self.topic, 2.0)
        meta = cluster.topics.get(self.topic)
        if meta is None or meta.error is not None or not meta.partitions:
            raise KafkaException(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART))
        if self._min_insync is None:
            self._min_insync = kafka.min_insync_replicas(self.bootstrap, self.topic)
        least, live = self._min_insync, set(cluster.brokers)
        # a broker the controller fenced is gone from the metadata at once; the in-sync sets
        # shrink only after replica.lag.time.max.ms: only the live members count
        self.partitions = len(meta.partitions)
        self.placement = {
            p: (part.leader, tuple(sorted(live.intersection(part.isrs))))
            for p, part in meta.partitions.items()
        }
        self.breaker.metadata(self.placement)
        self.unwritable = frozenset(
            p
            for p, part in meta.partitions.items()
            if part.leader < 0 or len(live.intersection(part.isrs)) < least
        )

    def _set_ready(self) -> bool:
        self.ready = (
            self._writable() and self._producer is not None and self._broken is not self._producer
        )
        return self.ready

    def _writable(self) -> bool:
        """Whether some partition can take a write: neither unwritable nor breaker-open."""
        return self.breaker.closed(set(range(self.partitions)) - self.unwritable)

    def _refuse_unwritable(self, records: Sequence[tuple[bytes, bytes]]) -> set[int]:
        """The records' partitions; `Unavailable` if one of them cannot take a write now."""
        partitions = self._partitions_of(records, None)
        for p in sorted(partitions):
            if p in self.unwritable:
                why = "too few in-sync copies"
            elif self.breaker.refuses(p):
                why = "its last writes timed out"
            else:
                continue
            raise Unavailable(
                f"the event log (Kafka) cannot acknowledge writes to partition {p} now ({why})"
            )
        return partitions

    async def _retire(self, producer: kafka_async.AsyncProducer) -> None:
        """Drop a producer that cannot write; its unacknowledged records fail (they were
        answered as unconfirmed already) and a new producer id starts afresh."""
        self.ready = False
        self._producer = None
        self.replaced += 1
        log.warning("replacing the Kafka producer: it can no longer write to %s", self.topic)
        await _close(producer, 0.0)

    async def publish(self, command: Command) -> None:
        await self.publish_many([command])

    async def publish_many(self, commands: Sequence[Command]) -> None:
        """Write the commands and wait for every acknowledgement (acks=all)."""
        producer = self._producer
        if producer is None or not self.ready or self._broken is producer:
            raise Unavailable("the event log (Kafka) is not reachable")
        records = [_keyed(cmd) for cmd in commands]
        refuse_large(records, self.max_record_bytes)
        # the records' partitions (murmur2 in Python, 0.9 µs a key) only while some partition
        # is unwritable or its breaker is open; the failure path works them out when needed
        partitions = self._refuse_unwritable(records) if self._guarded() else None
        headers = self.answer_to if len(records) < BATCH_FROM else None
        seen = self.placement  # as the write is handed over (each probe makes a new one)
        try:
            written = producer.send_all(self.topic, records, headers)
        except (KafkaException, BufferError) as exc:
            # refused at once; with more than one record some may be handed over already
            raise _failure(exc, self.timeout_s, sent=len(records) > 1) from None
        try:
            async with asyncio.timeout(self.timeout_s):
                await written
        except (KafkaException, TimeoutError) as exc:
            if breaks_producer(exc):
                self._mark_broken(producer)
            elif timed_out(exc):
                # opened as of the hand-over: closed at once if the cluster moved since
                self.breaker.timed_out(self._partitions_of(records, partitions), seen)
                self.breaker.metadata(self.placement)
                self.ready = self.ready and self._writable()
            raise _failure(exc, self.timeout_s, sent=True) from None
        if self.breaker.opened():
            self.breaker.acknowledged(self._partitions_of(records, partitions))

    def _guarded(self) -> bool:
        """Whether a write must look at its partitions first: some may refuse it."""
        return bool(self.partitions) and bool(self.unwritable or self.breaker.opened())

    def _partitions_of(
        self, records: Sequence[tuple[bytes, bytes]], known: set[int] | None
    ) -> set[int]:
        if known is not None or not self.partitions:
            return known or set()
        return {kafka.partition_of(key, self.partitions) for key, _ in records}

    def _mark_broken(self, producer: kafka_async.AsyncProducer) -> None:
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
            await _close(self._producer, STOP_WITHIN_S)
            self._producer = None


def _failure(exc: BaseException, timeout_s: float, *, sent: bool) -> Exception:
    if isinstance(exc, BufferError):
        what = "is not keeping up (the producer's queue is full)"
    else:
        what = describe(exc, timeout_s)
    if sent:
        return Unconfirmed(f"the event log (Kafka) {what}")
    return Unavailable(f"the event log (Kafka) {what}")


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


async def _close(producer: kafka_async.AsyncProducer, within_s: float) -> None:
    """Close a producer, delivering what it can within `within_s`, whatever state it is in."""
    try:
        await producer.close(within_s)
    except Exception as exc:
        telemetry.PRODUCER_CLOSE_ERRORS.inc()
        log.warning("a Kafka producer did not close cleanly: %s", exc or "timeout")
