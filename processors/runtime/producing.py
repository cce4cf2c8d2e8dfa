"""The runtime's Kafka clients: their configuration (one function, `client_configs`, until the
project's adapter `processors/runtime/kafka.py` builds them) and one transaction of the
transactional producer (`transact`). librdkafka's calls here block: the runtime makes them
in threads of its own (`runner.Runtime`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from confluent_kafka import KafkaException, Producer, TopicPartition

if TYPE_CHECKING:
    from processors.runtime.outbox import Out
    from processors.runtime.runner import RuntimeConfig

log = logging.getLogger("podium.runtime")
FETCH_PARTITION_BYTES = 4 * 1024 * 1024
FETCH_BYTES = 32 * 1024 * 1024
MESSAGE_BYTES = 1_048_588  # the broker's message.max.bytes (its default)

__all__ = ["CommitFailed", "Producer", "client_configs", "transact"]


class CommitFailed(Exception):
    """A transaction that did not commit, aborted; `replace`: its producer cannot go on
    (fenced, fatal, or the abort itself failed) and a new one must be started."""

    def __init__(self, cause: BaseException, *, replace: bool) -> None:
        super().__init__(str(cause))
        self.replace = replace


def client_configs(config: RuntimeConfig, group: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The consumer's and the transactional producer's librdkafka settings."""
    session = config.session_timeout_ms
    consumer = {
        "bootstrap.servers": config.bootstrap,
        "group.id": group,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
        "partition.assignment.strategy": "cooperative-sticky",
        "session.timeout.ms": session,
        "heartbeat.interval.ms": max(500, session // 3),
        "max.poll.interval.ms": max(60_000, session),
        "max.partition.fetch.bytes": FETCH_PARTITION_BYTES,
        "fetch.max.bytes": FETCH_BYTES,
    }
    producer = {
        "bootstrap.servers": config.bootstrap,
        "transactional.id": config.transactional_id,
        "transaction.timeout.ms": config.transaction_timeout_ms,
        "acks": "all",
        "linger.ms": 5,  # commit_transaction flushes at once anyway
        "retry.backoff.ms": config.retry_backoff_ms,
        "batch.size": MESSAGE_BYTES,
        "message.max.bytes": MESSAGE_BYTES,
        "queue.buffering.max.messages": 2_000_000,
        "queue.buffering.max.kbytes": 2 * 1024 * 1024,
    }
    return consumer, producer


# The transactional calls block at most the transaction's remaining time (librdkafka's
# advice: another timeout risks desynchronising its state when a request fails); the runtime
# gives a commit up after twice its timeout anyway (`runner.Runtime._commit`).
REMAINING = -1


def transact(
    producer: Producer,
    records: Iterable[Out],
    offsets: list[TopicPartition],
    group_metadata: object,
) -> None:
    """Commit the records and the input offsets in one transaction; on failure abort it and
    raise `CommitFailed`."""
    try:
        producer.begin_transaction()
        for topic, partition, key, value, headers in records:
            _produce(producer, topic, partition, key, value, headers)
        producer.send_offsets_to_transaction(offsets, group_metadata, REMAINING)
        producer.commit_transaction(REMAINING)
    except KafkaException as exc:
        raise CommitFailed(exc, replace=not _aborted(producer, exc)) from exc
    finally:
        producer.poll(0)  # serve the delivery reports


def _produce(
    producer: Producer,
    topic: str,
    partition: int,
    key: bytes | None,
    value: bytes | None,
    headers: list[tuple[str, bytes]] | None,
) -> None:
    """One record; a value None is a tombstone."""
    while True:
        try:
            producer.produce(topic, value, key, partition=partition, headers=cast(Any, headers))
            return
        except BufferError:  # the local queue is full: let librdkafka send some first
            producer.poll(0.05)


def _aborted(producer: Producer, exc: KafkaException) -> bool:
    """Abort the failed transaction; False when the producer cannot go on."""
    err = exc.args[0]
    if err.fatal():
        return False
    try:
        producer.abort_transaction(REMAINING)
    except KafkaException as again:
        log.warning("abort failed too (%s): a new producer follows", again)
        return False
    return True
