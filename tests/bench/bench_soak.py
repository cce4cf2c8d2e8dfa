"""Soak: a steady 500 events/s through the gateway for 10 minutes; RSS and lag each minute.

One gateway (not waiting for progress: 202 once the broker acknowledged) in front of the
real broker, worker, ranker and projector (fresh local services), so the worker and projector must
keep up with the offered rate on their own; the lag says whether they do. An open-loop
generator posts single events at a fixed rate (each request is scheduled on the clock, so a
stall shows as requests behind schedule instead of a silently lower rate). Each sample
prints the RSS of every process (broker, Redis, worker, projector, ranker, gateway, this load
generator), the worker group's lag on `podium.events` and the projector's on
`podium.state`, and the answers since the last sample. Flat RSS and bounded lag are the pass.

`PODIUM_SOAK_MINUTES` (default 10), `PODIUM_SOAK_RATE` (500), `PODIUM_SOAK_SAMPLE_S` (60);
`PODIUM_BENCH_QUICK=1` runs 2 minutes sampled every 20 s. Not part of CI (`make bench`).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

import orjson

from deploy.local import SERVING_JVM_OPTS, KafkaBroker, RedisServer, free_port
from deploy.settings import Settings
from schemas.topics import Names
from tests.bench.bench_gateway import (
    EVENT_PATH,
    USERS,
    _request,
    connections,
    podium,
    post_head,
)
from tests.integration.runtime.kafka_io import committed_offsets, end_offsets

QUICK = bool(os.environ.get("PODIUM_BENCH_QUICK"))
MINUTES = float(os.environ.get("PODIUM_SOAK_MINUTES", "2" if QUICK else "10"))
RATE = int(os.environ.get("PODIUM_SOAK_RATE", "500"))
SAMPLE_S = float(os.environ.get("PODIUM_SOAK_SAMPLE_S", "20" if QUICK else "60"))
CONNECTIONS = 64  # enough in flight that the offered rate, not the latency, sets the pace


def rss_mib(pid: int | None) -> float:
    """Resident memory of a process (VmRSS), in MiB; NaN when it is gone."""
    if pid is None:
        return float("nan")
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


async def load(addr: str, key: str, answers: Counter[str], behind: list[float], end: float) -> None:
    """Post at RATE per second until `end` over a pool of CONNECTIONS keep-alive connections
    (raw HTTP/1.1, as `bench_gateway.open_loop` does: an httpx client of that many
    connections was itself the limit, at ≈ 50 to 80 requests/s on this box)."""
    host, port = addr.split(":")
    head = post_head(addr, EVENT_PATH, key)
    pool = await connections(addr, CONNECTIONS)

    async def one(i: int) -> None:
        body = orjson.dumps({"user": {"id": f"u{i % USERS}"}, "value": 1 + i % 7})
        conn = await pool.get()
        try:
            answers[str((await _request(*conn, head, body))[0])] += 1
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            answers["transport error"] += 1
            conn = await asyncio.open_connection(host, int(port))
        finally:
            pool.put_nowait(conn)

    start = time.monotonic()
    tasks: set[asyncio.Task[None]] = set()
    i = 0
    while (due := start + i / RATE) < end and time.monotonic() < end:
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        behind.append(time.monotonic() - due)
        task = asyncio.create_task(one(i))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        i += 1
    await asyncio.gather(*tasks)
    while not pool.empty():
        pool.get_nowait()[1].close()


async def lag(bootstrap: str, group: str, topic: str) -> int:
    """Records of `topic` past the group's committed offsets (committed read first, so a
    group that moves on meanwhile cannot make the figure negative)."""
    committed = await committed_offsets(bootstrap, group, topic)
    ends = await end_offsets(bootstrap, topic)
    return sum(max(0, ends[p] - committed.get(p, 0)) for p in ends)


async def sample(bootstrap: str, names: Names, pids: dict[str, int | None]) -> str:
    lag_w = await lag(bootstrap, names.worker_group, names.events)
    lag_p = await lag(bootstrap, f"{names.prefix}podium.projector", names.state)
    rss = "  ".join(f"{name} {rss_mib(pid):6.1f}" for name, pid in pids.items())
    return f"RSS MiB: {rss}  | lag worker {lag_w:6d}  projector {lag_p:6d}"


async def soak(
    bootstrap: str, addr: str, key: str, names: Names, pids: dict[str, int | None]
) -> None:
    answers: Counter[str] = Counter()
    behind: list[float] = []
    end = time.monotonic() + MINUTES * 60
    runner = asyncio.create_task(load(addr, key, answers, behind, end))
    print(f"  {RATE} events/s for {MINUTES:g} min, sampled every {SAMPLE_S:g} s")
    started = time.monotonic()
    while not runner.done():
        await asyncio.wait([runner], timeout=SAMPLE_S)
        line = await sample(bootstrap, names, pids)
        late = max(behind, default=0.0)
        behind.clear()
        got = ", ".join(f"{k}: {v}" for k, v in sorted(answers.items()))
        answers.clear()
        minute = (time.monotonic() - started) / 60
        print(f"  {minute:5.1f} min  {line}  | answers {got}  | max behind {late * 1000:.0f} ms")
    runner.result()


def main() -> None:
    settings = Settings()
    with tempfile.TemporaryDirectory(prefix="podium-soak-") as tmp:
        home = Path(tmp)
        jars = settings.run_dir / "jars"
        broker = KafkaBroker(home / "kafka", free_port(), free_port(), jars, SERVING_JVM_OPTS)
        redis = RedisServer(home / "redis", free_port())
        broker.start()
        redis.start()
        try:
            with podium(broker.bootstrap, redis.url, home) as gateway:
                addr = gateway(PODIUM_GATEWAY_WAIT_S="0")  # 202 once acknowledged
                worker, projector, ranker = gateway.pipeline  # type: ignore[attr-defined]
                procs = gateway.procs  # type: ignore[attr-defined]
                pids = {
                    "broker": broker.pid(),
                    "redis": redis.pid(),
                    "worker": worker.pid,
                    "projector": projector.pid,
                    "ranker": ranker.pid,
                    "gateway": procs[3].pid,
                    "load": os.getpid(),
                }
                names = Names(gateway.prefix)  # type: ignore[attr-defined]
                asyncio.run(soak(broker.bootstrap, addr, gateway.key, names, pids))  # type: ignore[attr-defined]
        finally:
            redis.stop()
            broker.stop()


if __name__ == "__main__":
    main()
