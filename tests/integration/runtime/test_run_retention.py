"""Finished leaderboard runs are dropped (`keep_runs`), against the real broker and Redis with
`podium ranker` and `podium projector` as real processes: thirty daily runs of a board in a
row, scored by writing the stage's input (`podium.scores`) directly, day by day.

What is held is worked out here from the rule alone: a partition's clock is the newest time
it was sent; a run on it is kept while its date is at most `keep_runs` days before the date
UTC-12 has reached at that clock. The compacted changelog's live keys, the Redis board keys
and a restarted ranker's rankings must be exactly those, and so stop growing while the runs
go on; a late change of a dropped run comes back nowhere.
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from redis.asyncio import Redis

from processors.runtime.kafka import producer_config
from processors.runtime.kafka_async import AsyncProducer
from schemas.leaderboards import ScoreChanged, encode_leaderboard_record, ranking_partition
from schemas.topics import Names
from schemas.views import Keys
from tests.integration.runtime.kafka_io import committed_offsets, read_topic
from tests.integration.runtime.test_ranking_stage import wait_ranked, working

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
RULES = """
[metrics.words]
name = "Words"

[[leaderboards]]
key = "daily"
name = "Daily"
rank_by = "metric"
metric = "words"
run_unit = "day"
keep_runs = 1

[[leaderboards]]
key = "forever"
name = "Forever"
rank_by = "metric"
metric = "words"
"""
DAYS, USERS, KEEP = 30, 4, 1
FIRST = date(2025, 1, 1)
HOUR_MS = 3_600_000


def at(day: int, minute: int) -> int:
    moment = datetime(2025, 1, 1, 13, minute, tzinfo=UTC) + timedelta(days=day)
    return int(moment.timestamp() * 1000)


def change(board: str, day: int, user: int, value: int, time_ms: int) -> ScoreChanged:
    run = "all" if board == "forever" else (FIRST + timedelta(days=day)).isoformat()
    event = f"d{day}u{user}"
    return ScoreChanged(
        id=f"u{user}:score:{board}:{run}::{event}",
        board=board,
        run=run,
        group="",
        user_id=f"u{user}",
        event_id=event,
        time_ms=time_ms,
        previous=None,
        value=Decimal(value),
    )


class Sent:
    """What the test wrote to `podium.scores`, and each partition's clock."""

    def __init__(self) -> None:
        self.clock: dict[int, int] = {}
        self.rankings: dict[str, int] = {}  # ranking -> its partition

    def kept(self) -> set[str]:
        """The rankings the rule keeps (by hand: dates, not the stage's code)."""
        out = set()
        for ranking, p in self.rankings.items():
            board, run, _ = ranking.split("|")
            if board == "forever":
                out.add(ranking)
                continue
            reached = datetime.fromtimestamp((self.clock[p] - 12 * HOUR_MS) / 1000, UTC).date()
            if date.fromisoformat(run) >= reached - timedelta(days=KEEP):
                out.add(ranking)
        return out


async def send(bootstrap: str, names: Names, sent: Sent, changes: list[ScoreChanged]) -> None:
    producer = AsyncProducer(producer_config(bootstrap))
    try:
        delivered = []
        for c in changes:
            p = ranking_partition(c.ranking, 12)
            delivered.append(
                producer.send(
                    names.scores, encode_leaderboard_record(c), c.ranking.encode(), partition=p
                )
            )
            sent.clock[p] = max(sent.clock.get(p, 0), c.time_ms)
            sent.rankings.setdefault(c.ranking, p)
        await asyncio.gather(*delivered)
    finally:
        await producer.close()


async def wait_applied(bootstrap: str, group: str, topic: str, within: float = 60.0) -> None:
    """Until `group` committed past the last record of every partition of `topic`."""
    records = await read_topic(bootstrap, topic)
    last = {p: recs[-1].offset + 1 for p, recs in records.items() if recs}
    deadline = time.monotonic() + within
    while True:
        committed = await committed_offsets(bootstrap, group, topic)
        if all(committed[p] >= end for p, end in last.items()):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{group} not caught up: {committed} < {last}")
        await asyncio.sleep(0.3)


