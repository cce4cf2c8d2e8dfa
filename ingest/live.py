"""The live page's reads of Kafka, through Podium's Kafka adapter
(`processors.runtime.kafka`, confluent-kafka; its blocking calls run in worker threads):

- `TopicFacts`: the feed's source (`ingest.feed.FactSource`). Reads every partition of
  `podium.achievements`, `podium.streaks`, `podium.points` and `podium.leaderboards`,
  read_committed, with no consumer group, from their end as it stands when a page starts
  listening; the hub runs it only while a page listens. A record that does not decode is
  skipped: it is not the gateway's to judge (the topic's consumers dead-letter it).
- `PipelineProbe`: on demand (a page asks for health), what the broker says of the pipeline:
  each consumer group's members (its processes) and lag, and the dead letters parked on
  `podium.events.dlq`. The answer is kept `KEEP_S` so that many pages cost one probe.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence

from confluent_kafka import (
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from ingest.http.dashboard import Fact, GroupHealth, PipelineHealth
from processors.runtime import kafka, kafka_async
from schemas.commands import InvalidRecord
from schemas.leaderboards import RankChanged, decode_leaderboard_record
from schemas.records import AchievementCompleted, PointsChanged, StreakChanged, decode_record
from schemas.topics import Names

FACT_TYPES = (AchievementCompleted, StreakChanged, PointsChanged)
KEEP_S = 2.0
EXACT_UP_TO = 1000  # a lag of up to this many offsets in a partition is counted record by record


def decode_fact(raw: bytes, ranks: bool) -> Fact | None:
    """A fact of the feed's topics (`ranks`: of `podium.leaderboards`), None if it is not."""
    try:
        if ranks:
            rec = decode_leaderboard_record(raw)
            return rec if isinstance(rec, RankChanged) else None
        found = decode_record(raw)
    except InvalidRecord:
        return None
    return found if isinstance(found, FACT_TYPES) else None


class TopicFacts:
    def __init__(self, bootstrap: str, names: Names) -> None:
        self.bootstrap = bootstrap
        self.ranks_topic = names.leaderboards
        self.topics = (names.achievements, names.streaks, names.points, names.leaderboards)

    def _assignment(self) -> list[TopicPartition]:
        """Every partition of the topics at its end now (read_committed: the last stable
        offset), so that every fact committed from here on is read."""
        out = []
        client = kafka.admin(self.bootstrap)
        for topic in self.topics:
            count = kafka.count_partitions(client, topic)
            ends = kafka.end_offsets(self.bootstrap, topic, range(count))
            out += [TopicPartition(topic, p, end) for p, end in sorted(ends.items())]
        return out

    def _facts(self, messages: list[Message]) -> list[Fact]:
        out = []
        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    continue
                raise KafkaException(err)  # the hub reads again after a second
            raw = msg.value()
            fact = None if raw is None else decode_fact(raw, msg.topic() == self.ranks_topic)
            if fact is not None:
                out.append(fact)
        return out

    async def run(self, take: Callable[[Fact], None], ready: Callable[[], None]) -> None:
        consumer = kafka.consumer(self.bootstrap)
        polling: asyncio.Future[list[Message]] | None = None
        try:
            consumer.assign(await asyncio.to_thread(self._assignment))
            ready()
            while True:
                polling = asyncio.ensure_future(asyncio.to_thread(consumer.consume, 500, 0.5))
                for fact in self._facts(await asyncio.shield(polling)):
                    take(fact)
        finally:
            if polling is not None:  # cancelled mid-poll: the consumer closes once it returns
                await asyncio.wait([polling])
            await asyncio.to_thread(consumer.close)


def _members(client: AdminClient, groups: Sequence[str]) -> dict[str, int]:
    """The members of each consumer group (0: none, or no such group)."""
    futures = client.describe_consumer_groups(list(groups), request_timeout=10)
    return {group: len(future.result().members) for group, future in futures.items()}


