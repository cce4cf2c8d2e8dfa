"""How the runtime owns partitions, over fake Kafka clients (tests/component/kafka_fakes.py),
no broker: on assignment the committed offsets and states come first and the fold starts
there; a take the broker refuses makes its partitions wait and is retried after the back-off;
a revocation commits what is buffered before the partitions go; partitions lost (the group
moved on) commit nothing more."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from confluent_kafka import KafkaError, KafkaException

from processors.runtime import runner
from processors.runtime.stages import WorkerStage
from schemas.rules import Rules
from tests.component.kafka_fakes import NAMES, harness, until
from tests.component.test_runner_commits import FakePusher, event, running


async def test_the_fold_starts_at_the_committed_offset_on_the_restored_state(
    rules: Rules, monkeypatch: pytest.MonkeyPatch
) -> None:
    pusher = FakePusher()
    stage = WorkerStage(NAMES, rules, 4)
    h = harness(stage, monkeypatch, pusher=pusher)
    for n in range(4):
        event(h, n)
    h.kafka.committed_offsets[0] = 2  # events 0 and 1 were committed by a former owner
    h.consumer.rebalance("assign", [0])
    async with running(h):
        await until(lambda: h.kafka.committed_offsets[0] == 4)
        assert h.runtime.owned == {0}
    assert pusher.pushed == ["e-2", "e-3"]


async def test_a_refused_take_waits_and_is_retried_after_the_back_off(
    rules: Rules, monkeypatch: pytest.MonkeyPatch
) -> None:
    pusher = FakePusher()
    h = harness(WorkerStage(NAMES, rules, 4), monkeypatch, pusher=pusher, fence_backoff_s=0.3)
    reads = []
    patched = runner.read_latest

    async def refused_once(bootstrap: str, topic: str, partitions: Iterable[int]) -> object:
        reads.append(list(partitions))
        if len(reads) == 1:
            raise KafkaException(KafkaError(KafkaError._TIMED_OUT, "no answer"))
        return await patched(bootstrap, topic, partitions)

    monkeypatch.setattr(runner, "read_latest", refused_once)
    event(h, 0)
    h.consumer.rebalance("assign", [0])
    async with running(h):
        await until(lambda: len(reads) == 1)
        await until(lambda: 0 in h.consumer.paused)
        assert h.runtime.owned == frozenset() and pusher.pushed == []
        await until(lambda: h.kafka.committed_offsets.get(0) == 1)
        assert 0 not in h.consumer.paused
    assert reads == [[0], [0]] and pusher.pushed == ["e-0"]


async def test_a_revocation_commits_what_is_buffered_before_the_partitions_go(
    rules: Rules, monkeypatch: pytest.MonkeyPatch
) -> None:
    stage = WorkerStage(NAMES, rules, 4)
    h = harness(stage, monkeypatch, pusher=FakePusher(), commit_interval_s=60)
    h.consumer.rebalance("assign", [0, 1])
    async with running(h):
        event(h, 0, "ann", 0)
        event(h, 1, "bob", 1)
        await until(lambda: h.runtime.outbox.offsets == {0: 1, 1: 1})
        assert h.kafka.commits == 0  # not due for a minute
        h.consumer.rebalance("revoke", [1])
        await until(lambda: h.runtime.owned == {0})
        assert h.kafka.committed_offsets == {0: 1, 1: 1}
        assert set(stage.stores) == {0}


async def test_lost_partitions_commit_nothing_more(
    rules: Rules, monkeypatch: pytest.MonkeyPatch
) -> None:
    stage = WorkerStage(NAMES, rules, 4)
    h = harness(stage, monkeypatch, pusher=FakePusher(), commit_interval_s=60)
    h.consumer.rebalance("assign", [0, 1])
    async with running(h):
        event(h, 0, "ann", 0)
        event(h, 1, "bob", 1)
        await until(lambda: h.runtime.outbox.offsets == {0: 1, 1: 1})
        h.consumer.rebalance("lost", [1])
        await until(lambda: h.runtime.owned == {0} and h.runtime.broken is None)
        # partition 0 is taken again from its commit (none): its event is folded again
        await until(lambda: h.runtime.outbox.offsets == {0: 1})
        assert h.kafka.commits == 0
    # committed on the way out
    assert h.kafka.committed_offsets == {0: 1}
    assert [k for t, _, k, _ in h.kafka.committed if t == NAMES.state] == [b"ann"]
