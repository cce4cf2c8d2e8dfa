"""`podium replay` backfills leaderboards: two boards (all-time and weekly words) are added to
rules that had none, after 20 days of history; a worker and the ranking stage with the new
rules run while more events flow; the worker is stopped while the replay hands over and
started again after it. Afterwards every ranking —
each week's, finished ones included, and the all-time one — read from the rank changes on
`podium.leaderboards`, equals a ranking computed here from the events alone (words within
the run desc, then when the value was reached, then user id), as if the boards had always
existed. Users with no event after the change are ranked by the replay alone. No rank change
id appears twice, the backfilled score changes are flagged and as many as the replay says,
and a second replay publishes none."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from processors.core.ranking import Ranking
from schemas.commands import MetricTracked, decode_command
from schemas.leaderboards import RankChanged, ScoreChanged, decode_leaderboard_record
from schemas.topics import Names
from tests.integration.runtime.kafka_io import feed, produce, read_topic, wait_caught_up
from tests.integration.runtime.oracle import DAY_MS, START_MS, metric_events
from tests.integration.runtime.test_ranking_stage import wait_ranked
from tests.integration.runtime.test_replay import replay_output
from tests.rules import RANKING_PATH

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
WEEKLY = """
[[leaderboards]]
key = "weekly-words"
name = "Weekly words"
rank_by = "metric"
metric = "words-written"
run_unit = "day"
run_interval = 7
"""
SCORES = re.compile(r"([\d,]+) score changes backfilled")
Truth = dict[str, dict[str, int]]  # ranking -> user -> rank


def independent_rankings(events: list[tuple[bytes, bytes]]) -> Truth:
    """From the commands alone: words per user all time and per UTC week from Monday (the
    users have no time zone), the time each total was reached (every value is positive, so
    each event raises it), ranked by total desc, then that time, then user id."""
    totals: dict[str, dict[str, tuple[Decimal, int]]] = {}
    for _, raw in events:
        cmd = decode_command(raw)
        assert isinstance(cmd, MetricTracked)
        if cmd.metric != "words-written":
            continue
        day = datetime.fromtimestamp(cmd.time_ms / 1000, UTC).date()
        monday = (day - timedelta(days=day.weekday())).isoformat()
        for ranking in ("top-writers|all|", f"weekly-words|{monday}|"):
            users = totals.setdefault(ranking, {})
            total = users.get(cmd.user.id, (Decimal(0), 0))[0] + cmd.value
            users[cmd.user.id] = (total, cmd.time_ms)
    return {
        ranking: {
            u: i + 1
            for i, u in enumerate(sorted(users, key=lambda u: (-users[u][0], users[u][1], u)))
        }
        for ranking, users in totals.items()
    }


async def ranked(bootstrap: str, names: Names) -> tuple[Truth, Counter[str]]:
    """Every ranking as its last rank change per participant puts it, and the count of each
    rank change id."""
    final: dict[str, dict[str, RankChanged]] = {}
    ids = Counter[str]()
    for recs in (await read_topic(bootstrap, names.leaderboards)).values():
        for rec in recs:  # a ranking lives on one partition: this is its log order
            rank = decode_leaderboard_record(rec.value)
            assert isinstance(rank, RankChanged)
            ids[rank.id] += 1
            final.setdefault(f"{rank.board}|{rank.run}|{rank.group}", {})[rank.user_id] = rank
    out: Truth = {}
    for ranking, users in final.items():
        order = Ranking.build(
            (u, r.value, r.reached_ms)
            for u, r in users.items()
            if r.value is not None and r.reached_ms is not None
        )
        out[ranking] = {e.user_id: e.rank for e in order.entries()}
    return out, ids


async def backfilled_scores(bootstrap: str, names: Names) -> list[ScoreChanged]:
    return [
        change
        for recs in (await read_topic(bootstrap, names.scores)).values()
        for rec in recs
        if isinstance(change := decode_leaderboard_record(rec.value), ScoreChanged)
        and change.backfilled
    ]


async def test_replay_ranks_a_new_board_over_old_history_as_if_it_had_always_existed(
    kafka_bootstrap: str, names: Names, spawn, worker_env, tmp_path: Path
) -> None:
    text = RANKING_PATH.read_text()
    old_path, new_path = tmp_path / "old.toml", tmp_path / "new.toml"
    old_path.write_text(text[: text.index("[[leaderboards]]")])
    new_path.write_text(text + WEEKLY)
    old_env = {**worker_env, "PODIUM_RULES_PATH": str(old_path)}
    new_env = {**worker_env, "PODIUM_RULES_PATH": str(new_path)}
    # 150 users over 20 days; then u0..u79 only, over 6 more days: u80..u149 are ranked by
    # the replay alone, the others by the replay and the live worker together.
    first = metric_events(6_000, 150, seed=61)
    more = metric_events(2_400, 80, seed=62, start_ms=START_MS + 20 * DAY_MS, days=6, prefix="f")
    await produce(kafka_bootstrap, names.events, first)
    old_worker = spawn("worker", env=old_env)
    await wait_caught_up(kafka_bootstrap, names.worker_group, names.events, within=90)
    old_worker.stop()
    worker, ranker = spawn("worker", env=new_env), spawn("ranker", env=new_env)
    flow = asyncio.create_task(feed(kafka_bootstrap, names.events, more, chunk=300, pause=0.3))
    await asyncio.sleep(1)  # the new worker applies some of `more` first
    worker.stop()
    output = await replay_output(new_env)
    worker = spawn("worker", env=new_env)
    await flow
    await wait_caught_up(kafka_bootstrap, names.worker_group, names.events, within=90)
    await wait_ranked(kafka_bootstrap, names)

    truth = independent_rankings(first + more)
    assert len(truth) == 6 and len(truth["top-writers|all|"]) == 150  # 5 weeks, all time
    got, ids = await ranked(kafka_bootstrap, names)
    assert got == truth
    assert max(ids.values()) == 1, "a rank change id appears twice"
    backfilled = await backfilled_scores(kafka_bootstrap, names)
    match = SCORES.search(output)
    assert match, output[-2000:]
    assert len(backfilled) == int(match.group(1).replace(",", "")) > 0
    quiet = {c.user_id for c in backfilled} - {f"u{i}" for i in range(80)}
    assert quiet == {f"u{i}" for i in range(80, 150)}

    # Run again: the stage holds every rebuilt entry already.
    worker.stop()
    again = SCORES.search(await replay_output(new_env))
    assert again and again.group(1) == "0"
    await wait_ranked(kafka_bootstrap, names)
    assert len(await backfilled_scores(kafka_bootstrap, names)) == len(backfilled)
    worker.stop()
    ranker.stop()
