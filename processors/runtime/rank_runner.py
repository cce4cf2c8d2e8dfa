"""The consume → rank → transact loop of one member of the `podium.ranking` consumer group:
the worker's `Runner` (ownership, fencing, lost partitions, rebalances), over `podium.scores`.

Per owned partition p of `podium.scores` a transactional producer
(`Names.ranking_transactional_id(p)`) commits, per batch, the `RankChanged` records
(`podium.leaderboards`, partition p), its dead letters and the input offset in one
transaction. On assignment the producer is started first (fencing any former owner and
settling its open transaction), then the group's committed offset is read and the rankings
are rebuilt from `podium.scores` up to it — each participant's last change, one sort per
ranking — so the rankings and the position come from the same committed transactions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from processors.ranking import Rankings
from processors.runtime import metrics
from processors.runtime.changelog import read_until
from processors.runtime.partition import OwnedPartition, ProducerConfig, start_producer
from processors.runtime.rank_batch import keep_last, rank_batch
from processors.runtime.runner import Runner
from processors.runtime.step import encode_out_record
from processors.runtime.store import StateStore
from schemas.leaderboards import ScoreChanged
from schemas.rules import Rules
from schemas.topics import Names

log = logging.getLogger("podium.ranker")


class RankRunner(Runner):
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        names: Names,
        rules: Rules,
        producer_config: ProducerConfig,
        *,
        partitions: int,
        max_records: int = 50_000,
        fence_backoff_s: float = 3.0,
    ) -> None:
        super().__init__(
            consumer,
            names,
            rules,
            producer_config,
            max_records=max_records,
            fence_backoff_s=fence_backoff_s,
        )
        self.input_topic = names.scores
        self.partitions = partitions  # of podium.scores: ranking_partition's n
        self.rankings: dict[int, Rankings] = {}

    async def _process(
        self, tp: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]
    ) -> None:
        owned = self.owned.get(tp.partition)
        rankings = self.rankings.get(tp.partition)
        if owned is None or rankings is None or not records:
            return  # revoked or lost meanwhile: the next owner reads these again
        records = [rec for rec in records if rec.offset >= owned.position]
        if not records:
            return  # already applied (a stale fetch)
        effects = rank_batch(rankings, records, tp.topic, tp.partition, self.partitions)
        names = self.names
        try:
            await owned.transact(
                {names.leaderboards: effects.ranks},
                effects.next_offset,
                names.ranking_group,
                [encode_out_record(d) for d in effects.dead],
            )
        except KafkaError as err:
            self.rankings.pop(tp.partition, None)  # it may have ranked what was not committed
            await self._lose(tp.partition, err)
            return
        owned.position = effects.next_offset
        self.applied += effects.changes
        metrics.TRANSACTIONS.inc()
        for dead in effects.dead:
            metrics.DEAD_LETTERS.labels(metrics.reason_label(dead.reason)).inc()
            log.warning("dead letter %s: %s", dead.id, dead.reason)

    async def _drop(self, partitions: Iterable[int]) -> None:
        partitions = list(partitions)
        for p in partitions:
            self.rankings.pop(p, None)
        await super()._drop(partitions)

    async def take(self, partitions: Iterable[int]) -> None:
        """Own these partitions: fence former owners, rebuild the rankings up to the
        committed offset, position the consumer there."""
        for p in sorted(set(partitions) - set(self.owned)):
            started = time.monotonic()
            names = self.names
            txn = names.ranking_transactional_id(p)
            producer = await start_producer(self.producer_config, txn)
            owned = OwnedPartition(
                names, p, producer, StateStore(), input_topic=names.scores, transactional_id=txn
            )
            try:
                owned.position = await self._position_at_committed(owned.tp)
                rankings, records = await self._restore(p, owned.position)
            except BaseException:
                await owned.close()
                raise
            self.rankings[p] = rankings
            self.owned[p] = owned
            self.lost.pop(p, None)
            log.info(
                "took partition %d: %d rankings, %d participants from %d score changes in %.2f s",
                p,
                len(rankings.rankings),
                sum(len(r) for r in rankings.rankings.values()),
                records,
                time.monotonic() - started,
            )

    async def _restore(self, partition: int, end: int) -> tuple[Rankings, int]:
        last: dict[tuple[str, str], ScoreChanged] = {}
        records = 0
        reader = read_until(self.producer_config.bootstrap, self.input_topic, partition, end)
        async for batch in reader:
            records += len(batch)
            keep_last(batch, partition, self.partitions, last)
        return Rankings.restore(self.rules.leaderboards, last.values()), records
