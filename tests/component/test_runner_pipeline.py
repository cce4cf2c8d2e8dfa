"""The runner's pipelined loop (`processors.runtime.runner.Runner`) over a fake consumer and a
`_process` that waits for the test to let each transaction commit, no broker: a partition
does not wait for another's commit and takes what arrived during its own in one transaction;
a partition with too much queued is paused and resumed when its task has taken it all, but a
lost one stays paused; the transactions in flight hold at most `max_records`; a revocation
waits for the transaction in flight and drops the queue; records fetched while a partition is
being taken are kept for it; an error in a partition's task ends `run`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from processors.runtime.partition import ProducerConfig
from processors.runtime.runner import Runner
from schemas.rules import Rules
from schemas.topics import Names

NAMES = Names("t.")


def tp(partition: int) -> TopicPartition:
    return TopicPartition(NAMES.events, partition)


def records(partition: int, offsets: range) -> list[ConsumerRecord[bytes, bytes]]:
    return [
        ConsumerRecord(NAMES.events, partition, o, 0, 0, b"k", b"v", None, 1, 1, [])
        for o in offsets
    ]


@dataclass
class FakeConsumer:
    """Assigned partitions 0-3; `getmany` hands out `batches`, then nothing."""

    batches: list[dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]] = field(
        default_factory=list
    )
    paused: set[TopicPartition] = field(default_factory=set)
    calls: list[tuple[str, int]] = field(default_factory=list)  # ("pause" | "resume", p)

    def subscribe(self, topics: list[str], listener: Any) -> None:
        pass

    def assignment(self) -> set[TopicPartition]:
        return {tp(p) for p in range(4)}

    def pause(self, partition: TopicPartition) -> None:
        self.paused.add(partition)
        self.calls.append(("pause", partition.partition))

    def resume(self, partition: TopicPartition) -> None:
        self.paused.discard(partition)
        self.calls.append(("resume", partition.partition))

    async def getmany(
        self, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        if self.batches:
            return self.batches.pop(0)
        await asyncio.sleep(timeout_ms / 1000)
        return {}


@dataclass
class FakeOwned:
    position: int = 0  # the next offset to commit
    closed: bool = False

    async def close(self) -> None:
        self.closed = True


class GatedRunner(Runner):
    """`_process` notes the offsets of each transaction, then waits until the test lets the
    partition's transactions commit; told to, it loses the partition or raises instead."""

    def __init__(self, consumer: FakeConsumer, rules: Rules, max_records: int) -> None:
        super().__init__(
            consumer,
            NAMES,
            rules,
            ProducerConfig("unused:9092"),
            max_records=max_records,
            fence_backoff_s=60,
        )
        self.owned = {p: FakeOwned() for p in range(4)}  # type: ignore[misc]
        self.commits: list[tuple[int, list[int]]] = []
        self.gates = {p: asyncio.Event() for p in range(4)}
        self.fail: dict[int, Exception] = {}

    async def _process(
        self, tp: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]
    ) -> None:
        p = tp.partition
        self.commits.append((p, [r.offset for r in records]))
        await self.gates[p].wait()
        err = self.fail.get(p)
        if isinstance(err, KafkaError):
            await self._lose(p, err)
        elif err is not None:
            raise err


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


@pytest.fixture
def consumer() -> FakeConsumer:
    return FakeConsumer()


async def test_a_partition_commits_while_another_waits_and_batches_what_arrived(
    consumer: FakeConsumer, rules: Rules
) -> None:
    runner = GatedRunner(consumer, rules, max_records=100)
    runner._enqueue(tp(0), records(0, range(0, 1)))
    await settle()  # partition 0's first transaction is in flight
    runner._enqueue(tp(0), records(0, range(1, 3)))
    runner._enqueue(tp(1), records(1, range(0, 1)))
    runner._enqueue(tp(0), records(0, range(3, 4)))
    runner.gates[1].set()
    await settle()
    assert runner.commits == [(0, [0]), (1, [0])]  # 1 did not wait for 0's commit
    assert 1 not in runner.tasks  # nothing left queued for 1: its task ended
    runner.gates[0].set()
    await settle()
    assert runner.commits == [(0, [0]), (1, [0]), (0, [1, 2, 3])]
    assert runner.tasks == {}


