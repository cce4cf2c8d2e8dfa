"""Benchmark data: realistic metric events for many users, pre-loaded onto a broker fast
(batches built per partition with the default murmur2 partitioner)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

RULES = Path(__file__).with_name("rules.bench.toml")
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
DAY_MS = 86_400_000
METRICS = tuple(f"m{i}" for i in range(10))
WEIGHTS = (30, 25, 10, 8, 7, 6, 5, 4, 3, 2)
TEMPLATE = (
    '{"schema_version":1,"type":"metric","eventId":"%s","time":%d,"user":{"id":"%s"},'
    '"metric":"%s","value":"%d"}'
)


def events(
    count: int, users: int, *, days: int = 30, seed: int = 1
) -> Iterator[tuple[bytes, bytes]]:
    """`count` metric commands (as `encode_command` writes them) for `users` users over
    `days` days, in time order: (key, value)."""
    rnd = random.Random(seed)
    span = days * DAY_MS
    metrics = rnd.choices(METRICS, WEIGHTS, k=count)
    for i in range(count):
        uid = f"user-{rnd.randrange(users)}"
        value = TEMPLATE % (
            f"ev-{seed}-{i}",
            START_MS + span * i // count,
            uid,
            metrics[i],
            rnd.randrange(1, 60),
        )
        yield uid.encode(), value.encode()


async def preload(
    bootstrap: str, topic: str, items: Iterator[tuple[bytes, bytes]], partitions: int
) -> int:
    """Produce fast: one batch per partition at a time (idempotent, acks=all, lz4)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        max_batch_size=1024 * 1024,
        linger_ms=50,
        compression_type="lz4",
    )
    await producer.start()
    partitioner = DefaultPartitioner()
    every = list(range(partitions))
    batches = [producer.create_batch() for _ in every]
    count = 0
    try:
        for key, value in items:
            p = partitioner(key, every, every)
            if batches[p].append(key=key, value=value, timestamp=None) is None:
                await producer.send_batch(batches[p], topic, partition=p)
                batches[p] = producer.create_batch()
                batches[p].append(key=key, value=value, timestamp=None)
            count += 1
        for p in every:
            if batches[p].record_count():
                await producer.send_batch(batches[p], topic, partition=p)
        await producer.flush()
    finally:
        await producer.stop()
    return count
