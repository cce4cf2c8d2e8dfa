"""Stream runtime: the Podium worker against its peers doing the same outputs, and the ceiling.

Pre-loads N events (1 M for 100 k users; PODIUM_BENCH_QUICK=1: 100 k for 10 k users) with
the bench rules (10 metrics, 30 achievements, daily streak with freezes) and a points system
and two leaderboards (`data.scored_rules`: every kind of output gets written). Then, one
after the other on the same broker, each runtime peer (`runtime_peers`: the Podium worker,
the exactly-once v2 prototype, Quix Streams) folds them in a process of its own, writing the
worker's outputs (state, Progress, facts, score changes) to topics of its own, after a
worker run over other events has warmed the broker's JIT; each is timed from its process's
start to its group's committed offsets reaching the end, with its CPU and the broker's per
1,000 events and the broker's request rates (`usage`). The records on each output topic are
counted after each run and shown per event side by side. The ceiling (the same fold and
encoding, no Kafka, `ceiling`) runs beside them. Then `podium replay` over everything, and
the time a restarted worker needs to process again with every user's state.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from deploy.settings import Settings
from deploy.stack import create_topics
from processors.replay import ReplayConfig, run_replay
from schemas.rules_parse import load_rules
from schemas.topics import EVENTS, Names
from tests.bench.data import events, preload, scored_rules
from tests.bench.launch import policy
from tests.bench.runtime_peers import (
    Peer,
    PeerExited,
    Timed,
    ceiling,
    count_records,
    eos_v2_peer,
    quix_peer,
    quix_python,
    resolve_topics,
    run_timed,
    worker_peer,
)
from tests.bench.services import Services, metered_services
from tests.bench.usage import Usage, per_thousand

QUICK = bool(os.environ.get("PODIUM_BENCH_QUICK"))
COUNT, USERS = (100_000, 10_000) if QUICK else (1_000_000, 100_000)
WARM_EVENTS = 50_000 if QUICK else 200_000  # the broker's warm-up before the first peer
RUN = uuid.uuid4().hex[:6]
PREFIX = f"bench{RUN}."  # a fresh namespace, also on a shared broker
KINDS = ("state", "progress", "achievements", "streaks", "points", "scores", "events.dlq")


@dataclass(frozen=True)
class Result:
    """One runtime's run: wall seconds (process start to outputs committed; the ceiling: its
    fold loop), its own process's CPU seconds, and the records it wrote per event by kind."""

    name: str
    seconds: float
    cpu: float
    outputs: Mapping[str, float]

    @property
    def rate(self) -> float:
        return COUNT / self.seconds

    @property
    def cpu_rate(self) -> float:
        """Events per CPU second of its own process (steadier than wall time on a shared box)."""
        return COUNT / self.cpu


def kind_of(topic: str) -> str:
    """The output kind of a peer's topic: the catalogue name without prefix, or `state` for a
    Quix changelog."""
    if topic.startswith("changelog__"):
        return "state"
    return topic.rsplit("podium.", 1)[-1]


def per_event(counts: Mapping[str, int], events: int) -> dict[str, float]:
    """Records written per event by output kind."""
    out = dict.fromkeys(KINDS, 0.0)
    for topic, n in counts.items():
        out[kind_of(topic)] = out.get(kind_of(topic), 0.0) + n / events
    return out


def measure(peer: Peer, services: Services, log: Path) -> Result:
    """One peer's run: its figures printed, its outputs counted per event."""
    pids = {"broker": services.broker_pid} if services.broker_pid else {}
    usage = Usage(pids, services.jmx_port)
    lines: list[str] = []

    def readings(timed: Timed) -> None:  # while the peer still runs
        cpu = {**usage.cpu(), peer.name: timed.cpu}
        lines.append(usage.report(COUNT, cpu, timed.seconds))

    events_topic = Names(PREFIX).events
    timed = run_timed(peer, services.bootstrap, events_topic, log, readings)
    print(f"  {peer.name}: {COUNT / timed.seconds:,.0f} events/s ({timed.seconds:.1f} s)")
    print(f"    {lines[0]}", flush=True)
    counts = count_records(services.bootstrap, resolve_topics(services.bootstrap, peer.outputs))
    return Result(peer.name, timed.seconds, timed.cpu, per_event(counts, COUNT))


def measure_or_say(peer: Peer, services: Services, tmp: Path) -> Result | None:
    """`measure`, or None when the peer's process ended early (said, with its log's tail)."""
    log = tmp / f"{peer.module}.log"
    try:
        return measure(peer, services, log)
    except PeerExited as err:
        tail = "\n      ".join(log.read_text(errors="replace").splitlines()[-8:])
        print(f"  {peer.name}: {err}; left out of the comparison. Its log ends:\n      {tail}")
        return None


def preload_events(bootstrap: str, prefixes: list[str]) -> None:
    for prefix in prefixes:
        asyncio.run(create_topics(bootstrap, prefix))
    started = time.perf_counter()
    asyncio.run(preload(bootstrap, Names(PREFIX).events, events(COUNT, USERS), EVENTS.partitions))
    took = time.perf_counter() - started
    print(f"pre-loaded {COUNT:,} events of {USERS:,} users in {took:.1f} s", flush=True)


