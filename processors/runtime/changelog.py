"""Read `podium.state` (compacted, read_committed): one partition's latest raw state per user,
to take over that partition; or every partition, for replay and tests.

Reads up to the end offset taken when the read starts (the last stable offset under
read_committed), so a restore finishes even while others write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

FETCH_BYTES = 16 * 1024 * 1024


async def read_latest(
    bootstrap: str, topic: str, partitions: Iterable[int]
) -> dict[int, dict[str, bytes]]:
    """{partition: {user id: latest state bytes}} for the given partitions of `topic`."""
    tps = [TopicPartition(topic, p) for p in partitions]
    latest: dict[int, dict[str, bytes]] = {tp.partition: {} for tp in tps}
    if not tps:
        return latest
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=FETCH_BYTES,
        fetch_max_bytes=4 * FETCH_BYTES,
    )
    await consumer.start()
    try:
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        todo = {tp for tp in tps if ends[tp] > 0}
        if todo:
            await consumer.seek_to_beginning(*todo)
        while todo:
            batch = await consumer.getmany(*todo, timeout_ms=500, max_records=50_000)
            for tp, recs in batch.items():
                kept = latest[tp.partition]
                # a key that is not UTF-8 (no worker writes one) must not stop the restore; as
                # surrogate escapes it can equal no user id a command carries, so it is never
                # read or written again
                for rec in recs:
                    if rec.key is None:
                        continue
                    if rec.value is None:
                        kept.pop(rec.key.decode("utf-8", "surrogateescape"), None)
                    else:
                        kept[rec.key.decode("utf-8", "surrogateescape")] = rec.value
            # Transaction markers take offsets too: compare positions, not record offsets.
            for tp in list(todo):
                if await consumer.position(tp) >= ends[tp]:
                    todo.discard(tp)
            await asyncio.sleep(0)
        return latest
    finally:
        await consumer.stop()


async def partition_count(bootstrap: str, topic: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [meta] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if not meta["partitions"]:
        raise RuntimeError(f"topic {topic} does not exist")
    return len(meta["partitions"])
