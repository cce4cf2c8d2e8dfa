"""The Kafka adapter (`processors.runtime.kafka`) on the real broker: partition discovery, end
offsets (stable, high, and stable once no transaction is open), range reads that stop at the
end taken when they start, skip aborted and open transactions, start at given offsets or at a
log start above 0; and the asyncio producer's delivery futures."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest
from confluent_kafka import KafkaException, Producer, TopicPartition
from confluent_kafka.admin import NewTopic

from processors.runtime import kafka, kafka_async

pytestmark = pytest.mark.integration


def new_topic(bootstrap: str, partitions: int, prefix: str = "adapter") -> str:
    """A topic of a fresh name, `partitions` partitions, one copy, created on the broker."""
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    client = kafka.admin(bootstrap)  # kept until the answer: a dropped client fails its futures
    [future] = client.create_topics([NewTopic(name, partitions, 1)]).values()
    future.result(timeout=30)
    return name


def _transactional(bootstrap: str) -> Producer:
    producer = kafka.producer(bootstrap, transactional_id=f"adapter-{uuid.uuid4().hex[:8]}")
    producer.init_transactions(30)
    return producer


def _write(bootstrap: str, topic: str, per_partition: dict[int, list[bytes]]) -> None:
    """Each partition's values, one committed transaction per partition (a marker each)."""
    producer = _transactional(bootstrap)
    for p, values in per_partition.items():
        producer.begin_transaction()
        for v in values:
            producer.produce(topic, v, b"k", p)
        producer.commit_transaction(30)


def _read(bootstrap: str, topic: str, parts: list[int], start: dict[int, int] | None = None):
    got: dict[int, list[bytes | None]] = {p: [] for p in parts}
    for batch in kafka.read_range(bootstrap, topic, parts, start):
        for rec in batch:
            got[rec.partition].append(rec.value)
    return got


def test_partition_count_and_a_missing_topic(kafka_bootstrap: str) -> None:
    topic = new_topic(kafka_bootstrap, 3)
    assert kafka.count_partitions(kafka.admin(kafka_bootstrap), topic) == 3
    with pytest.raises(kafka.TopicMissing):
        kafka.count_partitions(kafka.admin(kafka_bootstrap), f"missing-{uuid.uuid4().hex}")


async def test_wait_for_topic_waits_until_it_exists(kafka_bootstrap: str) -> None:
    name = f"adapter-late-{uuid.uuid4().hex[:8]}"

    async def create_later() -> None:
        await asyncio.sleep(1.0)
        client = kafka.admin(kafka_bootstrap)
        [f] = client.create_topics([NewTopic(name, 2, 1)]).values()
        await asyncio.to_thread(f.result, 30)

    creating = asyncio.create_task(create_later())
    assert await kafka.wait_for_topic(kafka_bootstrap, name, within=30) == 2
    await creating
    with pytest.raises(kafka.TopicMissing):
        await kafka.wait_for_topic(kafka_bootstrap, f"never-{uuid.uuid4().hex}", within=0.5)


def test_a_range_read_returns_every_committed_record_in_order(kafka_bootstrap: str) -> None:
    topic = new_topic(kafka_bootstrap, 3)
    written = {0: [b"a0", b"a1", b"a2"], 1: [], 2: [b"c%d" % i for i in range(500)]}
    _write(kafka_bootstrap, topic, {0: written[0][:2], 2: written[2][:250]})
    _write(kafka_bootstrap, topic, {0: written[0][2:], 2: written[2][250:]})
    # offsets: 3 records + 2 markers on partition 0, 500 + 2 on partition 2
    assert kafka.end_offsets(kafka_bootstrap, topic, [0, 1, 2]) == {0: 5, 1: 0, 2: 502}
    assert _read(kafka_bootstrap, topic, [0, 1, 2]) == written
    assert _read(kafka_bootstrap, topic, [2]) == {2: written[2]}


def test_a_range_read_starts_at_given_offsets(kafka_bootstrap: str) -> None:
    topic = new_topic(kafka_bootstrap, 2)
    _write(kafka_bootstrap, topic, {0: [b"x0", b"x1", b"x2"], 1: [b"y0"]})  # markers at 3, 1
    assert _read(kafka_bootstrap, topic, [0, 1], {0: 1, 1: 2}) == {0: [b"x1", b"x2"], 1: []}


