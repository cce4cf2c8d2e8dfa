"""Stream runtime: the Podium worker against its peers on the same fold, plus replay and restart.

Pre-loads N events (1 M for 100 k users; PODIUM_BENCH_QUICK=1: 100 k for 10 k users) with
the bench rules (10 metrics, 30 achievements, daily streak with freezes), then measures one
after the other on the same broker: the Podium worker (a `podium worker` process, earliest to
caught up, exactly-once, publishing state, progress and facts), (b) a plain aiokafka fold
with no output, (c) Quix Streams with its state store (exactly-once), (a) faust-streaming
with a table on a smaller sample; then `podium replay` over everything and the time a
restarted worker needs to process again with every user's state.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from deploy.settings import REPO_DIR
from deploy.stack import create_topics
from processors.replay import ReplayConfig, run_replay
from schemas.rules_parse import load_rules
from schemas.topics import EVENTS, Names, Topic
from tests.bench.data import RULES, events, preload
from tests.bench.runtime_peers import faust_fold, plain_fold, quix_fold
from tests.bench.services import bench_services
from tests.integration.runtime.kafka_io import wait_caught_up

QUICK = bool(os.environ.get("PODIUM_BENCH_QUICK"))
COUNT, USERS = (100_000, 10_000) if QUICK else (1_000_000, 100_000)
FAUST_COUNT = 5_000 if QUICK else 30_000
PREFIX = f"bench{uuid.uuid4().hex[:6]}."  # a fresh namespace, also on a shared broker
FAUST_TOPIC = Topic(f"{PREFIX}faust.events", key=EVENTS.key, value=EVENTS.value, partitions=12)


def _worker(bootstrap: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PODIUM_KAFKA_BOOTSTRAP": bootstrap,
        "PODIUM_TOPIC_PREFIX": PREFIX,
        "PODIUM_RULES_PATH": str(RULES),
    }
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "deploy.cli", "worker"],
            env=env,
            cwd=REPO_DIR,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _timed_worker(bootstrap: str, names: Names, log: Path) -> float:
    started = time.perf_counter()
    proc = _worker(bootstrap, log)
    try:
        asyncio.run(wait_caught_up(bootstrap, names.worker_group, names.events, within=3600))
        return time.perf_counter() - started
    finally:
        _stop(proc)


def _preload(bootstrap: str, names: Names) -> None:
    asyncio.run(create_topics(bootstrap, PREFIX))
    asyncio.run(create_topics(bootstrap, "", (FAUST_TOPIC,)))
    started = time.perf_counter()
    asyncio.run(preload(bootstrap, names.events, events(COUNT, USERS), EVENTS.partitions))
    asyncio.run(
        preload(bootstrap, FAUST_TOPIC.name, events(FAUST_COUNT, USERS), FAUST_TOPIC.partitions)
    )
    print(
        f"pre-loaded {COUNT:,} events of {USERS:,} users in {time.perf_counter() - started:.1f} s"
    )


def main() -> None:
    rules = load_rules(RULES)
    names = Names(PREFIX)
    with bench_services() as (bootstrap, _), tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "worker.log"
        _preload(bootstrap, names)

        rates: dict[str, float] = {}

        def note(name: str, rate: float) -> None:
            rates[name] = rate
            print(f"  {name}: {rate:,.0f} events/s", flush=True)

        note("podium worker (EOS, all outputs)", COUNT / _timed_worker(bootstrap, names, log))
        restored = re.findall(r"(\d+) users restored in ([\d.]+) s", log.read_text())
        plain_s = asyncio.run(plain_fold(bootstrap, names.events, COUNT, rules))
        note("(b) plain aiokafka fold, no output", COUNT / plain_s)
        quix_s = quix_fold(bootstrap, names.events, COUNT, rules)
        note("(c) quix streams, state store, EOS", COUNT / quix_s)
        faust_events, faust_s = faust_fold(bootstrap, FAUST_TOPIC.name, FAUST_COUNT)
        if faust_events:
            note(f"(a) faust agent + table ({faust_events:,} ev)", faust_events / faust_s)
        if faust_events < FAUST_COUNT:
            print(f"(a) faust folded only {faust_events:,} of {FAUST_COUNT:,} events")

        summary = asyncio.run(run_replay(ReplayConfig(bootstrap, names), rules))
        note("podium replay (rebuild + compare)", summary.events / summary.seconds)

        # Restart: a few new events, a fresh worker process, time until they are applied.
        asyncio.run(
            preload(bootstrap, names.events, events(1_000, USERS, seed=9), EVENTS.partitions)
        )
        log.write_text("")
        resume_s = _timed_worker(bootstrap, names, log)
        restart = re.findall(r"(\d+) users restored in ([\d.]+) s", log.read_text())

    base = rates["(b) plain aiokafka fold, no output"]
    print(f"{'runtime':44} {'events/s':>10} {'vs (b)':>7}")
    for name, rate in rates.items():
        print(f"{name:44} {rate:>10,.0f} {rate / base:>7.0%}")
    print(
        f"replay: {summary.events:,} events, {summary.users:,} users, "
        f"{summary.states_changed} states changed, {summary.facts_backfilled} facts new"
    )
    print(f"first start restored: {restored[:1]}; restart restored (users, s): {restart[:1]}")
    print(
        f"restarted worker: process start to 1,000 new events applied in {resume_s:.1f} s "
        f"(target < 10 s)"
    )


if __name__ == "__main__":
    main()
