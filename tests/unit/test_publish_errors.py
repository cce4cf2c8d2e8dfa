"""What the gateway says when a write fails: in the user's terms, never an exception class
name, and a sent-but-unacknowledged write says its outcome is unknown."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from types import SimpleNamespace

import pytest
from confluent_kafka import KafkaError, KafkaException

from ingest.breaker import Breaker
from ingest.kafka import (
    MAX_RECORD_BYTES,
    PRODUCER_MAX_BYTES,
    Publisher,
    TooLarge,
    Unavailable,
    Unconfirmed,
    breaks_producer,
    describe,
)
from ingest.routes import unconfirmed
from processors.runtime.kafka import partition_of
from schemas.commands import MetricTracked, User


def _kafka(code: int, *, fatal: bool = False) -> KafkaException:
    return KafkaException(KafkaError(code, "the client's own text", fatal=fatal))


ERRORS = [
    TimeoutError(),
    _kafka(KafkaError._MSG_TIMED_OUT),
    _kafka(KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER),
    _kafka(KafkaError.UNKNOWN_PRODUCER_ID),
    _kafka(KafkaError.LEADER_NOT_AVAILABLE),
    _kafka(KafkaError._TRANSPORT),
    _kafka(KafkaError._FENCED, fatal=True),
    _kafka(KafkaError._PURGE_INFLIGHT),
]


@pytest.mark.parametrize("exc", ERRORS, ids=lambda e: str(e)[:40])
def test_no_exception_class_name_in_the_text(exc: BaseException) -> None:
    text = describe(exc, 5.0)
    assert "Error" not in text and "Exception" not in text and "the client's own" not in text
    assert "_" not in text  # no error code names either


def test_the_texts_name_what_happened() -> None:
    assert describe(TimeoutError(), 5.0) == "did not acknowledge the write within 5 s"
    timed_out = _kafka(KafkaError._MSG_TIMED_OUT)
    assert describe(timed_out, 2.5) == "did not acknowledge the write within 2.5 s"
    assert "broker restarted" in describe(_kafka(KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER), 5.0)
    refused = describe(_kafka(KafkaError.LEADER_NOT_AVAILABLE), 5.0)
    assert refused == "refused the write (leader not available)"
    gone = describe(_kafka(KafkaError._TRANSPORT), 5.0)
    assert gone == "closed the connection before acknowledging the write"


def test_only_fatal_or_stale_producer_errors_replace_the_producer() -> None:
    assert breaks_producer(_kafka(KafkaError._FENCED, fatal=True))
    assert breaks_producer(_kafka(KafkaError.UNKNOWN_PRODUCER_ID))
    assert breaks_producer(_kafka(KafkaError.PRODUCER_FENCED))
    assert not breaks_producer(TimeoutError())
    assert not breaks_producer(_kafka(KafkaError.NOT_LEADER_FOR_PARTITION))  # the client copes
    assert not breaks_producer(_kafka(KafkaError._TRANSPORT))
    assert not breaks_producer(_kafka(KafkaError._MSG_TIMED_OUT))


def test_an_unknown_outcome_says_so_and_asks_for_an_idempotency_key() -> None:
    one = unconfirmed("the event log (Kafka) did not acknowledge the write within 5 s", 1)
    assert one == (
        "the event log (Kafka) did not acknowledge the write within 5 s; the event may or may "
        "not have been recorded. Retry with the same Idempotency-Key on each event so that a "
        "retry cannot count it twice"
    )
    assert "the 3 events may or may not" in unconfirmed("x", 3)


class _Producer:
    """What `Publisher.publish_many` uses of the adapter's producer; records what it is
    handed."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, bytes]] = []

    def send_all(
        self, topic: str, records: list[tuple[bytes, bytes]], headers: object = None
    ) -> asyncio.Future[int]:
        self.sent.extend(records)
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        done.set_result(len(records))
        return done


def _event(user_id: str, attributes: dict[str, str] | None = None) -> MetricTracked:
    return MetricTracked(
        event_id="e1",
        time_ms=0,
        user=User(id=user_id, attributes=attributes),
        metric="words-written",
        value=Decimal(1),
    )


async def test_a_record_over_the_limit_fails_its_own_write_only() -> None:
    """A command the edge let through (or a direct caller) that would be a record over the
    limit is refused before anything is handed over: the shared producer stays in service."""
    publisher = Publisher("127.0.0.1:1", "t.podium.events", max_record_bytes=10_000)
    producer = _Producer()
    publisher._producer = producer  # type: ignore[assignment]
    publisher.ready = True
    big = _event("u1", {"bio": "b" * 10_000})
    with pytest.raises(TooLarge, match=r"over the limit of 10,000 bytes"):
        await publisher.publish_many([_event("u0"), big])
    assert producer.sent == []  # not even the small one: nothing of the call was handed over
    assert publisher.ready and publisher._broken is None
    await publisher.publish(_event("u2"))
    assert [key for key, _ in producer.sent] == [b"u2"]


