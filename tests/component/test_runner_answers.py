"""The runner pushes each partition's answers right after the fold and before its
transaction (`Runner._process`), in both loops, no broker: a fake pusher notes what it got,
a fake partition notes what had been pushed when its commit began. When a commit stalls, the
barrier loop folds nothing more, so no answer leaves for records that cannot be committed."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from aiokafka import ConsumerRecord

from processors.runtime.answers import AnswerPusher
from processors.runtime.batch import Effects
from processors.runtime.partition import ProducerConfig
from processors.runtime.runner import Runner
from processors.runtime.store import StateStore
from schemas.records import Progress, decode_record
from schemas.rules import Rules
from tests.component.test_batch import T0, metric
from tests.component.test_runner_pipeline import NAMES, FakeConsumer, settle, tp

GATEWAY = "127.0.0.1:7001"


class FakePusher(AnswerPusher):
    def __init__(self) -> None:  # no super().__init__: no connections
        self.pushed: list[str] = []  # event ids, in push order

    def push(self, answers: object) -> None:
        for address, raw in answers:  # type: ignore[attr-defined]
            record = decode_record(raw)
            assert address == GATEWAY and isinstance(record, Progress)
            self.pushed.append(record.event_id)


@dataclass
class CommitLog:
    pusher: FakePusher
    position: int = 0
    store: StateStore = field(default_factory=StateStore)
    seen_at_commit: list[list[str]] = field(default_factory=list)
    gate: asyncio.Event = field(default_factory=asyncio.Event)

    async def commit(self, effects: Effects, group: str) -> None:
        self.seen_at_commit.append(list(self.pusher.pushed))
        await self.gate.wait()

    async def close(self) -> None:
        pass


def rec(offset: int, headers: list[tuple[str, bytes]]) -> ConsumerRecord[bytes, bytes]:
    value = metric(f"e-{offset}", "ann", "2", T0 + offset)
    return ConsumerRecord(
        NAMES.events, 0, offset, 0, 0, b"ann", value, None, 3, len(value), headers
    )


HEADED = [("podium-answer", GATEWAY.encode())]


def runner_with(
    consumer: FakeConsumer, rules: Rules, *, pipelined: bool
) -> tuple[Runner, CommitLog]:
    pusher = FakePusher()
    runner = Runner(
        consumer, NAMES, rules, ProducerConfig("unused:9092"), pipelined=pipelined, pusher=pusher
    )
    owned = CommitLog(pusher)
    runner.owned = {0: owned}  # type: ignore[dict-item]
    return runner, owned


@pytest.mark.parametrize("pipelined", [False, True], ids=["barrier", "pipelined"])
async def test_answers_leave_after_the_fold_and_before_the_commit(
    rules: Rules, pipelined: bool
) -> None:
    consumer = FakeConsumer([{tp(0): [rec(0, HEADED), rec(1, []), rec(2, HEADED)]}])
    runner, owned = runner_with(consumer, rules, pipelined=pipelined)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        for _ in range(20):
            await settle()
        # the commit began with both answers pushed (the one of `podium send`'s e-1: none)
        assert owned.seen_at_commit == [["e-0", "e-2"]]
        owned.gate.set()
        await settle()
        assert owned.position == 3
    finally:
        owned.gate.set()
        stop.set()
        await task


async def test_a_stalled_commit_stops_the_answers(rules: Rules) -> None:
    consumer = FakeConsumer([{tp(0): [rec(0, HEADED)]}, {tp(0): [rec(1, HEADED)]}])
    runner, owned = runner_with(consumer, rules, pipelined=False)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        for _ in range(20):
            await settle()
        assert runner.pusher.pushed == ["e-0"]  # type: ignore[union-attr]
        assert consumer.batches  # the second batch was not even fetched: no fold, no answer
        owned.gate.set()  # the broker commits again
        for _ in range(20):
            await settle()
        assert runner.pusher.pushed == ["e-0", "e-1"]  # type: ignore[union-attr]
    finally:
        owned.gate.set()
        stop.set()
        await task


async def test_a_commit_that_never_returns_loses_the_partition_instead_of_wedging(
    rules: Rules,
) -> None:
    """After a broker restart an aiokafka transactional call may never return: past
    `commit_limit_s` the transaction counts as lost, the partition is paused and retaken later
    (with a new producer) and the loop goes on."""
    consumer = FakeConsumer([{tp(0): [rec(0, HEADED)]}])
    runner, owned = runner_with(consumer, rules, pipelined=False)
    runner.commit_limit_s = 0.05
    runner.fence_backoff_s = 3600.0  # not retaken within the test
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        await asyncio.sleep(0.3)  # the gate is never set: the commit never returns
        assert list(runner.lost) == [0] and 0 not in runner.owned
        assert owned.position == 0  # nothing counted as committed
        assert not task.done()  # the loop goes on
    finally:
        stop.set()
        await task
