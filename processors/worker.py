"""`podium worker`: the composition root of a stream worker.

Reads `podium.events`; writes `podium.state`, `podium.progress`, `podium.achievements`,
`podium.streaks`, `podium.points`, `podium.scores` (on each ranking's own partition) and
`podium.events.dlq`, each batch of each input partition in one Kafka transaction together
with its input offset (see docs/runtime.md). Pushes each answer to the gateway waiting for
it (`runtime.answers`) as soon as it is folded.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from processors.runtime.answers import AnswerPusher
from processors.runtime.gc_tuning import tune_gc
from processors.runtime.ops_server import Operations, OpsConfig, operated
from processors.runtime.partition import ProducerConfig
from processors.runtime.runner import Runner
from schemas.rules import Rules
from schemas.topics import PARTITION_ALIGNED, Names

log = logging.getLogger("podium.worker")


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """What a stream worker needs (built from the settings by the CLI)."""

    bootstrap: str
    names: Names
    session_timeout_ms: int = 10_000
    transaction_timeout_ms: int = 10_000
    retry_backoff_ms: int = 100  # the transactional producers' (ProducerConfig)
    max_records: int = 50_000
    fence_backoff_s: float = 3.0
    blocked_retry_s: float = 30.0  # retry a partition stopped at an undecodable state
    ops: OpsConfig | None = None  # /metrics, /livez, /readyz (None: not served)
    pipelined: bool = False  # the pipelined loop instead of the barrier loop (runner.py)


def consumer_for(config: WorkerConfig, group: str | None = None) -> AIOKafkaConsumer:
    """The worker group's consumer (or, with `group`, the ranking stage's: same settings)."""
    session = config.session_timeout_ms
    return AIOKafkaConsumer(
        bootstrap_servers=config.bootstrap,
        group_id=group or config.names.worker_group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        session_timeout_ms=session,
        heartbeat_interval_ms=max(500, session // 3),
        max_poll_interval_ms=max(60_000, session),
        rebalance_timeout_ms=max(30_000, session),
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_bytes=32 * 1024 * 1024,
    )


async def check_partitions(bootstrap: str, names: Names) -> int:
    """Derived topics are written to the input's partition number: the counts must agree.
    Returns the partition count of `podium.scores` (routed by ranking, any count works)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = [names.of(topic) for topic in PARTITION_ALIGNED]
        described = await admin.describe_topics([*topics, names.scores])
        counts = {t["topic"]: len(t["partitions"]) for t in described}
        scores = counts.pop(names.scores, 0)
    finally:
        await admin.close()
    if len(set(counts.values())) != 1 or 0 in counts.values():
        raise RuntimeError(f"partition counts differ or topics are missing: {counts}")
    if scores == 0:
        raise RuntimeError(f"topic {names.scores} is missing")
    return scores


async def run_worker(config: WorkerConfig, rules: Rules, stop: asyncio.Event) -> None:
    """Run one worker until `stop` is set, serving its metrics and probes meanwhile."""
    async with operated(config.ops, "worker", config.bootstrap) as ops:
        await _work(config, rules, stop, ops)


async def _work(config: WorkerConfig, rules: Rules, stop: asyncio.Event, ops: Operations) -> None:
    tune_gc()
    names = config.names
    score_partitions = await check_partitions(config.bootstrap, names)
    consumer = consumer_for(config)
    await consumer.start()
    pusher = AnswerPusher()
    runner = Runner(
        consumer,
        names,
        rules,
        ProducerConfig(
            config.bootstrap,
            config.transaction_timeout_ms,
            retry_backoff_ms=config.retry_backoff_ms,
        ),
        max_records=config.max_records,
        fence_backoff_s=config.fence_backoff_s,
        score_partitions=score_partitions,
        blocked_retry_s=config.blocked_retry_s,
        pipelined=config.pipelined,
        pusher=pusher,
    )
    ops.watch(names.worker_group, names.events, runner.pulse)
    log.info("worker started: group %s, rules %s", names.worker_group, rules.source)
    try:
        await runner.run(stop)
    finally:
        await consumer.stop()
        await pusher.close()
        log.info("worker stopped after applying %d events", runner.applied)
