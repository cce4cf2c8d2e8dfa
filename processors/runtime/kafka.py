"""Podium's one Kafka client: confluent-kafka (librdkafka), built here and nowhere else.

- `consumer_config` / `producer_config` and the `consumer`, `producer`, `admin` constructors:
  every client of the project starts from `base_config` (client id, timeouts, librdkafka's log
  routed to Python's `logging`); producers are idempotent with acks=all, consumers read
  read_committed and never auto-commit.
- `count_partitions`, `wait_for_topic`: how many partitions a topic has (waiting until it
  exists, when asked to).
- `committed_offsets`: a group's committed offsets of a topic.
- `group_members`: who is in a consumer group now (replay hands over only to an empty one).
- `end_offsets`: each partition's end, the last stable offset (read_committed) or the high
  watermark; `settled_ends`: the last stable offsets once no transaction is open, what a
  restore and the replay read up to (a commit's records become readable after it returns).
- `read_range`: partitions P of topic T from the beginning (or from given offsets) up to the
  end offsets taken when the read starts, read_committed, in batches of `Record`s: what a
  restore, replay and the tests need. It ends even while others write.

Its asyncio side (a producer whose deliveries are futures, a consumer on a thread of its own,
the range read) is `processors.runtime.kafka_async`.

A `Record` has attributes (`offset`, `key`, `value`, ...) where confluent's `Message` has
methods, so it fits `processors.runtime.step.RawRecord` and `schemas.views.Positioned`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

from confluent_kafka import (
    Consumer,
    IsolationLevel,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, ConfigResource, OffsetSpec, ResourceType

log = logging.getLogger("podium.kafka")
T = TypeVar("T")

Config = dict[str, Any]
Headers = Sequence[tuple[str, bytes]]

FETCH_BYTES = 16 * 1024 * 1024  # per partition and fetch: a range read takes big bites
READ_BATCH = 20_000  # records per consume() call of a range read
# how long one consume() call of a range read waits for READ_BATCH records: it returns only
# then, so a short wait keeps a small read (a restore of a few users) from idling
READ_WAIT_S = 0.05
SETTLING = frozenset(  # answers while leadership settles (a topic just created, a restart)
    {
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError.UNKNOWN_LEADER_EPOCH,  # a broker that restarted
        KafkaError.FENCED_LEADER_EPOCH,
        KafkaError.OFFSET_NOT_AVAILABLE,
        KafkaError.BROKER_NOT_AVAILABLE,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._TRANSPORT,
        KafkaError._TIMED_OUT,
    }
)

COORDINATING = frozenset(  # a group's coordinator moving or loading
    {KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS}
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
    headers: list[tuple[str, bytes]]
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
        headers or [],  # type: ignore[arg-type,unused-ignore]  # bytes values
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
        "enable.auto.commit": False,  # `commit()` commits what `consume` returned
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
    """Idempotent, acks=all, lz4, Java's partitioner; a delivery is reported failed after
    `delivery_timeout_s`."""
    config = base_config(bootstrap, client_id) | {
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": linger_ms,
        "compression.type": "lz4",
        # murmur2 of the key, as the Java client places keyed records: a user's
        # commands land on one partition whichever client wrote them
        "partitioner": "murmur2_random",
        "message.timeout.ms": int(delivery_timeout_s * 1000),
        "request.timeout.ms": min(30_000, int(delivery_timeout_s * 1000)),
    }
    if transactional_id is not None:
        config["transactional.id"] = transactional_id
    return config


def partition_of(key: bytes, partitions: int) -> int:
    """The partition a producer of `producer_config` puts a record keyed `key` on: the Java
    client's murmur2 of the key, positive, modulo the partition count."""
    return (_murmur2(key) & 0x7FFFFFFF) % partitions


def _murmur2(data: bytes) -> int:
    """Kafka's murmur2 (`org.apache.kafka.common.utils.Utils.murmur2`), as an unsigned int."""
    m, mask = 0x5BD1E995, 0xFFFFFFFF
    h = (0x9747B28C ^ len(data)) & mask
    whole = len(data) & ~3
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * m) & mask
        k ^= k >> 24
        k = (k * m) & mask
        h = ((h * m) & mask) ^ k
    tail = data[whole:]
    if len(tail) >= 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if tail:
        h ^= tail[0]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    return h ^ (h >> 15)


