"""The live page's reads of Kafka (aiokafka, as `ingest.kafka` reads; they move to the
confluent-kafka adapter with the rest of the gateway):

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
from collections.abc import Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import (
    DescribeGroupsRequest,
    DescribeGroupsRequest_v3,
    DescribeGroupsRequestStruct,
    DescribeGroupsResponse_v3,
)

from ingest.http.dashboard import Fact, GroupHealth, PipelineHealth
from schemas.commands import InvalidRecord
from schemas.leaderboards import RankChanged, decode_leaderboard_record
from schemas.records import AchievementCompleted, PointsChanged, StreakChanged, decode_record
from schemas.topics import Names

FACT_TYPES = (AchievementCompleted, StreakChanged, PointsChanged)
KEEP_S = 2.0
EXACT_UP_TO = 1000  # a lag of up to this many offsets in a partition is counted record by record


def on(topic: str, offsets: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
    return {tp: offset for tp, offset in offsets.items() if tp.topic == topic}


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


async def partitions_of(consumer: AIOKafkaConsumer, topics: Sequence[str]) -> list[TopicPartition]:
    """Every partition of the topics, once the metadata knows them all."""
    while True:
        found = {t: consumer.partitions_for_topic(t) for t in topics}
        if all(found.values()):
            return [TopicPartition(t, p) for t, parts in found.items() for p in sorted(parts or ())]
        await consumer._client.force_metadata_update()
        await asyncio.sleep(0.5)


class TopicFacts:
    def __init__(self, bootstrap: str, names: Names) -> None:
        self.bootstrap = bootstrap
        self.ranks_topic = names.leaderboards
        self.topics = (names.achievements, names.streaks, names.points, names.leaderboards)

    async def run(self, take: Callable[[Fact], None], ready: Callable[[], None]) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            isolation_level="read_committed",
            fetch_max_wait_ms=200,
        )
        try:
            await consumer.start()
            partitions = await partitions_of(consumer, self.topics)
            consumer.assign(partitions)
            await consumer.seek_to_end(*partitions)
            for tp in partitions:  # resolve the end now: a fact from here on is shown
                await consumer.position(tp)
            ready()
            while True:
                batches = await consumer.getmany(timeout_ms=1000, max_records=1000)
                for tp, records in batches.items():
                    ranks = tp.topic == self.ranks_topic
                    for rec in records:
                        fact = None if rec.value is None else decode_fact(rec.value, ranks)
                        if fact is not None:
                            take(fact)
        finally:
            await consumer.stop()


class _DescribeGroupsV3(DescribeGroupsRequest_v3):
    RESPONSE_TYPE = DescribeGroupsResponse_v3


class DescribeGroups(DescribeGroupsRequest):
    """aiokafka 0.14's DescribeGroups, but a v3 answer is read with v3's layout: aiokafka reads
    it with v2's (no `authorized_operations`) and fails on every broker that speaks v3."""

    def build(self, request_struct_class: type[DescribeGroupsRequestStruct]) -> Any:
        if request_struct_class.API_VERSION == 3:
            return _DescribeGroupsV3(self._groups, False)
        return super().build(request_struct_class)


