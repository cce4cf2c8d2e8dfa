"""`podium replay` with the workers stopped while events flow: the rebuilt state is
byte-identical with unchanged rules; with a new achievement in the rules it backfills exactly
the facts never emitted, flagged backfilled, once; the worker started after it carries on with
no gap and no double. While a worker runs, the replay refuses and writes nothing."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from deploy.settings import REPO_DIR
from schemas.records import AchievementCompleted, Progress, decode_record
from schemas.rules import Rules
from schemas.rules_parse import load_rules
from schemas.topics import Names
from tests.integration.runtime.conftest import RULES_PATH
from tests.integration.runtime.kafka_io import (
    WorkerProcess,
    feed,
    produce,
    read_topic,
    wait_caught_up,
)
from tests.integration.runtime.oracle import fold_log, latest_by_key, metric_events
from tests.integration.runtime.test_exactly_once import assert_exactly_once

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
NEW_ACHIEVEMENT = """
[[achievements]]
key = "prolific"
name = "Prolific"
trigger = "metric"
metric = "words-written"
value = 3000
"""
SUMMARY = re.compile(r"replayed ([\d,]+) events .* ([\d,]+) states changed, ([\d,]+) facts")


async def replay(env: dict[str, str]) -> tuple[int, int, int]:
    """Run `podium replay`; (events, states changed, facts backfilled) from its summary."""
    output = await replay_output(env)
    match = SUMMARY.search(output)
    assert match, output[-3000:]
    events, changed, facts = (int(g.replace(",", "")) for g in match.groups())
    return events, changed, facts


async def replay_between(
    spawn: Callable[..., WorkerProcess], worker: WorkerProcess, env: dict[str, str]
) -> tuple[tuple[int, int, int], WorkerProcess]:
    """Let the worker take its partitions and apply some of the flow, stop it, replay, start a
    worker again: the replay's summary and the new worker. (A worker stopped while it still
    joins its group can leave a member behind until its session times out, and the replay
    rightly refuses to hand over while the group has one.)"""
    await worker.logged("took partitions", within=60)
    await asyncio.sleep(1)
    worker.stop()
    summary = await replay(env)
    return summary, spawn("worker", env=env)


async def replay_output(env: dict[str, str], returncode: int = 0) -> str:
    """Run `podium replay` to its end; what it printed (it must exit `returncode`)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "deploy.cli",
        "replay",
        env={**os.environ, **env},
        cwd=REPO_DIR,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = (await asyncio.wait_for(proc.communicate(), 120))[0].decode()
    assert proc.returncode == returncode, output[-3000:]
    return output


async def test_replay_with_unchanged_rules_rebuilds_identical_state_and_hands_over(
    kafka_bootstrap: str, names: Names, rules: Rules, spawn, worker_env
) -> None:
    first, more = metric_events(20_000, 500, seed=21), metric_events(10_000, 500, seed=22)
    await produce(kafka_bootstrap, names.events, first)
    worker = spawn("worker")
    await wait_caught_up(kafka_bootstrap, names.worker_group, names.events, within=90)
    flow = asyncio.create_task(feed(kafka_bootstrap, names.events, more, chunk=1_000))
    worker.stop()
    events, changed, facts = await replay(worker_env)
    spawn("worker")
    await flow
    await wait_caught_up(kafka_bootstrap, names.worker_group, names.events, within=90)
    assert events >= len(first)
    assert (changed, facts) == (0, 0)  # every rebuilt state byte-identical; nothing new
    await assert_exactly_once(kafka_bootstrap, names, rules, len(first) + len(more))


async def _achievements(bootstrap: str, names: Names) -> list[AchievementCompleted]:
    return [
        a
        for recs in (await read_topic(bootstrap, names.achievements)).values()
        for rec in recs
        if isinstance(a := decode_record(rec.value), AchievementCompleted)
    ]