def consumer(bootstrap: str, group: str | None = None, **overrides: Any) -> Consumer:
    """A consumer (see `consumer_config`); `overrides` are librdkafka settings with `_` for `.`."""
    return Consumer(consumer_config(bootstrap, group) | dotted(overrides))


def producer(bootstrap: str, **overrides: Any) -> Producer:
    """A producer (see `producer_config`); `overrides` as for `consumer`."""
    return Producer(producer_config(bootstrap) | dotted(overrides))


def admin(bootstrap: str) -> AdminClient:
    return AdminClient(base_config(bootstrap))


def committed_offsets(
    bootstrap: str, group: str, topic: str, partitions: Collection[int], within: float = 30.0
) -> dict[int, int]:
    """The group's committed offsets of `topic` (0 where none), stable: a pending transactional
    commit is settled first (read_committed asks for stable offsets). Retried while the
    group's coordinator moves or loads (a broker just started)."""
    client = consumer(bootstrap, group, client_id="podium-offsets")
    deadline = time.monotonic() + within
    try:
        while True:
            try:
                asked = [TopicPartition(topic, p) for p in partitions]
                got = client.committed(asked, timeout=within)
                return {tp.partition: max(tp.offset, 0) for tp in got}
            except KafkaException as exc:
                err: KafkaError = exc.args[0]
                if not (err.retriable() or err.code() in COORDINATING) or (
                    time.monotonic() > deadline
                ):
                    raise
                time.sleep(0.2)
    finally:
        client.close()


def group_members(bootstrap: str, group: str, timeout: float = 10) -> list[str]:
    """The members of the consumer group now (`client id@host` each); [] for an empty group
    or one that does not exist."""
    client = admin(bootstrap)  # held until the answer: a dropped client never answers
    futures = client.describe_consumer_groups([group], request_timeout=timeout)
    try:
        described = futures[group].result(timeout + 5)
    except KafkaException as exc:
        if exc.args[0].code() == KafkaError.GROUP_ID_NOT_FOUND:
            return []
        raise
    return [f"{m.client_id}@{m.host}" for m in described.members]


def dotted(overrides: Mapping[str, Any]) -> Config:
    return {k.replace("_", "."): v for k, v in overrides.items()}


def count_partitions(
    client: AdminClient | Consumer | Producer, topic: str, timeout: float = 10
) -> int:
    """How many partitions `topic` has; `TopicMissing` when it does not exist."""
    meta = client.list_topics(topic, timeout=timeout).topics.get(topic)
    if meta is None or meta.error is not None or not meta.partitions:
        raise TopicMissing(f"topic {topic} does not exist")
    return len(meta.partitions)


def min_insync_replicas(bootstrap: str, topic: str, timeout: float = 10.0) -> int:
    """The topic's `min.insync.replicas` (its own, or the broker's default)."""
    resource = ConfigResource(ResourceType.TOPIC, topic)
    client = admin(bootstrap)  # held until the answer: a dropped client never resolves it
    future = client.describe_configs([resource], request_timeout=timeout)[resource]
    entry = future.result(timeout=timeout).get("min.insync.replicas")
    return int(entry.value) if entry is not None and entry.value is not None else 1


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
    level = IsolationLevel.READ_COMMITTED if committed else IsolationLevel.READ_UNCOMMITTED
    return _list_offsets(bootstrap, topic, partitions, OffsetSpec.latest(), level, within)


class Unsettled(TimeoutError):
    """A transaction stayed open on a partition longer than a reader would wait."""


