"""Exactly-once effects under failure, against the real broker, with `podium worker` as real
OS processes: SIGKILL at random moments, a worker dying among three, and a worker frozen
(SIGSTOP) past its session timeout while the others take its partitions, then resumed.

After each run every user's state in the changelog must equal an independent fold of the
events topic, and the derived records (read_committed) must be exactly those the fold
predicts: none missing, none doubled.
"""

from __future__ import annotations

import asyncio
import random
import signal

import pytest

from schemas.rules import Rules
from schemas.topics import Names
from tests.integration.runtime.kafka_io import feed, read_topic, wait_caught_up
from tests.integration.runtime.oracle import fold_log, latest_by_key, metric_events, values

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


async def assert_exactly_once(bootstrap: str, names: Names, rules: Rules, events: int) -> None:
    expected = fold_log(await read_topic(bootstrap, names.events), rules)
    assert sum(expected.progress.values()) == events
    assert rules.points and sum(expected.points.values()) > 0  # points are in the rules
    states = latest_by_key(await read_topic(bootstrap, names.state))
    assert len(states) == len(expected.states)
    wrong = [uid for uid, raw in expected.states.items() if states.get(uid) != raw]
    assert not wrong, f"{len(wrong)} users' state differs, e.g. {wrong[:5]}"
    for topic, want in (
        (names.progress, expected.progress),
        (names.achievements, expected.achievements),
        (names.streaks, expected.streaks),
        (names.points, expected.points),
    ):
        got = values(await read_topic(bootstrap, topic))
        missing, doubled = want - got, got - want
        assert not missing and not doubled, (
            f"{topic}: {sum(missing.values())} missing, {sum(doubled.values())} extra"
        )


async def test_sigkill_at_random_moments_loses_and_doubles_nothing(
    kafka_bootstrap: str, names: Names, rules: Rules, spawn
) -> None:
    events = metric_events(50_000, 1_000, seed=11)
    # The flow lasts ≈ 20 s, longer than the five kills take, so each kill meets work in hand.
    flow = asyncio.create_task(feed(kafka_bootstrap, names.events, events, chunk=1_000, pause=0.4))
    rnd = random.Random(4711)
    same = {"PODIUM_WORKER_ID": "restarted"}  # as a restarted container: its host's name
    worker = spawn("worker", env=same)
    killed_mid_stream = 0
    for _ in range(5):
        await asyncio.sleep(rnd.uniform(1.5, 3.5))
        flowing = not flow.done()
        worker.kill()
        killed_mid_stream += flowing
        worker = spawn("worker", env=same)
    await flow
    await wait_caught_up(kafka_bootstrap, names.worker_group, names.events, within=150)
    worker.stop()
    assert killed_mid_stream >= 4, "the kills should hit a worker while events flow"
    await assert_exactly_once(kafka_bootstrap, names, rules, len(events))


async def test_one_of_three_workers_killed_mid_stream(
    kafka_bootstrap: str, names: Names, rules: Rules, spawn
) -> None:
    events = metric_events(50_000, 1_000, seed=12)
    workers = [spawn("worker") for _ in range(3)]
    flow = asyncio.create_task(feed(kafka_bootstrap, names.events, events, chunk=1_000, pause=0.4))
    await asyncio.sleep(5.0)
    assert not flow.done()
    workers[1].kill()
    await flow
    await wait_caught_up(kafka_bootstrap, names.worker_group, names.events, within=150)
    for w in workers:
        w.stop()
    assert "took partitions" in workers[0].log() + workers[2].log()
    await assert_exactly_once(kafka_bootstrap, names, rules, len(events))


async def test_worker_frozen_past_session_timeout_cannot_corrupt_or_double(
    kafka_bootstrap: str, names: Names, rules: Rules, spawn
) -> None:
    events = metric_events(50_000, 1_000, seed=13)
    frozen, *others = [spawn("worker") for _ in range(3)]
    # On a busy box the group may take longer than the flow's first seconds to form: freeze
    # the worker only once it owns partitions, or there is nothing for it to lose.
    await frozen.logged("took partitions", within=90)
    flow = asyncio.create_task(feed(kafka_bootstrap, names.events, events, chunk=1_000, pause=0.4))
    await asyncio.sleep(5.0)
    frozen.signal(signal.SIGSTOP)
    await asyncio.sleep(10.0)  # > session timeout (6 s) and transaction timeout (8 s)
    assert not flow.done(), "the frozen worker should wake up while events still flow"
    frozen.signal(signal.SIGCONT)
    await flow
    await wait_caught_up(kafka_bootstrap, names.worker_group, names.events, within=150)
    await asyncio.sleep(3.0)  # whatever the resumed worker still does, let it happen
    await wait_caught_up(kafka_bootstrap, names.worker_group, names.events, within=60)
    for w in (frozen, *others):
        w.stop()
    # It was thrown out of the group and came back: it took partitions more than once.
    assert frozen.log().count("took partitions") >= 2, frozen.log()[-3000:]
    await assert_exactly_once(kafka_bootstrap, names, rules, len(events))
