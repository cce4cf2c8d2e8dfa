"""`podium ranker`: the composition root of the ranking stage.

Reads `podium.scores` (read_committed) in its own consumer group `podium.ranking`; writes
`podium.leaderboards` (`RankChanged`, the input's partition) and `podium.events.dlq`, each
batch of each input partition in one Kafka transaction together with its input offset, like
the worker (docs/leaderboards.md, "The ranking stage").
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient

from processors.runtime import telemetry
from processors.runtime.gc_tuning import tune_gc
from processors.runtime.ops_server import Operations, OpsConfig, operated
from processors.runtime.partition import ProducerConfig
from processors.runtime.rank_runner import RankRunner
from processors.worker import WorkerConfig, consumer_for
from schemas.rules import Rules
from schemas.topics import Names

log = logging.getLogger("podium.ranker")


@dataclass(frozen=True, slots=True)
class RankerConfig:
    """What the ranking stage needs (built from the settings by the CLI)."""

    bootstrap: str
    names: Names
    session_timeout_ms: int = 10_000
    transaction_timeout_ms: int = 10_000
    max_records: int = 50_000
    fence_backoff_s: float = 3.0
    pipelined: bool = False  # the pipelined loop instead of the barrier loop (runner.py)
    ops: OpsConfig | None = None  # /metrics, /livez, /readyz (None: not served)


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
    """Run one member of the ranking stage until `stop` is set, serving its metrics and
    probes meanwhile."""
    async with operated(config.ops, "ranker", config.bootstrap) as ops:
        await _rank(config, rules, stop, ops)


def count_rankings(runner: RankRunner) -> None:
    """`podium_rankings` and `podium_ranking_participants` of what the ranker holds."""
    held = [ranking for r in runner.rankings.values() for ranking in r.rankings.values()]
    telemetry.RANKINGS.set(len(held))
    telemetry.RANKING_PARTICIPANTS.set(sum(len(ranking) for ranking in held))


async def _rank(config: RankerConfig, rules: Rules, stop: asyncio.Event, ops: Operations) -> None:
    tune_gc()
    names = config.names
    partitions = await check_partitions(config.bootstrap, names)
    consumer = consumer_for(
        WorkerConfig(config.bootstrap, names, session_timeout_ms=config.session_timeout_ms),
        group=names.ranking_group,
    )
    await consumer.start()
    runner = RankRunner(
        consumer,
        names,
        rules,
        ProducerConfig(config.bootstrap, config.transaction_timeout_ms),
        partitions=partitions,
        max_records=config.max_records,
        fence_backoff_s=config.fence_backoff_s,
        pipelined=config.pipelined,
    )
    ops.watch(names.ranking_group, names.scores, runner.pulse)
    ops.also(lambda: count_rankings(runner))
    log.info("ranker started: group %s, %d boards", names.ranking_group, len(rules.leaderboards))
    try:
        await runner.run(stop)
    finally:
        await consumer.stop()
        log.info("ranker stopped after ranking %d score changes", runner.applied)
