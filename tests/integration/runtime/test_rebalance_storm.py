"""Workers scaled out and in under load, against the real broker, with `podium worker` as real
OS processes: while 60,000 events of 1,000 users flow, workers join and leave one at a time
(one, two, three, then each of the first two stopped and a new one started, down to one),
each change a rebalance of the group. Exactly once must hold (the states and the derived
records against an independent fold, as in test_exactly_once), and how long each partition
went unserved at each change is read from the workers' logs (`rebalance.gaps`), printed,
and bounded.
"""

from __future__ import annotations

import asyncio
import statistics
import time

import pytest

from schemas.rules import Rules
from schemas.topics import Names
from tests.integration.runtime.kafka_io import WorkerProcess, feed, wait_caught_up
from tests.integration.runtime.oracle import metric_events
from tests.integration.runtime.rebalance import Round, gaps, rounds
from tests.integration.runtime.test_exactly_once import assert_exactly_once

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
STEP_S = 5.0  # between two changes of the group
MAX_GAP_S = 45.0  # session timeout 6 s, a join round, a restore of 1,000 users: far below


class Group:
    """The workers of the test, each with its own PODIUM_WORKER_ID, and what happened when."""

    def __init__(self, spawn) -> None:
        self.spawn = spawn
        self.workers: dict[str, WorkerProcess] = {}
        self.stopped: dict[str, float] = {}
        self.changes: list[tuple[float, str]] = []

    def start(self, name: str) -> WorkerProcess:
        self.changes.append((time.time(), f"{name} joins"))
        worker = self.spawn("worker", env={"PODIUM_WORKER_ID": name})
        self.workers[name] = worker
        return worker

    def stop(self, name: str) -> None:
        self.changes.append((time.time(), f"{name} leaves"))
        self.stopped[name] = time.time()
        self.workers[name].stop()

    def logs(self) -> dict[str, str]:
        return {name: w.log() for name, w in self.workers.items()}


async def test_workers_joining_and_leaving_under_load_keep_exactly_once(
    kafka_bootstrap: str, names: Names, rules: Rules, spawn
) -> None:
    events = metric_events(60_000, 1_000, seed=31)
    group = Group(spawn)
    await group.start("w1").logged("took partitions", within=90)
    # ≈ 40 s of flow: longer than the six changes take
    flow = asyncio.create_task(feed(kafka_bootstrap, names.events, events, chunk=1_000, pause=0.6))
    for change in ("+w2", "+w3", "-w1", "+w4", "-w2", "-w3"):
        await asyncio.sleep(STEP_S)
        assert not flow.done(), f"the flow ended before {change}"
        if change[0] == "+":
            group.start(change[1:])
        else:
            group.stop(change[1:])
    await flow
    await wait_caught_up(kafka_bootstrap, names.worker_group, names.events, within=150)
    group.stop("w4")
    await assert_exactly_once(kafka_bootstrap, names, rules, len(events))
    found = rounds(gaps(group.logs(), group.stopped), group.changes)
    report(found)
    # six changes: a join may fall into the round of the change before or after it
    assert len(found) >= 4, f"{len(found)} rebalances seen"
    assert max(r.longest for r in found) < MAX_GAP_S


def report(found: list[Round]) -> None:
    """Per rebalance: partitions that went unserved, the median and longest gap."""
    print("\nunserved per rebalance (after, partitions, median s, max s):")
    for r in found:
        median = statistics.median(g.seconds for g in r.gaps)
        print(f"  {r.after:10} {len(r.gaps):3} {median:6.2f} {r.longest:6.2f}")