def warm_broker(services: Services, rules: Path, tmp: Path) -> None:
    """A worker run over other events first, not measured: the first peer would otherwise pay
    for the broker's JIT compiling its transactional paths (the worker, measured first, had
    0.16 core of broker JIT beside it in a quick run, and 0.67x the prototype's rate)."""
    names, count = Names(f"bench{RUN}warm."), WARM_EVENTS
    asyncio.run(create_topics(services.bootstrap, names.prefix))
    asyncio.run(
        preload(services.bootstrap, names.events, events(count, USERS, seed=5), EVENTS.partitions)
    )
    warm = run_timed(
        worker_peer(services.bootstrap, names, rules),
        services.bootstrap,
        names.events,
        tmp / "warm-up.log",
        lambda _: None,
    )
    print(f"  warm-up (not measured): a worker over {count:,} other events in {warm.seconds:.1f} s")


def peers(bootstrap: str, rules: Path, tmp: Path) -> list[Peer]:
    source = Names(PREFIX).events
    python = quix_python(Settings().run_dir)
    return [
        worker_peer(bootstrap, Names(PREFIX), rules),
        eos_v2_peer(bootstrap, Names(f"bench{RUN}eos."), rules, source),
        quix_peer(python, bootstrap, Names(f"bench{RUN}quix."), rules, source, tmp / "quix"),
    ]


def side_by_side(results: Sequence[Result]) -> None:
    """Records per event by kind, then rates and ratios (the worker's over each)."""
    print(f"  {'records per event':20}" + "".join(f"{r.name:>18}" for r in results))
    for kind in KINDS:
        row = "".join(f"{r.outputs.get(kind, 0.0):>18.3f}" for r in results)
        print(f"  {kind:20}{row}")
    totals = "".join(f"{sum(r.outputs.values()):>18.3f}" for r in results)
    print(f"  {'all':20}{totals}")
    worker = next((r for r in results if r.name == "podium worker"), None)
    if worker is None:
        print("  no ratios: the worker did not finish")
        return
    print(
        f"  {'runtime':20} {'events/s':>10} {'worker ÷ it':>12} "
        f"{'events/CPU s':>13} {'worker ÷ it':>12}"
    )
    for r in results:
        print(
            f"  {r.name:20} {r.rate:>10,.0f} {worker.rate / r.rate:>12.2f} "
            f"{r.cpu_rate:>13,.0f} {worker.cpu_rate / r.cpu_rate:>12.2f}"
        )


def run_ceiling(rules: Path, tmp: Path) -> Result:
    report, process_seconds = ceiling(COUNT, USERS, rules, tmp / "ceiling.log")
    print(
        "  ceiling (fold + encode, no Kafka, events decoded from bytes in memory): "
        f"{COUNT / report.seconds:,.0f} events/s ({report.seconds:.1f} s of fold; process "
        f"start to exit {process_seconds:.1f} s); "
        f"CPU s/1k events {per_thousand(report.cpu, COUNT):.3f}",
        flush=True,
    )
    return Result("ceiling", report.seconds, report.cpu, per_event(report.counts, COUNT))


def replay(services: Services, rules: Path) -> None:
    """`podium replay` over everything, in this process (its CPU is this process's)."""
    pids = {"broker": services.broker_pid} if services.broker_pid else {}
    usage = Usage({**pids, "replay (bench process)": os.getpid()}, services.jmx_port)
    config = ReplayConfig(services.bootstrap, Names(PREFIX))
    summary = asyncio.run(run_replay(config, load_rules(rules)))
    print(
        f"  podium replay (rebuild + compare): {summary.events / summary.seconds:,.0f} events/s; "
        f"{summary.events:,} events, {summary.users:,} users, {summary.states_changed} states "
        f"changed, {summary.facts_backfilled} facts new"
    )
    print(f"    {usage.report(summary.events, usage.cpu(), summary.seconds)}", flush=True)


def restart(services: Services, rules: Path, log: Path) -> None:
    """A few new events, a fresh worker process, the time until they are applied."""
    names = Names(PREFIX)
    asyncio.run(preload(services.bootstrap, names.events, events(1_000, USERS, seed=9), 12))
    log.write_text("")
    worker = worker_peer(services.bootstrap, names, rules)
    resume = run_timed(worker, services.bootstrap, names.events, log, lambda _: None)
    restored = re.findall(r"(\d+) users restored in ([\d.]+) s", log.read_text())
    print(
        f"  restarted worker: process start to 1,000 new events applied in "
        f"{resume.seconds:.1f} s (target < 10 s); restored (users, s): {restored[:1]}; "
        f"worker CPU {resume.cpu:.1f} s"
    )


def main() -> None:
    print(
        f"GC policy in every measured process: PODIUM_BENCH_GC={policy()} (tests/bench/launch.py)"
    )
    with metered_services() as services, tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        rules = scored_rules(tmp)
        the_peers = peers(services.bootstrap, rules, tmp)
        preload_events(services.bootstrap, [PREFIX, f"bench{RUN}eos.", f"bench{RUN}quix."])
        warm_broker(services, rules, tmp)
        results = [r for peer in the_peers if (r := measure_or_say(peer, services, tmp))]
        results.append(run_ceiling(rules, tmp))
        side_by_side(results)
        replay(services, rules)
        restart(services, rules, tmp / "deploy.cli.log")


if __name__ == "__main__":
    main()