async def live_rankings(bootstrap: str, names: Names) -> dict[str, int]:
    """The changelog's live keys, per ranking (a tombstone removes its key)."""
    live: dict[bytes, bytes] = {}
    for recs in (await read_topic(bootstrap, names.ranking_state)).values():
        for rec in recs:
            assert rec.key is not None
            if rec.value is None:
                live.pop(rec.key, None)
            else:
                live[rec.key] = rec.value
    out: dict[str, int] = {}
    for key in live:
        ranking = key.decode().rsplit("|", 1)[0]
        out[ranking] = out.get(ranking, 0) + 1
    return out


async def board_keys(redis_url: str, keys: Keys) -> set[str]:
    """The board views' keys and the histories' (their epoch markers aside)."""
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        found = {str(k) async for k in redis.scan_iter(match=f"{keys.prefix}board*")}
        found |= {str(k) async for k in redis.scan_iter(match=f"{keys.prefix}rank-history:*")}
    finally:
        await redis.aclose()
    return found - {keys.board_epoch}


async def projected(redis_url: str, keys: Keys, rankings: set[str]) -> None:
    want = {keys.board(r) for r in rankings} | {keys.board_members(r) for r in rankings}
    want |= {keys.rank_history(r, f"u{u}") for r in rankings for u in range(USERS)}
    deadline = time.monotonic() + 30
    while (got := await board_keys(redis_url, keys)) != want:
        if time.monotonic() > deadline:
            raise AssertionError(f"Redis board keys: {sorted(got ^ want)} differ")
        await asyncio.sleep(0.3)


async def test_finished_runs_are_dropped_and_what_is_held_stops_growing(
    kafka_bootstrap: str, redis_url: str, names: Names, spawn, tmp_path: Path
) -> None:
    rules = tmp_path / "retention.toml"
    rules.write_text(RULES)
    keys = Keys(f"{names.prefix}views:")
    env = {
        "PODIUM_RULES_PATH": str(rules),
        "PODIUM_REDIS_URL": redis_url,
        "PODIUM_VIEWS_PREFIX": keys.prefix,
    }
    ranker = spawn("ranker", env=env)
    spawn("projector", env=env)
    await working(ranker)
    sent, held = Sent(), []
    for day in range(DAYS):
        await send(
            kafka_bootstrap,
            names,
            sent,
            [
                change(board, day, u, day * 10 + u, at(day, u))
                for u in range(USERS)
                for board in ("daily", "forever")
            ],
        )
        # the histories are written from the rank changes by a loop of their own: a run's
        # drop reaching the board views before its rank changes reached the histories would
        # leave a history behind (docs/leaderboards.md, "Retention"); in production a run is
        # dropped `keep_runs` runs after its last change, here a few seconds
        await wait_ranked(kafka_bootstrap, names)
        await wait_applied(kafka_bootstrap, names.board_history_group, names.leaderboards)
        if day % 5 == 4 or day == DAYS - 1:
            live = await live_rankings(kafka_bootstrap, names)
            assert set(live) == sent.kept(), f"day {day}"
            assert all(n == USERS for n in live.values())
            await projected(redis_url, keys, sent.kept())
            held.append(sum(live.values()))
    # 30 runs played: without retention 31 rankings of 4 would be held
    assert len(sent.rankings) == DAYS + 1 and max(held) <= USERS * (1 + KEEP + 1 + 12)
    await _late_change_and_restart(kafka_bootstrap, names, sent, ranker, spawn, env)


async def _late_change_and_restart(
    kafka_bootstrap: str, names: Names, sent: Sent, ranker, spawn, env: dict[str, str]
) -> None:
    """A late change of the first (dropped) run is ranked nowhere; a new ranker restores
    exactly the rankings kept."""
    kept = sent.kept()
    late = change("daily", 0, 9, 999, at(0, 30))
    assert late.ranking not in kept
    await send(kafka_bootstrap, names, sent, [late])
    await wait_ranked(kafka_bootstrap, names)
    assert set(await live_rankings(kafka_bootstrap, names)) == kept
    ranker.stop()
    restarted = spawn("ranker", env=env)
    await working(restarted)
    took = re.findall(r"took partitions .*: (\d+) rankings, (\d+) participants", restarted.log())
    assert [int(n) for n in took[-1]] == [len(kept), USERS * len(kept)]