def test_the_default_limit_is_under_what_the_producer_and_the_broker_accept() -> None:
    # the gateway's producer's message.max.bytes (1,048,576) and the broker's (1,048,588)
    # refuse a larger record, with a reason that names no limit the user can act on
    assert MAX_RECORD_BYTES + 1024 < PRODUCER_MAX_BYTES <= 1_048_588


class _Metadata:
    """What `list_topics` answers: each partition's leader and in-sync replicas."""

    def __init__(self, topic: str, isrs: dict[int, list[int]]) -> None:
        parts = {
            p: SimpleNamespace(leader=ids[0] if ids else -1, isrs=ids) for p, ids in isrs.items()
        }
        self.topics = {topic: SimpleNamespace(error=None, partitions=parts)}
        self.brokers = {node: object() for node in (1, 2, 3)}


class _Probed(_Producer):
    def __init__(self, topic: str, isrs: dict[int, list[int]]) -> None:
        super().__init__()
        self.client = SimpleNamespace(list_topics=lambda _t, _s: _Metadata(topic, isrs))


async def test_a_partition_with_too_few_in_sync_copies_is_refused_at_once() -> None:
    """min.insync.replicas 2: partition 1 has one copy in sync, so its writes could only time
    out (504, outcome unknown); they are refused before anything is handed over (503), and
    the other partitions' writes go on. With no partition writable the gateway is not ready."""
    topic = "t.podium.events"
    publisher = Publisher("127.0.0.1:1", topic)
    publisher._min_insync = 2  # the topic's, read from the broker once
    producer = _Probed(topic, {0: [1, 2, 3], 1: [3]})
    publisher._producer = producer  # type: ignore[assignment]
    publisher._probe(producer)  # type: ignore[arg-type]
    assert publisher._set_ready()
    # a user of each partition (the producer's murmur2: tests/unit/test_partition_of.py)
    users = [f"u{i}" for i in range(50)]
    on_1 = next(u for u in users if partition_of(u.encode(), 2) == 1)
    on_0 = next(u for u in users if partition_of(u.encode(), 2) == 0)
    with pytest.raises(Unavailable, match=r"cannot acknowledge writes to partition 1"):
        await publisher.publish(_event(on_1))
    await publisher.publish(_event(on_0))
    assert [key for key, _ in producer.sent] == [on_0.encode()]
    none = _Probed(topic, {0: [3], 1: []})
    publisher._probe(none)  # type: ignore[arg-type]
    assert publisher.unwritable == {0, 1} and not publisher._set_ready()


class _TimingOut(_Probed):
    """Never acknowledges a write with a key in `failing`: its future fails as librdkafka's
    does once the delivery timeout is over."""

    def __init__(self, topic: str, isrs: dict[int, list[int]]) -> None:
        super().__init__(topic, isrs)
        self.failing: set[bytes] = set()

    def send_all(
        self, topic: str, records: list[tuple[bytes, bytes]], headers: object = None
    ) -> asyncio.Future[int]:
        done = super().send_all(topic, records, headers)
        if any(key in self.failing for key, _ in records):
            done = asyncio.get_running_loop().create_future()
            done.set_exception(_kafka(KafkaError._MSG_TIMED_OUT))
        return done


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _timing_out(isrs: dict[int, list[int]]) -> tuple[Publisher, _TimingOut, _Clock]:
    topic = "t.podium.events"
    publisher = Publisher("127.0.0.1:1", topic)
    publisher._min_insync = 2
    producer = _TimingOut(topic, isrs)
    publisher._producer = producer  # type: ignore[assignment]
    publisher._probe(producer)  # type: ignore[arg-type]
    clock = _Clock()
    publisher.breaker.clock = clock
    assert publisher._set_ready()
    return publisher, producer, clock


_USERS = [f"u{i}" for i in range(50)]
_ON_0 = next(u for u in _USERS if partition_of(u.encode(), 2) == 0)
_ON_1 = next(u for u in _USERS if partition_of(u.encode(), 2) == 1)


