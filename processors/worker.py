"""`podium worker`: the composition root of a stream worker.

Reads `podium.events`; writes `podium.state`, `podium.progress`, `podium.achievements`,
`podium.streaks`, `podium.points` and `podium.events.dlq`, each batch of each input
partition in one Kafka transaction together with its input offset (see docs/runtime.md).
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from deploy.settings import Settings
from processors.runtime.partition import ProducerConfig
from processors.runtime.runner import Runner
from schemas.rules import Rules, load_rules
from schemas.topics import Names

log = logging.getLogger("podium.worker")


def consumer_for(settings: Settings, names: Names) -> AIOKafkaConsumer:
    session = settings.worker_session_timeout_ms
    return AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap,
        group_id=names.worker_group,
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


async def check_partitions(bootstrap: str, names: Names) -> None:
    """Derived topics are written to the input's partition number: the counts must agree."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = [names.events, names.state, names.progress, names.achievements, names.streaks]
        topics.append(names.points)
        described = await admin.describe_topics(topics)
        counts = {t["topic"]: len(t["partitions"]) for t in described}
    finally:
        await admin.close()
    if len(set(counts.values())) != 1 or 0 in counts.values():
        raise RuntimeError(f"partition counts differ or topics are missing: {counts}")


async def run_worker(settings: Settings, stop: asyncio.Event, rules: Rules | None = None) -> None:
    """Run one worker until `stop` is set."""
    rules = rules or load_rules(settings.rules_path)
    names = Names(settings.topic_prefix)
    await check_partitions(settings.bootstrap, names)
    if settings.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.metrics_port, addr="127.0.0.1")
    consumer = consumer_for(settings, names)
    await consumer.start()
    runner = Runner(
        consumer,
        names,
        rules,
        ProducerConfig(settings.bootstrap, settings.transaction_timeout_ms),
        max_records=settings.worker_max_records,
        fence_backoff_s=settings.fence_backoff_s,
    )
    log.info("worker started: group %s, rules %s", names.worker_group, rules.source)
    try:
        await runner.run(stop)
    finally:
        await consumer.stop()
        log.info("worker stopped after applying %d events", runner.applied)
