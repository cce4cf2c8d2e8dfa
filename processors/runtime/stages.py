"""What the runtime (`runner.Runtime`) folds: the stream worker over `podium.events` and the
ranking stage over `podium.scores`. A stage keeps the state of the input partitions it owns,
restores one from its changelog, and folds a partition's records into an `Outbox`; the
runtime does everything that touches Kafka.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from processors.core.ranking import Rankings
from processors.runtime.batch import Blocked, fold_batch
from processors.runtime.outbox import Outbox
from processors.runtime.rank_batch import rank_batch, restore_rankings
from processors.runtime.step import encode_out_record
from processors.runtime.store import StateStore
from schemas.records import DeadLetter
from schemas.rules import Rules
from schemas.topics import PROGRESS, Names, progress_partition
from schemas.wire import InvalidRecord

Headers = list[tuple[str, bytes]]


class Rec(NamedTuple):
    """A consumed record as the folds read it (confluent-kafka's Message has methods)."""

    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers | None = None


@dataclass
class Folded:
    """What folding one partition's records gave, besides what went into the outbox."""

    next_offset: int  # the input offset to commit (the last applied + 1, or a blocked one's)
    events: int
    answers: list[tuple[str, bytes]] = field(default_factory=list)  # (gateway, progress record)
    dead: list[DeadLetter] = field(default_factory=list)
    blocked: Blocked | None = None  # the partition stops before this user's event


class Stage(Protocol):
    name: str  # for logs: "worker", "ranker"
    input_topic: str
    group: str  # the consumer group, whose committed offsets the transactions move
    changelog: str  # the compacted topic a partition's state is restored from
    # errors of `restore` that make a partition wait and retry instead of ending the run
    restore_retriable: tuple[type[Exception], ...]

    def restore(self, partition: int, latest: dict[str, bytes]) -> None: ...

    def drop(self, partition: int) -> None: ...

    def restored(self, partitions: Sequence[int]) -> str:
        """What these partitions hold once restored, for the log."""
        ...

    def fold(self, partition: int, records: Sequence[Rec], out: Outbox) -> Folded: ...


class WorkerStage:
    """Events into user states (`batch.fold_batch`): writes `podium.state` (keyed),
    the facts (the input's partition), the progress (`progress_partition` of the input's),
    score changes (their ranking's partition of `podium.scores`) and dead letters; each event
    that named its gateway is answered."""

    name = "worker"
    restore_retriable: tuple[type[Exception], ...] = ()

    def __init__(
        self,
        names: Names,
        rules: Rules,
        score_partitions: int,
        progress_partitions: int = PROGRESS.partitions,
    ) -> None:
        self.names = names
        self.rules = rules
        self.score_partitions = score_partitions
        self.progress_partitions = progress_partitions
        self.input_topic = names.events
        self.group = names.worker_group
        self.changelog = names.state
        self.stores: dict[int, StateStore] = {}

    def restore(self, partition: int, latest: dict[str, bytes]) -> None:
        self.stores[partition] = StateStore(latest)

    def drop(self, partition: int) -> None:
        self.stores.pop(partition, None)

    def restored(self, partitions: Sequence[int]) -> str:
        return f"{sum(len(self.stores[p]) for p in partitions)} users"

    def fold(self, partition: int, records: Sequence[Rec], out: Outbox) -> Folded:
        names = self.names
        effects = fold_batch(
            self.stores[partition],
            records,
            self.rules,
            names.events,
            partition,
            score_partitions=self.score_partitions,
        )
        out.keep(names.state, partition, effects.encoded_states)
        for topic, items in effects.derived.items():
            to = (
                progress_partition(partition, self.progress_partitions)
                if topic is PROGRESS
                else partition
            )
            out.add(names.of(topic), to, items)
        for score_partition, scores in effects.scores.items():
            out.add_headed(names.scores, score_partition, scores)
        out.add(names.dlq, -1, ((None, encode_out_record(d)) for d in effects.dead))
        return Folded(
            effects.next_offset, effects.events, effects.answers, effects.dead, effects.blocked
        )


class RankStage:
    """Score changes into rankings (`rank_batch.rank_batch`): writes `podium.leaderboards`
    (the input's partition), the changelog `podium.ranking.state` (keyed: each participant's
    last applied change; a dropped run's participants: a leave, then a tombstone) and dead
    letters; each mover whose score change named its gateway is answered. A changelog entry
    that does not decode makes its partition wait (`restore_retriable`), like a worker
    partition at an undecodable state."""

    name = "ranker"
    restore_retriable: tuple[type[Exception], ...] = (InvalidRecord,)

    def __init__(self, names: Names, rules: Rules, partitions: int) -> None:
        self.names = names
        self.rules = rules
        self.partitions = partitions  # of podium.scores: ranking_partition's n
        self.input_topic = names.scores
        self.group = names.ranking_group
        self.changelog = names.ranking_state
        self.rankings: dict[int, Rankings] = {}

    def restore(self, partition: int, latest: dict[str, bytes]) -> None:
        self.rankings[partition] = restore_rankings(self.rules.leaderboards, latest.values())

    def drop(self, partition: int) -> None:
        self.rankings.pop(partition, None)

    def restored(self, partitions: Sequence[int]) -> str:
        rankings = [r for p in partitions for r in self.rankings[p].rankings.values()]
        return f"{len(rankings)} rankings, {sum(map(len, rankings))} participants"

    def fold(self, partition: int, records: Sequence[Rec], out: Outbox) -> Folded:
        names = self.names
        effects = rank_batch(
            self.rankings[partition], records, names.scores, partition, self.partitions
        )
        out.add(names.leaderboards, partition, effects.ranks)
        out.keep(names.ranking_state, partition, effects.entries.items())
        # a dropped run's participants (`processors.core.retention`): a leave, in order, for
        # the projector, then the key's tombstone, written after it as the key's last value
        # in this commit (no entry of this commit outlives it)
        out.add(names.ranking_state, partition, effects.leaves)
        out.keep(names.ranking_state, partition, ((key, None) for key, _ in effects.leaves))
        out.add(names.dlq, -1, ((None, encode_out_record(d)) for d in effects.dead))
        return Folded(effects.next_offset, effects.changes, effects.answers, effects.dead)