def settled_ends(
    bootstrap: str, topic: str, partitions: Collection[int], within: float = 30.0
) -> dict[int, int]:
    """{partition: end}: each partition's last stable offset at a moment when no transaction
    was open on it (the LSO equal to the high watermark). Raises `Unsettled` when some
    partition stays open for `within` seconds (a zombie's transaction lasts until the
    transaction timeout aborts it).

    A producer's commit returns once the transaction coordinator has logged it; the markers
    that make its records readable reach each partition afterwards, one at a time, and the
    consumer group's committed offsets (themselves made visible by a marker on
    `__consumer_offsets`) may show first. So a reader that takes a partition over from a
    stopped owner and reads to the LSO at once can miss that owner's last transaction: a state
    restored without it would count its events twice. Reading the LSO before the high
    watermark makes an equal pair prove the partition settled at the first read."""
    todo, ends = set(partitions), dict[int, int]()
    deadline = time.monotonic() + within
    while True:
        stable = end_offsets(bootstrap, topic, todo, within=within)
        high = end_offsets(bootstrap, topic, todo, committed=False, within=within)
        settled = {p for p in todo if stable[p] >= high[p]}
        ends.update((p, stable[p]) for p in settled)
        todo -= settled
        if not todo:
            return ends
        if time.monotonic() > deadline:
            detail = ", ".join(f"{p}: {stable[p]} < {high[p]}" for p in sorted(todo))
            raise Unsettled(
                f"{topic}: a transaction still open after {within:g} s (partition: last stable "
                f"offset < high watermark: {detail})"
            )
        time.sleep(0.02)


def start_offsets(
    bootstrap: str, topic: str, partitions: Collection[int], within: float = 30.0
) -> dict[int, int]:
    """{partition: its first offset} (above 0 once retention or compaction removed some)."""
    level = IsolationLevel.READ_UNCOMMITTED
    return _list_offsets(bootstrap, topic, partitions, OffsetSpec.earliest(), level, within)


def _list_offsets(
    bootstrap: str,
    topic: str,
    partitions: Collection[int],
    spec: OffsetSpec,
    level: IsolationLevel,
    within: float,
) -> dict[int, int]:
    if not partitions:
        return {}
    client = admin(bootstrap)
    asked = {TopicPartition(topic, p): spec for p in partitions}
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


class Range:
    """The bookkeeping of one range read: what is left to read and up to where."""

    def __init__(self, topic: str, ends: Mapping[int, int], start: Mapping[int, int]) -> None:
        self.topic = topic
        self.ends = dict(ends)
        self.todo = {p for p, end in ends.items() if start.get(p, 0) < end}
        # offset 0, not OFFSET_BEGINNING: librdkafka looks a logical offset up first and its
        # first fetch then comes 0.5 s later; a log that starts above 0 (retention) answers
        # "out of range" and the consumer resets to its start (auto.offset.reset earliest)
        self.assignment = [TopicPartition(topic, p, start.get(p, 0)) for p in sorted(self.todo)]

    def take(self, reader: Consumer, messages: list[Message]) -> list[Record]:
        """The records of `messages` below their partition's end; marks partitions done."""
        out: list[Record] = []
        for msg in messages:
            p = msg.partition() or 0
            if not is_record(msg):
                err = msg.error()
                if err is not None and err.code() == KafkaError._PARTITION_EOF:
                    self.todo.discard(p)
                continue
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


def range_reader(bootstrap: str, committed: bool) -> Consumer:
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
    ends: Mapping[int, int] | None = None,
    committed: bool = True,
) -> Iterator[list[Record]]:
    """Batches of the records of `partitions` of `topic` from `start` (default: the beginning)
    up to `ends` (default: the end offsets taken now, `end_offsets`), in each partition's
    order."""
    if ends is None:
        ends = end_offsets(bootstrap, topic, partitions, committed=committed)
    span = Range(topic, ends, start or {})
    if not span.todo:
        return
    reader = range_reader(bootstrap, committed)
    try:
        reader.assign(span.assignment)
        while span.todo:
            batch = span.take(reader, reader.consume(READ_BATCH, timeout=READ_WAIT_S))
            if batch:
                yield batch
    finally:
        reader.close()


def is_record(msg: Message) -> bool:
    """Whether a consumed message is a record: False for an event (a partition's end, a
    passing error such as a lost connection, which librdkafka retries: logged), raises
    `KafkaException` for a fatal error."""
    err = msg.error()
    if err is None:
        return True
    if err.fatal():
        raise KafkaException(err)
    if err.code() not in (KafkaError._PARTITION_EOF, KafkaError._AUTO_OFFSET_RESET):
        log.warning("consuming %s [%s]: %s", msg.topic(), msg.partition(), err.str())
    return False
