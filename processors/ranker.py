"""`podium ranker`: the composition root of the ranking stage.

Reads `podium.scores` (read_committed) in its own consumer group `podium.ranking`; writes
`podium.leaderboards` (`RankChanged`, the input's partition), its changelog
`podium.ranking.state` and `podium.events.dlq`, on the worker's runtime (`runtime.runner`,
`runtime.stages.RankStage`): ranked as the changes arrive, committed on the same cadence in
one transaction with the input offsets (docs/leaderboards.md, "The ranking stage").
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka.admin import AIOKafkaAdminClient

from processors.runtime.gc_tuning import tune_gc
from processors.runtime.runner import Runtime
from processors.runtime.stages import RankStage
from processors.worker import WorkerConfig
from schemas.rules import Rules
from schemas.topics import Names

log = logging.getLogger("podium.ranker")


# The ranking stage's settings are a worker's (its transactional id: "<ranking group>.<id>").
RankerConfig = WorkerConfig


async def check_partitions(bootstrap: str, names: Names) -> int:
    """Rank changes go to their input's partition number: `podium.leaderboards` must have
    as many partitions as `podium.scores`. Returns that count."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([names.scores, names.leaderboards])
        counts = {t["topic"]: len(t["partitions"]) for t in described}
    finally:
        await admin.close()
    if len(set(counts.values())) != 1 or 0 in counts.values():
        raise RuntimeError(f"partition counts differ or topics are missing: {counts}")
    return counts[names.scores]


async def run_ranker(config: RankerConfig, rules: Rules, stop: asyncio.Event) -> None:
    """Run one member of the ranking stage until `stop` is set."""
    tune_gc()
    names = config.names
    partitions = await check_partitions(config.bootstrap, names)
    stage = RankStage(names, rules, partitions)
    runtime = Runtime(stage, config.runtime(names.ranking_group))
    log.info("ranker started: group %s, %d boards", names.ranking_group, len(rules.leaderboards))
    try:
        await runtime.run(stop)
    finally:
        log.info("ranker stopped after ranking %d score changes", runtime.applied)
