"""The ranking stage under failure, against the real broker, with `podium worker` and
`podium ranker` as real OS processes: events for ~200 users flow on `top-writers` while the
worker and the ranker are each SIGKILLed three times and restarted.

Afterwards: every score change the fold predicts is on `podium.scores` exactly once; the
compacted `podium.ranking.state` holds each participant's last one; the committed
`podium.leaderboards` holds exactly the rank changes of ranking those score changes
in log order (none lost, none doubled, byte for byte, ids unique); and every user's final
rank, read from the rank changes, equals a ranking computed here from the events alone —
total words desc, then the time the total was reached, then user id (docs/leaderboards.md);
the Redis sorted set the projector keeps live, and one rebuilt from the changelog, both hold
exactly that order.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from redis.asyncio import Redis

from processors.core.ranking import Ranking, Rankings
from processors.projector import ProjectorConfig, rebuild_views
from schemas.commands import MetricTracked, decode_command
from schemas.leaderboards import (
    RankChanged,
    ScoreChanged,
    decode_leaderboard_record,
    encode_leaderboard_record,
)
from schemas.rules import Rules
from schemas.rules_parse import load_rules
from schemas.topics import Names
from schemas.views import Keys
from tests.integration.runtime.kafka_io import (
    WorkerProcess,
    committed_offsets,
    feed,
    read_topic,
    wait_caught_up,
)
from tests.integration.runtime.oracle import fold_log, latest_by_key, metric_events, values
from tests.rules import RANKING_PATH

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
BOARD, RANKING = "top-writers", "top-writers|all|"


async def wait_ranked(bootstrap: str, names: Names, within: float = 90.0) -> None:
    """Until the ranker group committed past the last committed score change of every
    partition (the end offsets also count transaction markers, which it never commits)."""
    scores = await read_topic(bootstrap, names.scores)
    last = {p: recs[-1].offset + 1 for p, recs in scores.items() if recs}
    deadline = time.monotonic() + within
    while True:
        committed = await committed_offsets(bootstrap, names.ranking_group, names.scores)
        if all(committed[p] >= end for p, end in last.items()):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"ranker not caught up: {committed} < {last}")
        await asyncio.sleep(0.5)


async def working(proc: WorkerProcess, within: float = 30.0) -> None:
    """Until the process owns partitions (its log says so)."""
    await proc.logged("took partitions", within)


def independent_ranks(events: list[tuple[bytes, bytes]]) -> dict[str, int]:
    """From the commands alone: each user's words total and when it was reached."""
    total: dict[str, Decimal] = {}
    reached: dict[str, int] = {}
    for _, raw in events:
        cmd = decode_command(raw)
        assert isinstance(cmd, MetricTracked)
        if cmd.metric == "words-written":
            uid = cmd.user.id
            total[uid] = total.get(uid, Decimal(0)) + cmd.value
            reached[uid] = cmd.time_ms  # every value is positive: each event raises the total
    order = sorted(total, key=lambda u: (-total[u], reached[u], u))
    return {uid: i + 1 for i, uid in enumerate(order)}


async def board_order(redis_url: str, keys: Keys) -> list[str]:
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        members = await redis.zrange(keys.board(RANKING), 0, -1)
    finally:
        await redis.aclose()
    return [str(m).split(":", 1)[1] for m in members]


async def projected(redis_url: str, keys: Keys, order: list[str], within: float = 30.0) -> None:
    """Until the live sorted set holds `order`."""
    deadline = time.monotonic() + within
    while (got := await board_order(redis_url, keys)) != order:
        if time.monotonic() > deadline:
            raise AssertionError(f"live board view differs: {len(got)} members, {got[:5]}")
        await asyncio.sleep(0.5)


