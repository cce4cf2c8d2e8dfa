"""`podium worker`: the composition root of a stream worker.

Reads `podium.events`; writes `podium.state`, `podium.progress`, `podium.achievements`,
`podium.streaks`, `podium.points`, `podium.scores` (on each ranking's own partition) and
`podium.events.dlq`, on the runtime (`runtime.runner`): folded as records arrive, each
answer pushed to the gateway waiting for it (`runtime.answers`) at once, and what is folded
committed every `commit_interval_s` in one Kafka transaction with its input offsets (see
docs/runtime.md).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import dataclass

from processors.runtime import kafka
from processors.runtime.answers import AnswerPusher
from processors.runtime.gc_tuning import tune_gc
from processors.runtime.ops_server import OpsConfig, operated
from processors.runtime.runner import Runtime, RuntimeConfig
from processors.runtime.stages import WorkerStage
from schemas.rules import Rules
from schemas.topics import PARTITION_ALIGNED, Names

log = logging.getLogger("podium.worker")


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """What a stream worker needs (built from the settings by the CLI)."""

    bootstrap: str
    names: Names
    # this process's name in its group: its transactional id is "<group>.<worker id>", so a
    # restarted process fences its former incarnation; two live processes never share one
    worker_id: str = ""  # "": the host's name
    session_timeout_ms: int = 10_000
    transaction_timeout_ms: int = 10_000
    retry_backoff_ms: int = 20  # the transactional producer's
    max_records: int = 50_000
    commit_interval_s: float = 0.1
    awaited_commit_s: float = 0.02
    commit_bound: int = 50_000
    fence_backoff_s: float = 3.0
    blocked_retry_s: float = 30.0  # retry a partition stopped at an undecodable state
    ops: OpsConfig | None = None  # /metrics, /livez, /readyz (None: not served)

    def runtime(self, group: str) -> RuntimeConfig:
        """The runtime's settings, for `group` (the worker's or the ranking stage's)."""
        return RuntimeConfig(
            self.bootstrap,
            f"{group}.{self.worker_id or socket.gethostname()}",
            session_timeout_ms=self.session_timeout_ms,
            transaction_timeout_ms=self.transaction_timeout_ms,
            retry_backoff_ms=self.retry_backoff_ms,
            max_records=self.max_records,
            commit_interval_s=self.commit_interval_s,
            awaited_commit_s=self.awaited_commit_s,
            commit_bound=self.commit_bound,
            fence_backoff_s=self.fence_backoff_s,
            blocked_retry_s=self.blocked_retry_s,
        )


async def check_partitions(bootstrap: str, names: Names) -> tuple[int, int]:
    """The changelog and the facts are written to the input's partition number: the counts
    must agree.
    Returns the partition counts of `podium.scores` (routed by ranking, any count works) and
    of `podium.progress` (routed by `progress_partition`, any count works too)."""
    topics = [names.of(topic) for topic in PARTITION_ALIGNED]
    counts = {t: await kafka.wait_for_topic(bootstrap, t, within=10.0) for t in topics}
    if len(set(counts.values())) != 1:
        raise RuntimeError(f"partition counts differ: {counts}")
    scores = await kafka.wait_for_topic(bootstrap, names.scores, within=10.0)
    return scores, await kafka.wait_for_topic(bootstrap, names.progress, within=10.0)


async def run_worker(config: WorkerConfig, rules: Rules, stop: asyncio.Event) -> None:
    """Run one worker until `stop` is set, serving its metrics and probes meanwhile."""
    tune_gc()
    names = config.names
    score_partitions, progress_partitions = await check_partitions(config.bootstrap, names)
    pusher = AnswerPusher()
    stage = WorkerStage(names, rules, score_partitions, progress_partitions)
    runtime = Runtime(stage, config.runtime(names.worker_group), pusher=pusher)
    log.info("worker started: group %s, rules %s", names.worker_group, rules.source)
    try:
        async with operated(config.ops, "worker", config.bootstrap) as ops:
            ops.watch(names.worker_group, names.events, runtime.pulse)
            await runtime.run(stop)
    finally:
        await pusher.close()
        log.info("worker stopped after applying %d events", runtime.applied)