def _committed(client: AdminClient, group: str, topic: str) -> dict[int, int]:
    """The group's committed offsets on `topic`, by partition (none: never committed)."""
    asked = [ConsumerGroupTopicPartitions(group)]
    answer = client.list_consumer_group_offsets(asked, request_timeout=10)[group].result()
    return {
        tp.partition: tp.offset
        for tp in answer.topic_partitions or ()
        if tp.topic == topic and tp.offset >= 0
    }


async def count_records(
    bootstrap: str, topic: str, start: Mapping[int, int]
) -> tuple[int, dict[int, int]]:
    """The records (read_committed) of `topic`'s partitions in `start` from there to their
    ends now, and per partition the offset after the last record counted. Transaction
    markers take offsets but are no records: the adapter's range read skips them."""
    count, after = 0, dict(start)
    async for batch in kafka_async.read_range_async(bootstrap, topic, list(start), start):
        count += len(batch)
        for rec in batch:
            after[rec.partition] = rec.offset + 1
    return count, after


class PipelineProbe:
    def __init__(self, bootstrap: str, names: Names) -> None:
        self.bootstrap = bootstrap
        self.names = names
        # (process, consumer group, the topic it consumes)
        self.groups = (
            ("worker", names.worker_group, names.events),
            ("ranker", names.ranking_group, names.scores),
            ("projector", names.projector_group, names.state),
            ("projector (boards)", names.board_views_group, names.ranking_state),
            ("projector (history)", names.board_history_group, names.leaderboards),
        )
        self._kept: PipelineHealth | None = None
        self._dlq_read: dict[int, int] = {}  # partition -> where the dead letters were counted to
        self._dlq_count = 0
        self._lock = asyncio.Lock()

    async def health(self) -> PipelineHealth:
        async with self._lock:
            kept = self._kept
            if kept is None or time.time() * 1000 - kept.checked_ms > KEEP_S * 1000:
                self._kept = kept = await asyncio.wait_for(self._probe(), 10.0)
            return kept

    async def _probe(self) -> PipelineHealth:
        client = kafka.admin(self.bootstrap)
        running = await asyncio.to_thread(_members, client, [g for _, g, _ in self.groups])
        groups = [
            GroupHealth(
                process=process,
                group=group,
                topic=topic,
                members=running.get(group, 0),
                lag=await self._lag(client, group, topic),
            )
            for process, group, topic in self.groups
        ]
        dead = await self._dead_letters(client)
        return PipelineHealth(groups=groups, dead_letters=dead, checked_ms=int(time.time() * 1000))

    async def _dead_letters(self, client: AdminClient) -> int:
        """The records on the dead-letter topic, counted by reading it (its end offsets also
        count the worker's transaction markers), from where the last probe stopped."""
        topic = self.names.dlq
        count = await asyncio.to_thread(kafka.count_partitions, client, topic)
        start = {p: self._dlq_read.get(p, 0) for p in range(count)}
        counted, self._dlq_read = await count_records(self.bootstrap, topic, start)
        self._dlq_count += counted
        return self._dlq_count

    async def _lag(self, client: AdminClient, group: str, topic: str) -> int | None:
        """Records past the group's committed offsets on `topic` (None: nothing committed). A
        topic written in transactions (`podium.scores`, `podium.state`) has a commit marker
        after each transaction, which takes an offset but is no record: a gap of up to
        `EXACT_UP_TO` offsets is counted by reading it, a larger one is the offsets'
        difference (markers included)."""
        committed = await asyncio.to_thread(_committed, client, group, topic)
        if not committed:
            return None
        count = await asyncio.to_thread(kafka.count_partitions, client, topic)
        ends = await asyncio.to_thread(kafka.end_offsets, self.bootstrap, topic, range(count))
        gaps = {p: end - committed.get(p, 0) for p, end in ends.items()}
        small = {p: committed.get(p, 0) for p, gap in gaps.items() if 0 < gap <= EXACT_UP_TO}
        counted = (await count_records(self.bootstrap, topic, small))[0] if small else 0
        return counted + sum(gap for p, gap in gaps.items() if p not in small)