async def members(admin: AIOKafkaAdminClient, groups: Sequence[str]) -> dict[str, int]:
    """The members of each consumer group (0: none, or no such group)."""
    out: dict[str, int] = {}
    for group in groups:
        node = await admin.find_coordinator(group)
        response = await admin._client.send(node, DescribeGroups([group]))
        for described in response.to_object()["groups"]:
            out[described["group"]] = len(described["members"])
    return out


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
        self._dlq_read: dict[TopicPartition, int] = {}  # where the dead letters were counted to
        self._dlq_count = 0
        self._lock = asyncio.Lock()

    async def health(self) -> PipelineHealth:
        async with self._lock:
            kept = self._kept
            if kept is None or time.time() * 1000 - kept.checked_ms > KEEP_S * 1000:
                self._kept = kept = await asyncio.wait_for(self._probe(), 10.0)
            return kept

    async def _probe(self) -> PipelineHealth:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            isolation_level="read_committed",
        )
        try:
            await admin.start()
            await consumer.start()
            # every topic at once: once the consumer has an assignment, its metadata covers
            # only the assigned topics
            topics = sorted({t for _, _, t in self.groups} | {self.names.dlq})
            ends = await consumer.end_offsets(await partitions_of(consumer, topics))
            running = await members(admin, [g for _, g, _ in self.groups])
            groups = [
                GroupHealth(
                    process=process,
                    group=group,
                    topic=topic,
                    members=running.get(group, 0),
                    lag=await self._lag(admin, consumer, group, on(topic, ends)),
                )
                for process, group, topic in self.groups
            ]
            dead = await self._dead_letters(consumer, list(on(self.names.dlq, ends)))
        finally:
            await consumer.stop()
            await admin.close()
        return PipelineHealth(groups=groups, dead_letters=dead, checked_ms=int(time.time() * 1000))

    async def _dead_letters(
        self, consumer: AIOKafkaConsumer, parts: Sequence[TopicPartition]
    ) -> int:
        """The records on the dead-letter topic's `parts`, counted by reading them (their end
        offsets also count the worker's transaction markers), from where the last probe
        stopped."""
        starts = {tp: self._dlq_read.get(tp) for tp in parts}
        unread = [tp for tp, at in starts.items() if at is None]
        firsts = await consumer.beginning_offsets(unread) if unread else {}
        counted, self._dlq_read = await count_records(
            consumer, {tp: firsts.get(tp, at or 0) for tp, at in starts.items()}
        )
        self._dlq_count += counted
        return self._dlq_count

    @staticmethod
    async def _lag(
        admin: AIOKafkaAdminClient,
        consumer: AIOKafkaConsumer,
        group: str,
        ends: dict[TopicPartition, int],
    ) -> int | None:
        """Records past the group's committed offsets on the partitions of `ends` (None:
        nothing committed). A topic written in transactions (`podium.scores`, `podium.state`)
        has a commit marker after each transaction, which takes an offset but is no record: a
        gap of up to `EXACT_UP_TO` offsets is counted by reading it, a larger one is the
        offsets' difference (markers included)."""
        committed = {
            tp: meta.offset
            for tp, meta in (await admin.list_consumer_group_offsets(group)).items()
            if tp in ends and meta.offset >= 0
        }
        if not committed:
            return None
        gaps = {tp: end - committed.get(tp, 0) for tp, end in ends.items()}
        small = {tp: committed.get(tp, 0) for tp, gap in gaps.items() if 0 < gap <= EXACT_UP_TO}
        counted = (await count_records(consumer, small))[0] if small else 0
        return counted + sum(gap for tp, gap in gaps.items() if tp not in small)


async def count_records(
    consumer: AIOKafkaConsumer, starts: dict[TopicPartition, int], within_s: float = 2.0
) -> tuple[int, dict[TopicPartition, int]]:
    """The records (read_committed) from `starts` to the partitions' ends, and the positions
    reached (short of the end when `within_s` ran out). A position may stop before a last
    commit marker, which is no record: two empty fetches in a row end the count."""
    consumer.assign(list(starts))
    for tp, offset in starts.items():
        consumer.seek(tp, offset)
    ends = await consumer.end_offsets(list(starts))
    deadline = time.monotonic() + within_s
    count, empty = 0, 0
    while empty < 2 and time.monotonic() < deadline:
        if not [tp for tp in starts if await consumer.position(tp) < ends[tp]]:
            break
        batches = await consumer.getmany(timeout_ms=200, max_records=10_000)
        got = sum(len(records) for records in batches.values())
        count += got
        empty = 0 if got else empty + 1
    return count, {tp: await consumer.position(tp) for tp in starts}