async def test_a_partition_whose_writes_time_out_is_refused_for_a_doubling_cool_down() -> None:
    """The controller quorum lost: the metadata shows every partition fine, yet partition 1
    acknowledges nothing. After one write times out (504) its writes are refused at once
    (503) for 10 s; then one trial goes through, and each trial that times out doubles the
    cool-down (20, 40, then 60 s at most); an acknowledged trial closes it. Partition 0's
    writes go on all along."""
    publisher, producer, clock = _timing_out({0: [1, 2, 3], 1: [1, 2, 3]})
    producer.failing = {_ON_1.encode()}
    handed: list[float] = []  # when a write to partition 1 was handed over
    # opened at 0; trials at 10 (fails: 20 s), 30 (fails: 40 s), 70 (fails: 60 s), 130
    for t in (0, 5, 9.9, 10, 29.9, 30, 69.9, 70, 129.9):
        clock.now = t
        before = len(producer.sent)
        with pytest.raises((Unconfirmed, Unavailable)) as caught:
            await publisher.publish(_event(_ON_1))
        if len(producer.sent) > before:
            assert isinstance(caught.value, Unconfirmed)
            handed.append(t)
        else:
            assert isinstance(caught.value, Unavailable)
            assert "partition 1 now (its last writes timed out)" in str(caught.value)
        await publisher.publish(_event(_ON_0))
    assert handed == [0, 10, 30, 70]
    producer.failing = set()
    clock.now = 130
    await publisher.publish(_event(_ON_1))  # the trial, acknowledged
    await publisher.publish(_event(_ON_1))  # closed: no more trials
    assert [key for key, _ in producer.sent[-2:]] == [_ON_1.encode()] * 2


def test_a_breaker_lets_one_trial_through_and_ignores_writes_sent_before_it_opened() -> None:
    clock = _Clock()
    breaker = Breaker(5.0, clock)
    breaker.timed_out([3], {3: (1, (1, 2, 3))})
    clock.now = 4.0  # a write handed over before it opened times out too: no change
    breaker.timed_out([3], {3: (1, (1, 2, 3))})
    clock.now = 9.9
    assert breaker.refuses(3) and not breaker.refuses(2)
    clock.now = 10.0
    assert not breaker.refuses(3)  # the trial
    assert breaker.refuses(3)  # the others wait for it...
    clock.now = 14.9
    assert breaker.refuses(3)
    clock.now = 15.0  # ...until it would have timed out (it failed otherwise): another
    assert not breaker.refuses(3)
    breaker.metadata({3: (1, (1, 2, 3))})  # unchanged: still open
    assert breaker.refuses(3)
    breaker.metadata({3: (1, (1, 2))})  # node 3 fenced, out of the in-sync set: closed
    assert not breaker.refuses(3)


async def test_with_every_partition_breaker_open_the_gateway_is_not_ready() -> None:
    publisher, producer, clock = _timing_out({0: [1, 2, 3], 1: [1, 2, 3]})
    producer.failing = {_ON_0.encode(), _ON_1.encode()}
    with pytest.raises(Unconfirmed):
        await publisher.publish(_event(_ON_0))
    assert publisher.ready  # partition 1 may still take writes
    with pytest.raises(Unconfirmed):
        await publisher.publish(_event(_ON_1))
    assert not publisher.ready and not publisher._set_ready()
    with pytest.raises(Unavailable, match="not reachable"):
        await publisher.publish(_event(_ON_1))
    clock.now = 10.0  # both may take a trial write
    assert publisher._set_ready()


async def test_a_new_leader_closes_the_breaker_at_once() -> None:
    """Node 1 led partition 1 and was killed: once the metadata names another leader (and
    drops node 1 from the in-sync set), its writes go through again without waiting out the
    cool-down."""
    publisher, producer, _ = _timing_out({0: [2, 3, 1], 1: [1, 2, 3]})
    producer.failing = {_ON_1.encode()}
    with pytest.raises(Unconfirmed):
        await publisher.publish(_event(_ON_1))
    with pytest.raises(Unavailable):
        await publisher.publish(_event(_ON_1))
    producer.failing = set()
    publisher._probe(_Probed("t.podium.events", {0: [2, 3], 1: [2, 3]}))  # type: ignore[arg-type]
    await publisher.publish(_event(_ON_1))
    assert producer.sent[-1][0] == _ON_1.encode()


async def test_a_write_sent_before_the_partition_moved_does_not_open_its_breaker() -> None:
    """The write was handed over to the old leader and timed out after leadership moved: the
    partition takes writes already, so nothing is refused."""
    publisher, producer, _ = _timing_out({0: [2, 3, 1], 1: [1, 2, 3]})
    pending: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    producer.send_all = lambda *_: pending  # type: ignore[method-assign]
    write = asyncio.ensure_future(publisher.publish(_event(_ON_1)))
    await asyncio.sleep(0)  # handed over, waiting for the acknowledgement
    publisher._probe(_Probed("t.podium.events", {0: [2, 3], 1: [2, 3]}))  # type: ignore[arg-type]
    pending.set_exception(_kafka(KafkaError._MSG_TIMED_OUT))
    with pytest.raises(Unconfirmed):
        await write
    del producer.send_all
    producer.failing = set()
    await publisher.publish(_event(_ON_1))
    assert producer.sent[-1][0] == _ON_1.encode()