def test_a_range_read_stops_at_an_open_transaction_and_skips_an_aborted_one(
    kafka_bootstrap: str,
) -> None:
    topic = new_topic(kafka_bootstrap, 1)
    _write(kafka_bootstrap, topic, {0: [b"kept"]})
    aborting = _transactional(kafka_bootstrap)
    aborting.begin_transaction()
    aborting.produce(topic, b"aborted", b"k", 0)
    aborting.flush(30)
    aborting.abort_transaction(30)
    _write(kafka_bootstrap, topic, {0: [b"kept too"]})
    open_tx = _transactional(kafka_bootstrap)
    open_tx.begin_transaction()
    open_tx.produce(topic, b"not yet", b"k", 0)
    open_tx.flush(30)
    _write(kafka_bootstrap, topic, {0: [b"after the open one"]})
    stable = kafka.end_offsets(kafka_bootstrap, topic, [0])[0]
    high = kafka.end_offsets(kafka_bootstrap, topic, [0], committed=False)[0]
    # kept, marker, aborted, marker, kept too, marker (0-5); the open transaction's record at 6,
    # the last transaction's record and marker at 7, 8
    assert (stable, high) == (6, 9)
    assert _read(kafka_bootstrap, topic, [0]) == {0: [b"kept", b"kept too"]}
    open_tx.abort_transaction(30)


def test_settled_ends_wait_for_an_open_transaction_to_end(kafka_bootstrap: str) -> None:
    topic = new_topic(kafka_bootstrap, 2)
    _write(kafka_bootstrap, topic, {0: [b"a", b"b"], 1: [b"c"]})  # markers at 2 and 1
    open_tx = _transactional(kafka_bootstrap)
    open_tx.begin_transaction()
    open_tx.produce(topic, b"pending", b"k", 1)
    open_tx.flush(30)
    with pytest.raises(kafka.Unsettled, match=r"1: 2 < 3"):
        kafka.settled_ends(kafka_bootstrap, topic, [0, 1], within=0.5)
    timer = threading.Timer(0.5, open_tx.commit_transaction, (30,))
    timer.start()
    try:  # its record at 2, its marker at 3
        assert kafka.settled_ends(kafka_bootstrap, topic, [0, 1], within=30) == {0: 3, 1: 4}
    finally:
        timer.join()


def test_a_range_read_of_a_log_that_starts_above_zero(kafka_bootstrap: str) -> None:
    topic = new_topic(kafka_bootstrap, 1)
    _write(kafka_bootstrap, topic, {0: [b"%d" % i for i in range(10)]})  # marker at 10
    client = kafka.admin(kafka_bootstrap)
    [deleted] = client.delete_records([TopicPartition(topic, 0, 4)]).values()
    deleted.result(30)
    assert kafka.start_offsets(kafka_bootstrap, topic, [0]) == {0: 4}
    assert _read(kafka_bootstrap, topic, [0]) == {0: [b"%d" % i for i in range(4, 10)]}


async def test_the_async_range_read_matches_the_blocking_one(kafka_bootstrap: str) -> None:
    topic = new_topic(kafka_bootstrap, 2)
    _write(kafka_bootstrap, topic, {0: [b"%d" % i for i in range(100)], 1: [b"one"]})
    got: list[tuple[int, int, bytes | None]] = []
    async for batch in kafka_async.read_range_async(kafka_bootstrap, topic, [0, 1]):
        got.extend((r.partition, r.offset, r.value) for r in batch)
    assert sorted(got) == [(0, i, b"%d" % i) for i in range(100)] + [(1, 0, b"one")]


async def test_the_async_producer_resolves_each_delivery(kafka_bootstrap: str) -> None:
    topic = new_topic(kafka_bootstrap, 2)
    producer = kafka_async.AsyncProducer(kafka.producer_config(kafka_bootstrap))
    try:
        sent = [producer.send(topic, b"v%d" % i, partition=i % 2) for i in range(10)]
        delivered = await asyncio.wait_for(asyncio.gather(*sent), 30)
        assert sorted(delivered) == [(0, i) for i in range(5)] + [(1, i) for i in range(5)]
        with pytest.raises(KafkaException):  # no partition 7: the delivery fails
            await asyncio.wait_for(producer.send(topic, b"lost", partition=7), 30)
    finally:
        await producer.close()
    assert _read(kafka_bootstrap, topic, [1]) == {1: [b"v1", b"v3", b"v5", b"v7", b"v9"]}


def test_partition_of_is_where_the_producer_puts_a_key(kafka_bootstrap: str) -> None:
    topic = new_topic(kafka_bootstrap, 12)
    producer = kafka.producer(kafka_bootstrap)
    keys = [b"", b"a", b"18", b"user-7", b"\xff\x00tenant", *(b"u%d" % i for i in range(200))]
    for key in keys:
        producer.produce(topic, b"v", key)
    assert producer.flush(30) == 0
    placed = {
        rec.key: rec.partition
        for batch in kafka.read_range(kafka_bootstrap, topic, range(12), committed=False)
        for rec in batch
    }
    assert placed == {key: kafka.partition_of(key, 12) for key in keys}
    assert len(set(placed.values())) == 12  # and the keys spread over every partition