async def test_replay_with_a_new_achievement_backfills_it_once(
    kafka_bootstrap: str, names: Names, spawn, worker_env, tmp_path: Path
) -> None:
    new_rules_path = tmp_path / "rules.toml"
    new_rules_path.write_text(RULES_PATH.read_text() + NEW_ACHIEVEMENT)
    new_rules = load_rules(new_rules_path)
    new_env = {**worker_env, "PODIUM_RULES_PATH": str(new_rules_path)}
    # Users u250..u499 get no event after the rules change: only a replay can award them
    # (others may get theirs from the replay too, if it hands over before their next event).
    first, more = metric_events(20_000, 500, seed=31), metric_events(10_000, 250, seed=32)
    await produce(kafka_bootstrap, names.events, first)
    old_worker = spawn("worker")
    await wait_caught_up(kafka_bootstrap, names.worker_group, names.events, within=90)
    old_worker.stop()
    new_worker = spawn("worker", env=new_env)  # new rules from now on; replay backfills the past
    flow = asyncio.create_task(feed(kafka_bootstrap, names.events, more, chunk=1_000))
    await asyncio.sleep(2)  # the new worker applies some of `more` first
    new_worker.stop()
    _, changed, backfilled = await replay(new_env)
    new_worker = spawn("worker", env=new_env)
    await flow
    await wait_caught_up(kafka_bootstrap, names.worker_group, names.events, within=90)

    expected = fold_log(await read_topic(kafka_bootstrap, names.events), new_rules)
    assert latest_by_key(await read_topic(kafka_bootstrap, names.state)) == expected.states
    achievements = await _achievements(kafka_bootstrap, names)
    ids = Counter(a.id for a in achievements)
    assert ids.most_common(1)[0][1] == 1, "an achievement was emitted twice"
    want = {orjson.loads(raw)["id"] for raw in expected.achievements}
    assert set(ids) == want
    flagged = [a for a in achievements if a.achievement == "prolific" and a.backfilled]
    assert len(flagged) == backfilled > 0 and changed > 0
    assert all(not a.backfilled for a in achievements if a.achievement != "prolific")
    progress = [
        decode_record(rec.value)
        for recs in (await read_topic(kafka_bootstrap, names.progress)).values()
        for rec in recs
    ]
    per_event = Counter(p.event_id for p in progress if isinstance(p, Progress))
    assert len(per_event) == len(first) + len(more) and set(per_event.values()) == {1}

    # Run again: everything is emitted already.
    new_worker.stop()
    assert (await replay(new_env))[1:] == (0, 0)
    again = await read_topic(kafka_bootstrap, names.achievements)
    assert sum(len(recs) for recs in again.values()) == len(achievements)


async def test_replay_refuses_to_hand_over_while_a_worker_runs(
    kafka_bootstrap: str, names: Names, spawn, worker_env, tmp_path: Path
) -> None:
    """A running worker would keep its old in-memory states and overwrite the replayed ones
    (its producer is fenced by nobody): the replay exits 1, says what to do, writes nothing."""
    new_rules_path = tmp_path / "rules.toml"
    new_rules_path.write_text(RULES_PATH.read_text() + NEW_ACHIEVEMENT)
    new_env = {**worker_env, "PODIUM_RULES_PATH": str(new_rules_path)}
    await produce(kafka_bootstrap, names.events, metric_events(4_000, 100, seed=33))
    worker = spawn("worker")
    await wait_caught_up(kafka_bootstrap, names.worker_group, names.events, within=90)
    before = {t: await read_topic(kafka_bootstrap, t) for t in (names.state, names.achievements)}

    output = await replay_output(new_env, returncode=1)
    assert f"the worker group {names.worker_group} has 1 member" in output, output[-3000:]
    assert "stop every `podium worker`" in output
    after = {t: await read_topic(kafka_bootstrap, t) for t in (names.state, names.achievements)}
    assert after == before  # nothing handed over: no state, no backfilled achievement

    worker.stop()  # with the group empty the same replay hands over
    _, changed, backfilled = await replay(new_env)
    assert changed > 0 and backfilled > 0
