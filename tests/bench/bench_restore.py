"""Benchmark of a fresh worker's and ranker's restore at a million users.

    python -m tests.bench.bench_restore          # full: 1,000,000 users and participants
    python -m tests.bench.bench_restore --quick  # or PODIUM_BENCH_QUICK=1: 100,000
    python -m tests.bench.bench_restore --ranker # the ranker alone (or --worker)

On a fresh local broker (`services.py`), written once with a producer as the runtime writes
them (no transactions: read_committed reads them the same):
- `podium.state`: one state per user, `encode_state` of a state folded from the bench events
  (`data.events`, ≈ 10 events a user over 30 days, the scored rules: ≈ 1.5 kB a state), the
  user id and offset replaced per user, on the partition of the user's events (murmur2);
- `podium.ranking.state`: one `ScoreChanged` per participant of one ranking (`top-m0`,
  perpetual), on that ranking's partition, keyed as the stage keys it;
- `podium.scores`: a backlog of score changes of that ranking's participants.

Then a real `podium worker` and a real `podium ranker` are started, each in a process of its
own (`launch.py`), and each takes every partition: the restore time is the one the process
logs for its take ("took partitions ... in X s": fencing producers, committed offsets, the
changelog read to its end and, for the ranker, one sort per ranking), the process's start to
that line beside it, and the memory its peak resident set (VmHWM) right after the take. The
ranker then ranks the backlog: rank updates per second from its take to its committed offset
reaching the end of `podium.scores` (each update: a change applied to the 1 M-participant
ranking, its `RankChanged` and changelog entry written in the batch's transaction).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import msgspec
from confluent_kafka import Producer

from deploy.stack import create_topics
from processors.core.fold import evolve
from processors.runtime.kafka import partition_of
from processors.runtime.rank_batch import entry_key
from schemas.commands import decode_command
from schemas.leaderboards import ScoreChanged, encode_leaderboard_record, ranking_partition
from schemas.rules_parse import load_rules
from schemas.state import UserState, encode_state
from schemas.topics import Names
from tests.bench import data
from tests.bench.runtime_peers import Peer
from tests.bench.services import bench_services
from tests.integration.runtime.kafka_io import wait_caught_up

PARTITIONS = 12
BOARD = "top-m0"
RANKING = f"{BOARD}|all|"
T0 = data.START_MS
TOOK = re.compile(r"took partitions .* in ([0-9.]+) s")


def template_states(rules_path: Path, users: int = 2_000) -> list[UserState]:
    """States folded from the bench events (10 a user), to be copied under other user ids."""
    rules = load_rules(rules_path)
    states: dict[str, UserState] = {}
    for key, value in data.events(users * 10, users):
        uid = key.decode()
        states[uid], _ = evolve(states.get(uid), decode_command(value), rules)
    return list(states.values())


def user_states(templates: list[UserState], users: int) -> Iterator[tuple[int, bytes, bytes]]:
    """(partition, key, value) of each user's state, as the worker writes it."""
    for i in range(users):
        uid = f"user-{i}"
        state = msgspec.structs.replace(templates[i % len(templates)], user_id=uid, offset=i)
        key = uid.encode()
        yield partition_of(key, PARTITIONS), key, encode_state(state)


def score(i: int, value: int, event: str) -> ScoreChanged:
    user = f"user-{i}"
    return ScoreChanged(
        id=f"{user}:score:{BOARD}:all::{event}",
        board=BOARD,
        run="all",
        group="",
        user_id=user,
        event_id=event,
        time_ms=T0 + i,
        previous=None,
        value=Decimal(value),
    )


def entries(participants: int) -> Iterator[tuple[int, bytes, bytes]]:
    """The ranking changelog of one ranking of `participants` (skewed whole values)."""
    p = ranking_partition(RANKING, PARTITIONS)
    for i in range(participants):
        change = score(i, (i * 7919) % 5_000, f"e{i}")
        yield p, entry_key(change), encode_leaderboard_record(change)


def backlog(participants: int, count: int) -> Iterator[tuple[int, bytes, bytes]]:
    """`count` score changes on the ranking, each raising a participant's value."""
    p = ranking_partition(RANKING, PARTITIONS)
    for j in range(count):
        i = (j * 104_729) % participants
        change = score(i, 5_000 + j, f"b{j}")
        yield p, RANKING.encode(), encode_leaderboard_record(change)


def produce(bootstrap: str, topic: str, items: Iterator[tuple[int, bytes, bytes]]) -> int:
    """Write fast with explicit partitions (idempotent, acks=all, no compression: as the
    runtime's producers write)."""
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "linger.ms": 50,
            "batch.size": 1_000_000,
            "queue.buffering.max.kbytes": 512 * 1024,
        }
    )
    count = 0
    for partition, key, value in items:
        while True:
            try:
                producer.produce(topic, value, key, partition=partition)
                break
            except BufferError:
                producer.poll(0.05)
        count += 1
        if count % 10_000 == 0:
            producer.poll(0)
    if producer.flush(120):
        raise RuntimeError(f"records of {topic} not delivered")
    return count


