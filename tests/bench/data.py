"""Benchmark data: realistic metric events for many users, pre-loaded onto a broker fast
(keyed, so the producer's murmur2 partitioner places each user's events on one partition)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path

from processors.runtime import kafka

RULES = Path(__file__).with_name("rules.bench.toml")
SCORED = """
# bench_runtime adds a points system and two leaderboards, so that every kind of output the
# worker writes (points, score changes too) is written and counted.
[[points]]
key = "xp"
name = "XP"

[[points.triggers]]
key = "per-100-m0"
type = "metric"
metric = "m0"
threshold = 100
points = 10

[[points.triggers]]
key = "week-streak"
type = "streak"
streak_length = 7
points = 50

[[points.triggers]]
key = "welcome"
type = "user_creation"
points = 20

[[leaderboards]]
key = "top-m0"
name = "Top m0"
rank_by = "metric"
metric = "m0"

[[leaderboards]]
key = "weekly-xp"
name = "Weekly XP"
rank_by = "points"
points = "xp"
run_unit = "day"
run_interval = 7
"""
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
DAY_MS = 86_400_000
METRICS = tuple(f"m{i}" for i in range(10))
WEIGHTS = (30, 25, 10, 8, 7, 6, 5, 4, 3, 2)
TEMPLATE = (
    '{"schema_version":1,"type":"metric","eventId":"%s","time":%d,"user":{"id":"%s"},'
    '"metric":"%s","value":"%d"}'
)


def scored_rules(folder: Path) -> Path:
    """The bench rules with a points system and two leaderboards, written into `folder`."""
    path = folder / "rules.scored.toml"
    path.write_text(RULES.read_text() + SCORED)
    return path


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
    """Produce fast (idempotent, acks=all, lz4, large batches); `partitions` is the topic's
    partition count (the producer learns it by itself)."""
    return await asyncio.to_thread(_preload, bootstrap, topic, items)


def _preload(bootstrap: str, topic: str, items: Iterator[tuple[bytes, bytes]]) -> int:
    producer = kafka.producer(bootstrap, linger_ms=50, batch_size=1024 * 1024)
    count = 0
    for key, value in items:
        while True:
            try:
                producer.produce(topic, value, key)
                break
            except BufferError:  # the queue is full: let deliveries drain it
                producer.poll(0.05)
        count += 1
        if count % 10_000 == 0:
            producer.poll(0)
    if producer.flush(300):
        raise RuntimeError(f"preloading {topic}: records left undelivered")
    return count