async def test_kill_9_of_worker_and_ranker_loses_and_doubles_no_rank(
    kafka_bootstrap: str, redis_url: str, names: Names, spawn
) -> None:
    rules: Rules = load_rules(RANKING_PATH)
    live, rebuilt = Keys(f"{names.prefix}live:"), Keys(f"{names.prefix}rebuilt:")
    env = {
        "PODIUM_RULES_PATH": str(RANKING_PATH),
        "PODIUM_REDIS_URL": redis_url,
        "PODIUM_VIEWS_PREFIX": live.prefix,
    }
    events = metric_events(8_000, 200, seed=21)
    projector = spawn("projector", env=env)
    await _flow_with_kills(kafka_bootstrap, names, events, spawn, env)

    expected = fold_log(await read_topic(kafka_bootstrap, names.events), rules)
    scores = await read_topic(kafka_bootstrap, names.scores)
    got_scores = values(scores)
    missing, doubled = expected.scores - got_scores, got_scores - expected.scores
    assert not missing and not doubled, (
        f"scores: {missing.total()} missing, {doubled.total()} extra"
    )
    decoded = await _assert_rank_changes(kafka_bootstrap, names, rules, scores)
    truth = independent_ranks(events)
    assert len(truth) >= 190
    assert _final_ranks(decoded, truth) == truth

    # the Redis views: kept live by the projector, and rebuilt from the changelog
    order = sorted(truth, key=truth.__getitem__)
    await projected(redis_url, live, order)
    projector.stop()
    config = ProjectorConfig(kafka_bootstrap, names, redis_url, views_prefix=rebuilt.prefix)
    await rebuild_views(config, rules)
    assert await board_order(redis_url, rebuilt) == order


async def _flow_with_kills(
    kafka_bootstrap: str, names: Names, events: list[Any], spawn: Any, env: dict[str, str]
) -> None:
    """Feed the events while SIGKILLing the worker and the ranker three times each (only
    once they own partitions), then wait until both have caught up."""
    worker, ranker = spawn("worker", env=env), spawn("ranker", env=env)
    flow = asyncio.create_task(feed(kafka_bootstrap, names.events, events, chunk=160, pause=0.6))
    rnd, hits = random.Random(90210), Counter[str]()
    for _ in range(3):
        for name in ("worker", "ranker"):
            proc = worker if name == "worker" else ranker
            await working(proc)  # a kill of a process still starting up would test little
            await asyncio.sleep(rnd.uniform(0.3, 1.5))
            hits[name] += not flow.done()
            proc.kill()
            if name == "worker":
                worker = spawn("worker", env=env)
            else:
                ranker = spawn("ranker", env=env)
    await flow
    await wait_caught_up(kafka_bootstrap, names.worker_group, names.events, within=90)
    await wait_ranked(kafka_bootstrap, names)
    # The last kill may come after everything was ranked: the new ranker then waits out the
    # killed member's session before it takes (and restores) the partitions.
    await working(ranker, within=60)
    worker.stop()
    ranker.stop()
    assert hits["worker"] >= 2 and hits["ranker"] >= 2, f"kills mid-flow: {hits}"
    restored = re.findall(r"took partitions .*: \d+ rankings, (\d+) participants", ranker.log())
    assert restored and int(restored[-1]) > 0, "the last ranker should restore participants"


async def _assert_rank_changes(
    kafka_bootstrap: str, names: Names, rules: Rules, scores: Any
) -> list[Any]:
    """The changelog holds each participant's last change, and `podium.leaderboards` holds
    exactly the rank changes of ranking the scores in log order, no id twice."""
    stage, want = Rankings(rules.leaderboards), Counter[bytes]()
    for recs in scores.values():  # the stage's input, in log order per partition
        for rec in recs:
            change = decode_leaderboard_record(rec.value)
            assert isinstance(change, ScoreChanged)
            want.update(encode_leaderboard_record(r) for r in stage.apply(change))
    last_change = {
        f"{c.ranking}|{c.user_id}": encode_leaderboard_record(c)
        for recs in scores.values()
        for c in map(decode_leaderboard_record, (r.value for r in recs))
        if isinstance(c, ScoreChanged)
    }
    changelog = latest_by_key(await read_topic(kafka_bootstrap, names.ranking_state))
    assert changelog == last_change, "the changelog holds each participant's last change"
    ranks = await read_topic(kafka_bootstrap, names.leaderboards)
    got = values(ranks)
    missing, doubled = want - got, got - want
    assert not missing and not doubled, f"ranks: {missing.total()} missing, {doubled.total()} extra"
    decoded = [decode_leaderboard_record(r.value) for recs in ranks.values() for r in recs]
    ids = Counter(r.id for r in decoded)
    assert ids and max(ids.values()) == 1, "a rank change id appears twice"
    return decoded


def _final_ranks(decoded: list[Any], truth: dict[str, int]) -> dict[str, int | None]:
    """Each user's rank as its last rank change puts it."""
    final: dict[str, RankChanged] = {}
    for r in decoded:  # one ranking: one partition, so this is log order
        assert isinstance(r, RankChanged) and r.board == BOARD
        final[r.user_id] = r
    read = Ranking.build(
        (u, r.value, r.reached_ms)
        for u, r in final.items()
        if r.value is not None and r.reached_ms is not None
    )
    return {u: read.rank(u) for u in truth}
