"""`podium ranker`: the composition root of the ranking stage.

Reads `podium.scores` (read_committed) in its own consumer group `podium.ranking`; writes
`podium.leaderboards` (`RankChanged`, the input's partition), its changelog
`podium.ranking.state` and `podium.events.dlq`, on the worker's runtime (`runtime.runner`,
`runtime.stages.RankStage`): ranked as the changes arrive, committed on the same cadence in
one transaction with the input offsets (docs/leaderboards.md, "The ranking stage"). The
mover's rank of a score change that names its event's gateway is pushed to that gateway at
the fold, before the commit, as the worker pushes the progress (`runtime.answers`).
"""

from __future__ import annotations

import asyncio
import logging

from processors.runtime import kafka, telemetry
from processors.runtime.answers import AnswerPusher
from processors.runtime.gc_tuning import tune_gc
from processors.runtime.ops_server import operated
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
    scores = await kafka.wait_for_topic(bootstrap, names.scores, within=10.0)
    boards = await kafka.wait_for_topic(bootstrap, names.leaderboards, within=10.0)
    if scores != boards:
        raise RuntimeError(
            f"partition counts differ: {names.scores} {scores}, {names.leaderboards} {boards}"
        )
    return scores


async def run_ranker(config: RankerConfig, rules: Rules, stop: asyncio.Event) -> None:
    """Run one member of the ranking stage until `stop` is set, serving its metrics and
    probes meanwhile."""
    tune_gc()
    names = config.names
    partitions = await check_partitions(config.bootstrap, names)
    pusher = AnswerPusher()  # each mover's rank, to the gateway its event named
    stage = RankStage(names, rules, partitions)
    runtime = Runtime(stage, config.runtime(names.ranking_group), pusher=pusher)
    log.info("ranker started: group %s, %d boards", names.ranking_group, len(rules.leaderboards))
    try:
        async with operated(config.ops, "ranker", config.bootstrap) as ops:
            ops.watch(names.ranking_group, names.scores, runtime.pulse)
            ops.also(lambda: count_rankings(stage))
            await runtime.run(stop)
    finally:
        await pusher.close()
        log.info("ranker stopped after ranking %d score changes", runtime.applied)


def count_rankings(stage: RankStage) -> None:
    """`podium_rankings` and `podium_ranking_participants` of what the ranker holds."""
    held = [ranking for r in stage.rankings.values() for ranking in r.rankings.values()]
    telemetry.RANKINGS.set(len(held))
    telemetry.RANKING_PARTICIPANTS.set(sum(len(ranking) for ranking in held))
