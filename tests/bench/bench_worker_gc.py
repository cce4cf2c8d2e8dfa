"""The worker's GC policy both ways: the same pre-loaded events folded by a `podium worker`
process with its tuned GC (`processors.runtime.gc_tuning`) and by one with CPython's defaults,
alternating, each in a fresh namespace; events/s from process start to caught up, and the
worker's CPU seconds per 1,000 events.

    python -m tests.bench bench_worker_gc     # PODIUM_BENCH_QUICK=1: 100 k events of 10 k users
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from deploy.settings import REPO_DIR
from deploy.stack import create_topics
from schemas.topics import EVENTS, Names
from tests.bench.data import RULES, events, preload
from tests.bench.services import bench_services
from tests.bench.stages import cpu_seconds
from tests.integration.runtime.kafka_io import wait_caught_up

QUICK = bool(os.environ.get("PODIUM_BENCH_QUICK"))
COUNT, USERS = (100_000, 10_000) if QUICK else (1_000_000, 100_000)
ROUNDS = 2
# The default-GC worker: the same command with the policy taken out before it runs.
DEFAULT_GC = (
    "import sys, processors.runtime.gc_tuning as g, deploy.cli as c; "
    "g.ENABLED = False; sys.exit(c.main(['worker']))"
)


def timed(bootstrap: str, prefix: str, tuned: bool, log: Path) -> tuple[float, float]:
    """(seconds from process start to caught up, the worker's CPU seconds)."""
    env = {
        **os.environ,
        "PODIUM_KAFKA_BOOTSTRAP": bootstrap,
        "PODIUM_TOPIC_PREFIX": prefix,
        "PODIUM_RULES_PATH": str(RULES),
    }
    cmd = (
        [sys.executable, "-m", "deploy.cli", "worker"]
        if tuned
        else [sys.executable, "-c", DEFAULT_GC]
    )
    started = time.perf_counter()
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=REPO_DIR, stdout=out, stderr=subprocess.STDOUT)
    try:
        group, topic = Names(prefix).worker_group, Names(prefix).events
        asyncio.run(wait_caught_up(bootstrap, group, topic, within=3600))
        return time.perf_counter() - started, cpu_seconds(proc.pid)
    finally:
        proc.terminate()
        proc.wait(60)


def main() -> None:
    with bench_services() as (bootstrap, _), tempfile.TemporaryDirectory() as tmp:
        runs: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
        for _ in range(ROUNDS):
            for tuned in (True, False):
                prefix = f"gc{uuid.uuid4().hex[:6]}."
                asyncio.run(create_topics(bootstrap, prefix))
                items = events(COUNT, USERS)
                asyncio.run(preload(bootstrap, Names(prefix).events, items, EVENTS.partitions))
                runs[tuned].append(timed(bootstrap, prefix, tuned, Path(tmp) / "worker.log"))
        print(f"{COUNT:,} events of {USERS:,} users, {ROUNDS} rounds alternating")
        for tuned, label in ((True, "tuned GC (the worker's)"), (False, "CPython's default GC")):
            best_s = min(s for s, _ in runs[tuned])
            cpu = min(c for _, c in runs[tuned])
            print(
                f"  {label:26} {COUNT / best_s:>9,.0f} events/s (best)   "
                f"{cpu / COUNT * 1000:.3f} CPU s per 1,000 events   "
                f"runs: {', '.join(f'{COUNT / s:,.0f}' for s, _ in runs[tuned])}"
            )
        ratio = min(s for s, _ in runs[False]) / min(s for s, _ in runs[True])
        print(f"  tuned / default throughput: {ratio:.2f}x")


if __name__ == "__main__":
    main()
