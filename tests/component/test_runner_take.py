"""Taking partitions (`processors.runtime.runner.Runner.take`, called by the rebalance
listener) over fake producers and a fake consumer, no broker: a take is all or nothing (a
failure at any step stops every producer it started and owns nothing); a take that times out
or that the broker refuses loses the partitions, which are paused and retaken after the
back-off (aiokafka would swallow the error: the partitions would sit assigned, unowned, their
records skipped); any other error in a take ends the run."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError

from processors.runtime import partition, runner, telemetry
from processors.runtime.partition import ProducerConfig
from processors.runtime.runner import Runner, _Listener
from schemas.rules import Rules
from schemas.topics import Names

NAMES = Names("t.")
PARTITIONS = [0, 1, 2, 3]


def tp(p: int) -> TopicPartition:
    return TopicPartition(NAMES.events, p)


@dataclass
class Producers:
    """Every fake producer made, by transactional id; the ids in `refuse` fail to start."""

    made: dict[str, FakeProducer] = field(default_factory=dict)
    refuse: set[str] = field(default_factory=set)

    def running(self) -> list[str]:
        return sorted(t for t, p in self.made.items() if p.started and not p.stopped)


class FakeProducer:
    """Stands in for AIOKafkaProducer in `partition.start_producer`."""

    book: Producers

    def __init__(self, *, transactional_id: str, **config: Any) -> None:
        self.transactional_id = transactional_id
        self.started = self.stopped = False
        self.book.made[transactional_id] = self

    async def start(self) -> None:
        await asyncio.sleep(0)  # the others start meanwhile, as they would against a broker
        if self.transactional_id in self.book.refuse:
            raise KafkaConnectionError(f"{self.transactional_id}: broker unreachable")
        self.started = True

    async def stop(self) -> None:
        self.stopped = True


@dataclass
class FakeConsumer:
    """Assigned partitions 0-3, committed offset 7 each; `position` never answers when
    `hang` is set (aiokafka still positioning the partition)."""

    hang: bool = False
    paused: set[TopicPartition] = field(default_factory=set)
    resumed: list[int] = field(default_factory=list)

    def assignment(self) -> set[TopicPartition]:
        return {tp(p) for p in PARTITIONS}

    async def committed(self, partition: TopicPartition) -> int:
        return 7

    async def position(self, partition: TopicPartition) -> int:
        if self.hang:
            await asyncio.Event().wait()
        return 7

    def seek(self, partition: TopicPartition, offset: int) -> None:
        pass

    def pause(self, partition: TopicPartition) -> None:
        self.paused.add(partition)

    def resume(self, partition: TopicPartition) -> None:
        self.resumed.append(partition.partition)

    def subscribe(self, topics: list[str], listener: Any) -> None:
        pass

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[Any, Any]:
        await asyncio.sleep(timeout_ms / 1000)
        return {}


@pytest.fixture
def producers(monkeypatch: pytest.MonkeyPatch) -> Producers:
    book = Producers()
    monkeypatch.setattr(FakeProducer, "book", book, raising=False)
    monkeypatch.setattr(partition, "AIOKafkaProducer", FakeProducer)
    return book


@pytest.fixture
def changelog(monkeypatch: pytest.MonkeyPatch) -> dict[str, BaseException]:
    """`read_latest` of the runner: empty states, or raises `changelog["error"]`."""
    told: dict[str, BaseException] = {}

    async def read_latest(
        bootstrap: str, topic: str, partitions: Iterable[int]
    ) -> dict[int, dict[str, bytes]]:
        if "error" in told:
            raise told["error"]
        return {p: {} for p in partitions}

    monkeypatch.setattr(runner, "read_latest", read_latest)
    return told


def make_runner(consumer: FakeConsumer, rules: Rules) -> Runner:
    config = ProducerConfig("unused:9092")
    taker = Runner(consumer, NAMES, rules, config, fence_backoff_s=0)
    taker.position_timeout_s = 0.05
    return taker


async def assign_as_aiokafka_does(taker: Runner) -> Exception | None:
    """Call the listener as aiokafka's coordinator does (it logs what the listener raises and
    carries on); what was raised, None for nothing."""
    try:
        await _Listener(taker).on_partitions_assigned([tp(p) for p in PARTITIONS])
    except Exception as exc:
        return exc
    return None


async def test_a_producer_that_fails_to_start_stops_those_that_started(
    producers: Producers, changelog: dict[str, BaseException], rules: Rules
) -> None:
    producers.refuse.add(NAMES.transactional_id(2))
    taker = make_runner(FakeConsumer(), rules)
    with pytest.raises(KafkaConnectionError):
        await taker.take(PARTITIONS)
    assert len(producers.made) == 4 and producers.running() == []
    assert taker.owned == {}


@pytest.mark.parametrize("error", [KafkaConnectionError("gone"), TimeoutError()])
async def test_a_take_that_fails_after_the_producers_started_stops_them(
    producers: Producers, changelog: dict[str, BaseException], rules: Rules, error: Exception
) -> None:
    """The restore fails (the changelog unreadable), or the consumer's position never comes."""
    consumer = FakeConsumer()
    if isinstance(error, TimeoutError):
        consumer.hang = True
    else:
        changelog["error"] = error
    taker = make_runner(consumer, rules)
    with pytest.raises(type(error)):
        await taker.take(PARTITIONS)
    assert [p.started for p in producers.made.values()] == [True] * 4
    assert producers.running() == []
    assert taker.owned == {}


async def test_a_take_that_times_out_on_assignment_is_retaken_after_the_back_off(
    producers: Producers, changelog: dict[str, BaseException], rules: Rules
) -> None:
    consumer = FakeConsumer(hang=True)
    taker = make_runner(consumer, rules)
    lost_before = telemetry.PARTITIONS_LOST._value.get()
    assert await assign_as_aiokafka_does(taker) is None  # nothing for aiokafka to swallow
    assert sorted(taker.lost) == PARTITIONS and taker.owned == {}
    assert consumer.paused == {tp(p) for p in PARTITIONS}  # no record read past meanwhile
    assert telemetry.PARTITIONS_LOST._value.get() == lost_before + 4
    assert producers.running() == []
    consumer.hang = False  # the broker answers again: the loop's next round retakes them
    await taker._recover_lost()
    assert sorted(taker.owned) == PARTITIONS and taker.lost == {}
    assert sorted(consumer.resumed) == PARTITIONS
    assert len(producers.running()) == 4
    await taker._drop(PARTITIONS)


async def test_a_retake_that_times_out_again_waits_for_the_next_back_off(
    producers: Producers, changelog: dict[str, BaseException], rules: Rules
) -> None:
    consumer = FakeConsumer(hang=True)
    taker = make_runner(consumer, rules)
    await assign_as_aiokafka_does(taker)
    await taker._recover_lost()  # times out again: not raised, rescheduled
    assert sorted(taker.lost) == PARTITIONS and taker.owned == {}
    assert producers.running() == []


async def test_any_other_error_in_a_take_on_assignment_ends_the_run(
    producers: Producers, changelog: dict[str, BaseException], rules: Rules
) -> None:
    changelog["error"] = ValueError("a bug")
    taker = make_runner(FakeConsumer(), rules)
    assert await assign_as_aiokafka_does(taker) is None
    assert producers.running() == []
    with pytest.raises(ValueError, match="a bug"):
        await asyncio.wait_for(taker.run(asyncio.Event()), timeout=5)
