"""Read `podium.state` (compacted, read_committed): one partition's latest raw state per user,
to take over that partition; or every partition, for replay and tests.

Reads up to the end offset taken when the read starts (the last stable offset under
read_committed), so a restore finishes even while others write (`kafka.read_range`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from processors.runtime import kafka


async def read_latest(
    bootstrap: str, topic: str, partitions: Iterable[int]
) -> dict[int, dict[str, bytes]]:
    """{partition: {user id: latest state bytes}} for the given partitions of `topic`."""
    return await asyncio.to_thread(latest_states, bootstrap, topic, sorted(set(partitions)))


def latest_states(bootstrap: str, topic: str, partitions: list[int]) -> dict[int, dict[str, bytes]]:
    """`read_latest` for blocking code."""
    latest: dict[int, dict[str, bytes]] = {p: {} for p in partitions}
    for batch in kafka.read_range(bootstrap, topic, partitions):
        for rec in batch:
            if rec.key is None:
                continue
            # a key that is not UTF-8 (no worker writes one) must not stop the restore; as
            # surrogate escapes it can equal no user id a command carries, so it is never
            # read or written again
            user = rec.key.decode("utf-8", "surrogateescape")
            if rec.value is None:
                latest[rec.partition].pop(user, None)
            else:
                latest[rec.partition][user] = rec.value
    return latest


async def partition_count(bootstrap: str, topic: str) -> int:
    """How many partitions `topic` has (`kafka.TopicMissing` when it does not exist)."""
    return await asyncio.to_thread(kafka.count_partitions, kafka.admin(bootstrap), topic)