@dataclass(frozen=True)
class Took:
    logged_s: float  # the take as the process logs it
    from_start_s: float  # the process's start to that line
    peak_rss: int  # VmHWM, bytes
    line: str
    seen_at: float  # time.monotonic() when the line was read


def status_bytes(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def wait_took(proc_pid: int, log: Path, started: float, alive: Callable[[], bool]) -> Took:
    """Wait for the process's "took partitions" line (every partition in one take)."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            match = TOOK.search(line)
            if match:
                return Took(
                    float(match[1]),
                    time.monotonic() - started,
                    status_bytes(proc_pid, "VmHWM"),
                    line,
                    time.monotonic(),
                )
        if not alive():
            raise RuntimeError(f"the process ended before its take: see {log}")
        time.sleep(0.1)
    raise TimeoutError(f"no take logged in {log}")


def start(peer: Peer, log: Path) -> tuple[Took, Callable[[], None]]:
    started = time.monotonic()
    proc = peer.start(log)

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:  # a take still restoring does not look at the stop
            proc.kill()
            proc.wait(10)

    try:
        return wait_took(proc.pid, log, started, lambda: proc.poll() is None), stop
    except BaseException:
        stop()
        raise


def env(bootstrap: str, names: Names, rules: Path) -> dict[str, str]:
    return {
        "PODIUM_KAFKA_BOOTSTRAP": bootstrap,
        "PODIUM_TOPIC_PREFIX": names.prefix,
        "PODIUM_RULES_PATH": str(rules),
        "PODIUM_LOG_LEVEL": "INFO",
    }


def process(name: str, command: str, environ: dict[str, str]) -> Peer:
    return Peer(name, sys.executable, "deploy.cli", (command,), environ)


def measure_worker(bootstrap: str, names: Names, rules: Path, tmp: Path, users: int) -> None:
    templates = template_states(rules)
    began = time.monotonic()
    written = produce(bootstrap, names.state, user_states(templates, users))
    print(f"state changelog   {written:>12,} users written in {time.monotonic() - began:.1f} s")
    worker = process("worker", "worker", env(bootstrap, names, rules))
    # the first transactional producers on a fresh broker wait for it to create and load
    # __transaction_state: that start is shown apart; the figures are a second fresh process's
    cold, stop = start(worker, tmp / "w0.log")
    stop()
    print(f"worker, cold      {cold.logged_s:>12.2f} s (first take on this broker)")
    took, stop = start(worker, tmp / "w.log")
    stop()
    print(f"worker restore    {took.logged_s:>12.2f} s as logged ({took.line.rsplit(': ', 1)[-1]})")
    print(f"worker start      {took.from_start_s:>12.2f} s from exec to the take done")
    print(f"worker memory     {took.peak_rss / 2**20:>12,.0f} MiB peak RSS after the take")
    print(f"                  {took.peak_rss / users:>12,.0f} bytes per user")


def measure_ranker(bootstrap: str, names: Names, rules: Path, tmp: Path, n: int) -> None:
    began = time.monotonic()
    produce(bootstrap, names.ranking_state, entries(n))
    updates = max(n // 10, 10_000)
    produce(bootstrap, names.scores, backlog(n, updates))
    print(f"ranking changelog {n:>12,} participants written in {time.monotonic() - began:.1f} s")
    ranker = process("ranker", "ranker", env(bootstrap, names, rules))
    took, stop = start(ranker, tmp / "r.log")
    try:
        asyncio.run(wait_caught_up(bootstrap, names.ranking_group, names.scores, within=600))
        ranked_s = time.monotonic() - took.seen_at
    finally:
        stop()
    print(f"ranker restore    {took.logged_s:>12.2f} s as logged ({took.line.rsplit(': ', 1)[-1]})")
    print(f"ranker start      {took.from_start_s:>12.2f} s from exec to the take done")
    print(f"ranker memory     {took.peak_rss / 2**20:>12,.0f} MiB peak RSS after the take")
    rate = updates / ranked_s
    print(f"rank updates      {rate:>12,.0f} changes/s ({updates:,} in {ranked_s:.1f} s)")


def main(argv: Sequence[str] = ()) -> None:
    """Flags: --quick (`make bench` passes none; PODIUM_BENCH_QUICK=1 does the same);
    --worker or --ranker: that one alone."""
    quick = "--quick" in argv or os.environ.get("PODIUM_BENCH_QUICK") == "1"
    both = "--worker" not in argv and "--ranker" not in argv
    n = 100_000 if quick else 1_000_000
    now, load = datetime.now(UTC), os.getloadavg()[0]
    print(f"date              {now:%Y-%m-%d %H:%M} UTC, load average {load:.1f}")
    names = Names(prefix="bench-restore.")
    with (
        tempfile.TemporaryDirectory(prefix="podium-restore-") as folder,
        bench_services() as (
            bootstrap,
            _redis,
        ),
    ):
        tmp = Path(folder)
        rules = data.scored_rules(tmp)
        asyncio.run(create_topics(bootstrap, names.prefix))
        if both or "--worker" in argv:
            measure_worker(bootstrap, names, rules, tmp, n)
        if both or "--ranker" in argv:
            measure_ranker(bootstrap, names, rules, tmp, n)


if __name__ == "__main__":
    main(sys.argv[1:])
