"""A restore right after the previous owner's commit holds that commit.

A producer's commit returns once the transaction coordinator has logged it; the markers that
make its records readable reach the partitions afterwards. A restore that read to the last
stable offset at once missed the newest transaction now and then (2026-12-07, quiet box: 2 of
200 rounds with the 0.5 s range read of then; this test, at 150 rounds, failed in 2 runs of 2
once reads took 0.05 s), and a state restored without it counts its events again. The restore
reads up to `kafka.settled_ends`: here every round's keys are back, each read right after its
commit."""

from __future__ import annotations

import asyncio

import pytest

from processors.runtime import kafka
from processors.runtime.changelog import latest_states
from schemas.topics import Names

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
ROUNDS, KEYS = 80, 48


def _commit_then_restore(bootstrap: str, topic: str, partitions: int) -> list[int]:
    """Each round: one transaction of new keys over every partition, committed, then a
    restore of every partition at once; the rounds whose keys the restore missed."""
    producer = kafka.producer(bootstrap, transactional_id=f"{topic}.settle", linger_ms=2)
    producer.init_transactions(30)
    written: set[str] = set()
    missed = []
    for n in range(ROUNDS):
        producer.begin_transaction()
        keys = [f"u{n}-{i}" for i in range(KEYS)]
        for key in keys:
            raw = key.encode()
            producer.produce(topic, b"{}", raw, partition=kafka.partition_of(raw, partitions))
        producer.commit_transaction(30)
        written.update(keys)
        restored = latest_states(bootstrap, topic, list(range(partitions)))
        if written - {user for users in restored.values() for user in users}:
            missed.append(n)
    return missed


async def test_a_restore_right_after_a_commit_holds_it(kafka_bootstrap: str, names: Names) -> None:
    partitions = kafka.count_partitions(kafka.admin(kafka_bootstrap), names.state)
    missed = await asyncio.to_thread(_commit_then_restore, kafka_bootstrap, names.state, partitions)
    assert missed == [], f"rounds whose committed states the restore missed: {missed}"
