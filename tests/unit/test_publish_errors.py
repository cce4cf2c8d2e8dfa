"""What the gateway says when a write fails: in the user's terms, never an exception class
name, and a sent-but-unacknowledged write says its outcome is unknown."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    LeaderNotAvailableError,
    NotLeaderForPartitionError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    UnknownProducerId,
)

from ingest.kafka import MAX_RECORD_BYTES, Publisher, TooLarge, breaks_producer, describe
from ingest.routes import unconfirmed
from schemas.commands import MetricTracked, User

ERRORS = [
    TimeoutError(),
    KafkaTimeoutError(),
    OutOfOrderSequenceNumber(),
    UnknownProducerId(),
    LeaderNotAvailableError(),
    KafkaConnectionError("gone"),
    ProducerFenced(),
]


@pytest.mark.parametrize("exc", ERRORS, ids=lambda e: type(e).__name__)
def test_no_exception_class_name_in_the_text(exc: BaseException) -> None:
    text = describe(exc, 5.0)
    assert type(exc).__name__ not in text and "Error" not in text and "Exception" not in text


def test_the_texts_name_what_happened() -> None:
    assert describe(TimeoutError(), 5.0) == "did not acknowledge the write within 5 s"
    assert describe(KafkaTimeoutError(), 2.5) == "did not acknowledge the write within 2.5 s"
    assert "broker restarted" in describe(OutOfOrderSequenceNumber(), 5.0)
    assert describe(LeaderNotAvailableError(), 5.0) == "refused the write (leader not available)"


def test_only_stale_producer_errors_replace_the_producer() -> None:
    assert breaks_producer(OutOfOrderSequenceNumber())
    assert breaks_producer(UnknownProducerId())
    assert breaks_producer(ProducerFenced())
    assert not breaks_producer(TimeoutError())
    assert not breaks_producer(NotLeaderForPartitionError())  # retriable: the producer copes
    assert not breaks_producer(KafkaConnectionError())


def test_an_unknown_outcome_says_so_and_asks_for_an_idempotency_key() -> None:
    one = unconfirmed("the event log (Kafka) did not acknowledge the write within 5 s", 1)
    assert one == (
        "the event log (Kafka) did not acknowledge the write within 5 s; the event may or may "
        "not have been recorded. Retry with the same Idempotency-Key on each event so that a "
        "retry cannot count it twice"
    )
    assert "the 3 events may or may not" in unconfirmed("x", 3)


class _Producer:
    """What `Publisher.publish_many` uses of aiokafka's producer; records what it is handed."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, bytes]] = []

    async def send(
        self, topic: str, value: bytes, key: bytes, headers: object = None
    ) -> asyncio.Future[object]:
        self.sent.append((key, value))
        done: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        done.set_result(None)
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
    publisher._producer = producer
    publisher.ready = True
    big = _event("u1", {"bio": "b" * 10_000})
    with pytest.raises(TooLarge, match=r"over the limit of 10,000 bytes"):
        await publisher.publish_many([_event("u0"), big])
    assert producer.sent == []  # not even the small one: nothing of the call was handed over
    assert publisher.ready and publisher._broken is None
    await publisher.publish(_event("u2"))
    assert [key for key, _ in producer.sent] == [b"u2"]


def test_the_default_limit_is_under_what_aiokafka_and_the_broker_accept() -> None:
    # aiokafka's max_request_size (1,048,576) and the broker's message.max.bytes (1,048,588)
    # refuse a larger record: refused by the broker, it would break the idempotent producer
    assert MAX_RECORD_BYTES + 1024 < 1_048_576
