"""The runtime's commits over fake Kafka clients (tests/component/kafka_fakes.py), no broker:
the fold never waits for a commit (while one is held, the next records are folded and
answered), the fold waits when the outbox behind a held commit reaches its bound, a user's
state is written once per commit, and a failed commit drops what was folded and redoes it from
the committed offsets and states."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from confluent_kafka import KafkaError

from processors.runtime.answers import AnswerPusher
from processors.runtime.runner import Runtime
from processors.runtime.stages import WorkerStage
from schemas.records import Progress, decode_record
from schemas.rules import Rules
from tests.component.kafka_fakes import NAMES, Harness, harness, until
from tests.component.test_batch import T0, metric

GATEWAY = "127.0.0.1:7001"
HEADED = [("podium-answer", GATEWAY.encode())]


class FakePusher(AnswerPusher):
    def __init__(self) -> None:  # no super().__init__: no connections
        self.pushed: list[str] = []  # event ids, in push order

    def push(self, answers: object) -> None:
        for address, raw in answers:  # type: ignore[attr-defined]
            record = decode_record(raw)
            assert address == GATEWAY and isinstance(record, Progress)
            self.pushed.append(record.event_id)


def event(h: Harness, n: int, user: str = "ann", partition: int = 0) -> None:
    h.kafka.append(partition, user.encode(), metric(f"e-{n}", user, "2", T0 + n), HEADED)


@asynccontextmanager
async def running(h: Harness) -> AsyncIterator[Runtime]:
    stop = asyncio.Event()
    task = asyncio.create_task(h.runtime.run(stop))
    try:
        yield h.runtime
    finally:
        h.gate.set()
        stop.set()
        await asyncio.wait_for(task, 10)


def worker(
    rules: Rules, monkeypatch: pytest.MonkeyPatch, **config: object
) -> tuple[Harness, FakePusher]:
    pusher = FakePusher()
    h = harness(WorkerStage(NAMES, rules, 4), monkeypatch, pusher=pusher, **config)
    h.consumer.rebalance("assign", [0])
    return h, pusher


def committed_progress(h: Harness) -> list[str]:
    records = [decode_record(v) for t, _, _, v in h.kafka.committed if t == NAMES.progress]
    assert all(isinstance(r, Progress) for r in records)
    return [r.event_id for r in records if isinstance(r, Progress)]


async def test_the_fold_goes_on_and_answers_while_a_commit_is_held(
    rules: Rules, monkeypatch: pytest.MonkeyPatch
) -> None:
    h, pusher = worker(rules, monkeypatch)
    h.gate.clear()  # every commit waits
    async with running(h):
        for n in range(3):
            event(h, n)
        await until(lambda: pusher.pushed == ["e-0", "e-1", "e-2"])
        await until(lambda: h.began == 1)  # the first commit is under way, held
        for n in range(3, 6):
            event(h, n)
        await until(lambda: len(pusher.pushed) == 6)
        assert h.kafka.commits == 0, "answered before any commit returned"
        h.gate.set()
        await until(lambda: h.kafka.committed_offsets.get(0) == 6)
    assert committed_progress(h) == [f"e-{n}" for n in range(6)]


async def test_the_fold_waits_when_the_outbox_behind_a_held_commit_is_full(
    rules: Rules, monkeypatch: pytest.MonkeyPatch
) -> None:
    per_event = _outputs_of_one_event(rules)
    # two events fill the outbox; no commit is due before that
    h, pusher = worker(
        rules, monkeypatch, commit_bound=2 * per_event, max_records=1, commit_interval_s=60
    )
    h.gate.clear()
    async with running(h):
        event(h, 0, "u0")
        event(h, 1, "u1")  # the outbox is full: its commit starts, and is held
        await until(lambda: h.began == 1)
        for n in range(2, 8):
            event(h, n, f"u{n}")
        await until(lambda: len(pusher.pushed) >= 4)
        await asyncio.sleep(0.2)
        assert pusher.pushed == ["e-0", "e-1", "e-2", "e-3"], "folded past the bound"
        h.gate.set()
        await until(lambda: len(pusher.pushed) == 8)
        await until(lambda: h.kafka.committed_offsets.get(0) == 8)
    assert committed_progress(h) == [f"e-{n}" for n in range(8)]


async def test_a_user_s_state_is_written_once_per_commit(
    rules: Rules, monkeypatch: pytest.MonkeyPatch
) -> None:
    h, _ = worker(rules, monkeypatch, commit_interval_s=0.3)
    async with running(h):
        for n in range(5):
            event(h, n)
        await until(lambda: h.kafka.committed_offsets.get(0) == 5)
    states = [key for topic, _, key, _ in h.kafka.committed if topic == NAMES.state]
    assert states == [b"ann"]
    assert h.kafka.commits == 1


@pytest.mark.parametrize(
    "error",
    [
        lambda: KafkaError(KafkaError._STATE, "aborted", txn_requires_abort=True),
        lambda: KafkaError(KafkaError._FENCED, "fenced", fatal=True),
    ],
    ids=["abortable", "fatal"],
)
async def test_a_failed_commit_is_redone_from_the_committed_state(
    rules: Rules, monkeypatch: pytest.MonkeyPatch, error: Callable[[], KafkaError]
) -> None:
    h, pusher = worker(rules, monkeypatch, commit_interval_s=0.05)
    async with running(h):
        event(h, 0)
        await until(lambda: h.kafka.committed_offsets.get(0) == 1)
        first = h.producer
        first.fail.append(error())
        event(h, 1)
        event(h, 2)
        await until(lambda: h.kafka.committed_offsets.get(0) == 3)
    fatal = error().fatal()
    # aborted unless fatal; replaced either way (a producer whose transaction failed is not
    # reused), and the new one committed the redo
    assert (first.aborts, len(h.producers)) == (0 if fatal else 1, 2)
    assert first.began == 2 and h.producers[1].began >= 1
    # folded twice (answered twice, the same answer), committed once
    assert pusher.pushed == ["e-0", "e-1", "e-2", "e-1", "e-2"]
    assert committed_progress(h) == ["e-0", "e-1", "e-2"]
    states = [v for t, _, _, v in h.kafka.committed if t == NAMES.state]
    redone = WorkerStage(NAMES, rules, 4)
    redone.restore(0, {})
    assert states[-1] == _state_after(redone, h, 3)


async def test_a_commit_that_never_returns_is_given_up_with_its_producer(
    rules: Rules, monkeypatch: pytest.MonkeyPatch
) -> None:
    # commit_timeout_s is 0.1 s: the commit is given up after it
    h, pusher = worker(rules, monkeypatch, transaction_timeout_ms=50)
    hung = threading.Event()
    async with running(h):
        await until(lambda: len(h.producers) == 1)
        h.producer.hung = hung
        event(h, 0)
        event(h, 1)
        await until(lambda: h.kafka.committed_offsets.get(0) == 2)
        assert len(h.producers) == 2 and h.producers[0].began == 1
    hung.set()  # the thread left behind ends
    assert committed_progress(h) == ["e-0", "e-1"]
    assert pusher.pushed == ["e-0", "e-1", "e-0", "e-1"]


def _outputs_of_one_event(rules: Rules) -> int:
    """The records (state included) one new user's event writes, as the stage folds it."""
    from processors.runtime.outbox import Outbox
    from processors.runtime.stages import Rec

    stage = WorkerStage(NAMES, rules, 4)
    stage.restore(0, {})
    out = Outbox()
    stage.fold(0, [Rec(0, b"x", metric("e-x", "x", "2", T0))], out)
    return out.size


def _state_after(stage: WorkerStage, h: Harness, count: int) -> bytes:
    """The state an uninterrupted fold of the first `count` events writes."""
    from processors.runtime.outbox import Outbox
    from processors.runtime.stages import Rec

    out = Outbox()
    records = [Rec(m.offset_, m.key_, m.value_) for m in h.kafka.logs[0][:count]]
    stage.fold(0, records, out)
    state = out.keyed[(NAMES.state, 0)][b"ann"]
    assert state is not None  # a worker writes no tombstone
    return state
