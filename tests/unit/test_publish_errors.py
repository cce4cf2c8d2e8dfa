"""What the gateway says when a write fails: in the user's terms, never an exception class
name, and a sent-but-unacknowledged write says its outcome is unknown."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from types import SimpleNamespace

import pytest
from confluent_kafka import KafkaError, KafkaException

from ingest.kafka import (
    MAX_RECORD_BYTES,
    PRODUCER_MAX_BYTES,
    Publisher,
    TooLarge,
    Unavailable,
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
