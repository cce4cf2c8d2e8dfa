"""Read `podium.state` (compacted, read_committed): one partition's latest raw state per user,
to take over that partition; or every partition, for replay and tests.

Reads up to the end offsets taken when the read starts, once no transaction is open on the
partitions (`kafka.settled_ends`: the stopped owner's last commit may still be on its way to
readable), so a restore holds every committed state and finishes even while others write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from processors.runtime import kafka

# how long a restore waits for a transaction open on its partitions (a zombie's, aborted by
# its transaction timeout, 10 s by default) before the partition waits and tries again
SETTLE_S = 15.0


async def read_latest(
    bootstrap: str, topic: str, partitions: Iterable[int], *, settle: bool = True
) -> dict[int, dict[str, bytes]]:
    """{partition: {user id: latest state bytes}} for the given partitions of `topic`;
    `settle` False: up to the last stable offsets as they are (a reader that tolerates missing
    the newest transaction, while the workers write on)."""
    parts = sorted(set(partitions))
    return await asyncio.to_thread(latest_states, bootstrap, topic, parts, settle=settle)


def latest_states(
    bootstrap: str, topic: str, partitions: list[int], *, settle: bool = True
) -> dict[int, dict[str, bytes]]:
    """`read_latest` for blocking code."""
    latest: dict[int, dict[str, bytes]] = {p: {} for p in partitions}
    if settle:
        ends = kafka.settled_ends(bootstrap, topic, partitions, within=SETTLE_S)
    else:
        ends = kafka.end_offsets(bootstrap, topic, partitions)
    for batch in kafka.read_range(bootstrap, topic, partitions, ends=ends):
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
