"""The consume → rank → transact loop of one member of the `podium.ranking` consumer group:
the worker's `Runner` (ownership, fencing, lost partitions, rebalances), over `podium.scores`.

Per owned partition p of `podium.scores` a transactional producer
(`Names.ranking_transactional_id(p)`) commits, per batch, the `RankChanged` records
(`podium.leaderboards`, partition p), the changelog entry of each participant a change named
(`podium.ranking.state`, partition p), its dead letters and the input offset in one
transaction. On assignment the producer is started first (fencing any former owner and
settling its open transaction), then the group's committed offset is read and the rankings
are rebuilt from the compacted changelog `podium.ranking.state` (partition p: each
participant's last applied score change, written in the same transactions as the offsets),
one sort per ranking, so the rankings and the position come from the same commits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from processors.core.ranking import Rankings
from processors.runtime import telemetry
from processors.runtime.changelog import read_latest
from processors.runtime.partition import OwnedPartition, ProducerConfig, start_producers
from processors.runtime.rank_batch import rank_batch, restore_rankings
from processors.runtime.runner import TAKE_RETRIABLE, TRANSACTION_LOST, Runner
from processors.runtime.step import encode_out_record
from processors.runtime.store import StateStore
from schemas.rules import Rules
from schemas.topics import Names
from schemas.wire import InvalidRecord

log = logging.getLogger("podium.ranker")


class RankRunner(Runner):
    # An entry of podium.ranking.state that does not decode (written by a newer release, or
    # damaged) makes its partitions wait, retaken after the back-off, like a worker partition
    # at a state that does not decode: the rest of the stage goes on, nothing is dropped.
    take_retriable = (*TAKE_RETRIABLE, InvalidRecord)

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
        pipelined: bool = False,
    ) -> None:
        super().__init__(
            consumer,
            names,
            rules,
            producer_config,
            max_records=max_records,
            fence_backoff_s=fence_backoff_s,
            pipelined=pipelined,
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
            async with asyncio.timeout(self.commit_limit_s):
                await owned.transact(
                    {
                        names.leaderboards: effects.ranks,
                        names.ranking_state: [*effects.entries.items(), *effects.dropped],
                    },
                    effects.next_offset,
                    names.ranking_group,
                    [encode_out_record(d) for d in effects.dead],
                )
        except TRANSACTION_LOST as err:
            self.rankings.pop(tp.partition, None)  # it may have ranked what was not committed
            await self._lose(tp.partition, err)
            return
        owned.position = effects.next_offset
        self.applied += effects.changes
        telemetry.TRANSACTIONS.inc()
        for dead in effects.dead:
            telemetry.DEAD_LETTERS.labels(telemetry.reason_label(dead.reason)).inc()
            log.warning("dead letter %s: %s", dead.id, dead.reason)

    async def _drop(self, partitions: Iterable[int]) -> None:
        partitions = list(partitions)
        for p in partitions:
            self.rankings.pop(p, None)
        await super()._drop(partitions)

    async def take(self, partitions: Iterable[int]) -> None:
        """Own these partitions: fence former owners (concurrently), read the committed
        offsets, rebuild the rankings up to them (concurrently), keep the consumer there."""
        wanted = sorted(set(partitions) - set(self.owned))
        if not wanted:
            return
        started = time.monotonic()
        names = self.names
        txns = [names.ranking_transactional_id(p) for p in wanted]
        producers = await start_producers(self.producer_config, txns)
        taken = [
            OwnedPartition(
                names, p, prod, StateStore(), input_topic=names.scores, transactional_id=t
            )
            for p, prod, t in zip(wanted, producers, txns, strict=True)
        ]
        boards = self.rules.leaderboards
        try:
            for owned in taken:
                owned.position = await self._position_at_committed(owned.tp)
            latest = await read_latest(self.producer_config.bootstrap, names.ranking_state, wanted)
            restored = {p: restore_rankings(boards, latest[p].values()) for p in wanted}
        except BaseException as err:
            for owned in taken:
                await owned.close()
            if isinstance(err, InvalidRecord):
                log.error("partitions %s wait: a ranking changelog entry does not decode", wanted)
            raise
        for owned in taken:
            self.rankings[owned.partition] = restored[owned.partition]
            self.owned[owned.partition] = owned
            self.lost.pop(owned.partition, None)
        log.info(
            "took partitions %s: %d rankings, %d participants from %d changelog entries in %.2f s",
            wanted,
            sum(len(self.rankings[p].rankings) for p in wanted),
            sum(len(r) for p in wanted for r in self.rankings[p].rankings.values()),
            sum(len(latest[p]) for p in wanted),
            time.monotonic() - started,
        )
