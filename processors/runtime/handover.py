"""`podium replay`'s hand-over: one transactional producer (confluent-kafka) that commits the
rebuilt states, the backfilled facts and scores with the worker group's input offset, and the
check that makes it safe: the worker group has no member.

The workers run one transactional producer per process (`<group>.<PODIUM_WORKER_ID>`) and
commit their offsets with their consumer's group metadata (KIP-447). A replay's producer has
an id of its own, so it fences no worker, and its offset commit carries no generation, so the
group does not fence it either: a live worker would keep its old in-memory states and its next
commit would overwrite the replayed ones. So the replay hands over only while the worker group
is empty, and refuses (`WorkersRunning`) otherwise (docs/runtime.md, "Replay and backfill").
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from confluent_kafka import Consumer, Producer, TopicPartition

from processors.runtime import kafka
from processors.runtime.outbox import Out
from processors.runtime.producing import MESSAGE_BYTES, transact
from processors.runtime.step import encode_out_record
from schemas.records import AchievementCompleted, PointsChanged, StreakChanged
from schemas.topics import Names, output_topic
from schemas.values import replace

log = logging.getLogger("podium.replay")
INIT_TIMEOUT_S = 30.0


class WorkersRunning(RuntimeError):
    """The worker group has members: a hand-over now could be overwritten by them."""

    def __init__(self, group: str, members: Sequence[str], handed_over: int = 0) -> None:
        done = (
            f"partitions 0..{handed_over - 1} were handed over (a new replay finds their facts "
            "emitted)"
            if handed_over
            else "nothing was handed over"
        )
        super().__init__(
            f"the worker group {group} has {len(members)} member(s) ({', '.join(members)}): "
            "stop every `podium worker` (and any `podium replay --follow`), run `podium replay` "
            f"again, then start the workers; {done}"
        )
        self.members = list(members)


def require_idle(bootstrap: str, group: str, handed_over: int = 0) -> None:
    """Raise `WorkersRunning` when the consumer group `group` has members now (`handed_over`:
    how many partitions, in order, the replay has handed over already)."""
    members = kafka.group_members(bootstrap, group)
    if members:
        raise WorkersRunning(group, members, handed_over)


class HandOver:
    """A transactional producer committing into the worker group's offsets. Its id is the
    group's plus `.replay`: two replays fence each other, no worker is fenced. Blocking calls:
    run them in a thread."""

    def __init__(self, bootstrap: str, group: str, transaction_timeout_ms: int) -> None:
        self.group = group
        self.producer = kafka.producer(
            bootstrap,
            client_id="podium-replay",
            transactional_id=f"{group}.replay",
            transaction_timeout_ms=transaction_timeout_ms,
            message_timeout_ms=transaction_timeout_ms,  # librdkafka: at most the transaction's
            request_timeout_ms=min(30_000, transaction_timeout_ms),
            linger_ms=5,
            batch_size=MESSAGE_BYTES,
            message_max_bytes=MESSAGE_BYTES,
            queue_buffering_max_messages=2_000_000,
            queue_buffering_max_kbytes=2 * 1024 * 1024,
        )
        # a consumer of the group that never subscribes: its metadata has no generation
        # and no member id, which the coordinator accepts only for a transactional commit
        self.consumer: Consumer = kafka.consumer(bootstrap, group, client_id="podium-replay")

    def start(self) -> None:
        """Initialise the transactions (this settles the former replay's open one)."""
        self.producer.init_transactions(INIT_TIMEOUT_S)

    def commit(self, records: Sequence[Out], topic: str, partition: int, offset: int) -> None:
        """One transaction: the records and the group's offset `offset` of `topic`/`partition`
        (`producing.CommitFailed` when it did not commit)."""
        at = [TopicPartition(topic, partition, offset)]
        transact(self.producer, records, at, self.consumer.consumer_group_metadata())

    def close(self) -> None:
        """Flush what is left (nothing after a commit) and close the consumer."""
        self.producer.flush(10)
        self.consumer.close()


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A partition's hand-over records, and how many are states and score changes."""

    records: list[Out]
    states: int
    scores: int


def outgoing(
    names: Names,
    partition: int,
    states: Sequence[tuple[str, bytes]],
    facts: Iterable[AchievementCompleted | StreakChanged | PointsChanged],
    scores: dict[int, list[tuple[bytes, bytes]]],
) -> Outgoing:
    """The states (user id, encoded state) and the facts, flagged backfilled, on the input
    partition's partition of their topics; the score changes (key, value) on the rankings'
    `podium.scores` partitions they are listed under."""
    out: list[Out] = [(names.state, partition, uid.encode(), raw, None) for uid, raw in states]
    out += [
        (
            names.of(output_topic(type(f))),
            partition,
            f.user_id.encode(),
            encode_out_record(replace(f, backfilled=True)),
            None,
        )
        for f in facts
    ]
    routed: list[Out] = [
        (names.scores, sp, k, v, None) for sp, kvs in sorted(scores.items()) for k, v in kvs
    ]
    return Outgoing(out + routed, len(states), len(routed))


__all__ = ["HandOver", "Outgoing", "Producer", "WorkersRunning", "outgoing", "require_idle"]
