"""What the gateway says when a write fails: in the user's terms, never an exception class
name, and a sent-but-unacknowledged write says its outcome is unknown."""

from __future__ import annotations

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

from ingest.kafka import breaks_producer, describe
from ingest.routes import unconfirmed

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