async def test_too_much_queued_pauses_until_the_task_has_taken_it_all(
    consumer: FakeConsumer, rules: Rules
) -> None:
    runner = GatedRunner(consumer, rules, max_records=12)  # 4 partitions owned: 3 each
    runner._enqueue(tp(2), records(2, range(0, 1)))
    await settle()
    runner._enqueue(tp(2), records(2, range(1, 5)))  # 4 queued > 3
    assert consumer.calls == [("pause", 2)]
    runner.gates[2].set()
    await settle()
    assert runner.commits == [(2, [0]), (2, [1, 2, 3, 4])]
    assert consumer.calls == [("pause", 2), ("resume", 2)]
    assert consumer.paused == set()


async def test_a_lost_partition_stays_paused_and_its_queue_is_dropped(
    consumer: FakeConsumer, rules: Rules
) -> None:
    runner = GatedRunner(consumer, rules, max_records=12)
    runner.fail[3] = KafkaError("fenced")
    runner._enqueue(tp(3), records(3, range(0, 1)))
    await settle()
    runner._enqueue(tp(3), records(3, range(1, 5)))  # paused for back-pressure
    runner.gates[3].set()
    await settle()
    assert runner.commits == [(3, [0])]  # nothing after the lost transaction
    assert consumer.paused == {tp(3)}
    assert ("resume", 3) not in consumer.calls
    assert 3 in runner.lost and 3 not in runner.owned
    runner._enqueue(tp(3), records(3, range(5, 6)))  # a late fetch of the lost partition
    await settle()
    assert runner.commits == [(3, [0])]


async def test_a_revocation_waits_for_the_transaction_in_flight_and_drops_the_queue(
    consumer: FakeConsumer, rules: Rules
) -> None:
    runner = GatedRunner(consumer, rules, max_records=100)
    owned = runner.owned[0]
    runner._enqueue(tp(0), records(0, range(0, 2)))
    await settle()
    runner._enqueue(tp(0), records(0, range(2, 4)))
    dropping = asyncio.create_task(runner._drop([0]))
    await settle()
    assert not dropping.done() and not owned.closed  # type: ignore[attr-defined]
    runner._enqueue(tp(0), records(0, range(4, 5)))  # fetched during the revocation
    runner.gates[0].set()
    await asyncio.wait_for(dropping, 1)
    assert owned.closed  # type: ignore[attr-defined]
    assert runner.commits == [(0, [0, 1])]
    assert runner.tasks == {} and 0 not in runner.owned


async def test_an_error_in_a_partition_task_ends_the_run(
    consumer: FakeConsumer, rules: Rules
) -> None:
    runner = GatedRunner(consumer, rules, max_records=100)
    runner.fail[1] = ValueError("a bug in the fold")
    runner.gates[1].set()
    runner.gates[2].set()
    consumer.batches = [{tp(1): records(1, range(0, 1)), tp(2): records(2, range(0, 1))}]
    with pytest.raises(ValueError, match="a bug in the fold"):
        await asyncio.wait_for(runner.run(asyncio.Event()), 5)
    assert sorted(runner.commits) == [(1, [0]), (2, [0])]
    assert runner.owned == {} and runner.tasks == {}


async def test_records_fetched_while_a_partition_is_taken_wait_for_it(
    consumer: FakeConsumer, rules: Rules
) -> None:
    runner = GatedRunner(consumer, rules, max_records=100)
    taking = runner.owned.pop(0)
    runner.gates[0].set()
    consumer.batches = [{tp(0): records(0, range(0, 3))}]
    stop = asyncio.Event()
    async with runner.lock:  # as `take` holds it, positioning partition 0
        running = asyncio.create_task(runner.run(stop))
        await asyncio.sleep(0.05)  # the fetch loop has the batch and waits
        runner.owned[0] = taking
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(running, 2)
    assert runner.commits == [(0, [0, 1, 2])]


async def test_the_transactions_in_flight_hold_at_most_max_records(
    consumer: FakeConsumer, rules: Rules
) -> None:
    runner = GatedRunner(consumer, rules, max_records=12)
    runner._enqueue(tp(0), records(0, range(0, 10)))
    await settle()
    runner._enqueue(tp(1), records(1, range(0, 5)))
    await settle()
    assert runner.commits == [(0, list(range(10))), (1, [0, 1])]  # 10 + 2 = 12 in flight
    runner.gates[0].set()
    await settle()
    assert runner.commits == [(0, list(range(10))), (1, [0, 1])]  # 1 waits for its own commit
    runner.gates[1].set()
    await settle()
    assert runner.commits == [(0, list(range(10))), (1, [0, 1]), (1, [2, 3, 4])]
    assert runner.in_flight == 0
