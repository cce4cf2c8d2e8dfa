"""The fast path (docs/fast-path.md): the exactly-once v2 prototype beside the Podium worker.

One broker (its pid known, for CPU), measured side by side in one run:
1. throughput on the same pre-loaded events (100 k for 10 k users; PODIUM_BENCH_FULL=1: 1 M
   for 100 k): the Podium worker (`podium worker`: the runtime of processors/runtime/runner.py,
   one transactional producer per process, fenced by the group generation, committing every
   100 ms), the prototype `eos_v2_peer` (one producer, one transaction per batch), both on
   confluent-kafka (Quix Streams doing the same outputs, and the ceiling, are in
   bench_runtime);
2. the synchronous answer at 10, 100 and 500 req/s offered (open loop, `POST
   /v1/metrics/words-written/event` → 201) through a real gateway, with each worker kind in
   turn: HTTP latency, the per-stage times of `tests.bench.stages`, CPU of broker, worker and
   gateway (share of a core, and CPU seconds per 1,000 events), and the transaction markers
   the state topic got. 10 req/s is the floor: one request at a time, nothing queued, so its
   stages are what each step costs on an idle box.
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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

from deploy.local import SERVING_JVM_OPTS, KafkaBroker, RedisServer, free_port
from deploy.settings import REPO_DIR, Settings
from deploy.stack import create_topics, wait_ready
from ingest.auth import mint_key
from schemas.topics import EVENTS, Names
from tests.bench.bench_gateway import EVENT_PATH, event_body, open_loop
from tests.bench.data import RULES, events, preload
from tests.bench.stages import (
    Observer,
    cpu_seconds,
    end_offsets_sum,
    show,
    stages,
)
from tests.integration.runtime.kafka_io import wait_caught_up

FULL = bool(os.environ.get("PODIUM_BENCH_FULL"))
COUNT, USERS = (1_000_000, 100_000) if FULL else (100_000, 10_000)
RATES = (10, 100, 500)  # 10: the floor, one request at a time
SECONDS = 15 if FULL else 6
PODIUM = ("-m", "deploy.cli", "worker")
PEER = ("-m", "tests.bench.eos_v2_peer", "--instance", "bench")
KINDS = {
    "podium worker (one producer, 100 ms commits)": PODIUM,
    "podium worker, librdkafka's 100 ms retry back-offs": PODIUM,
    "eos v2 peer (confluent)": PEER,
}
# The worker with its transactional producer's retry back-off at librdkafka's 100 ms
# (retry.backoff.ms, set in processors.runtime.producing; Podium's default is 20 ms).
KIND_ENV = {
    "podium worker, librdkafka's 100 ms retry back-offs": {
        "PODIUM_TRANSACTION_RETRY_BACKOFF_MS": "100"
    }
}


@contextmanager
def services(home: Path) -> Iterator[tuple[KafkaBroker, str]]:
    jars = Settings().run_dir / "jars"
    broker = KafkaBroker(home / "kafka", free_port(), free_port(), jars, SERVING_JVM_OPTS)
    redis = RedisServer(home / "redis", free_port())
    try:
        broker.start()
        redis.start()
        yield broker, redis.url
    finally:
        redis.stop()
        broker.stop()


def spawn(args: Sequence[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, *args], env={**os.environ, **env}, cwd=REPO_DIR, stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def env_for(bootstrap: str, prefix: str, **extra: str) -> dict[str, str]:
    return {
        "PODIUM_KAFKA_BOOTSTRAP": bootstrap,
        "PODIUM_TOPIC_PREFIX": prefix,
        "PODIUM_RULES_PATH": str(RULES),
        "PODIUM_LOG_LEVEL": "INFO",
        **extra,
    }


def timed(bootstrap: str, args: Sequence[str], source: Names, log: Path, **extra_env: str) -> float:
    """Seconds from process start until its group has committed the whole input. The Podium
    worker writes under the source's prefix; the peer reads the source's events and writes
    under a prefix of its own (so neither restores the other's states)."""
    prefix, extra = source.prefix, ()  # type: tuple[str, tuple[str, ...]]
    if args is PEER:
        prefix, extra = f"fp{uuid.uuid4().hex[:6]}.", ("--input-topic", source.events)
        asyncio.run(create_topics(bootstrap, prefix))
    started = time.perf_counter()
    proc = spawn([*args, *extra], env_for(bootstrap, prefix, **extra_env), log)
    try:
        group = Names(prefix).worker_group
        asyncio.run(wait_caught_up(bootstrap, group, source.events, within=3600))
        return time.perf_counter() - started
    finally:
        stop(proc)


def preloaded(bootstrap: str) -> Names:
    source = Names(f"fp{uuid.uuid4().hex[:6]}.")
    asyncio.run(create_topics(bootstrap, source.prefix))
    asyncio.run(preload(bootstrap, source.events, events(COUNT, USERS), EVENTS.partitions))
    return source


def throughput(broker: KafkaBroker, home: Path) -> None:
    bootstrap = broker.bootstrap
    print(f"throughput, {COUNT:,} pre-loaded events of {USERS:,} users:", flush=True)
    rates: dict[str, float] = {}
    pid = broker.pid() or 0
    for name, args in KINDS.items():
        source = preloaded(bootstrap)  # the same events under a prefix (a group) of its own
        cpu0 = cpu_seconds(pid)
        log = home / f"tp-{len(rates)}.log"
        seconds = timed(bootstrap, args, source, log, **KIND_ENV.get(name, {}))
        rates[name] = COUNT / seconds
        found = re.findall(r"in (\d+) transactions", log.read_text())
        txs = f", {found[-1]} transactions" if found else ""
        print(
            f"  {name:44} {rates[name]:>9,.0f} events/s  broker CPU "
            f"{cpu_seconds(pid) - cpu0:.1f} s{txs}",
            flush=True,
        )
    base = next(iter(rates.values()))
    print(f"  {'runtime':44} {'events/s':>9} {'vs the first':>12}")
    for name, rate in rates.items():
        print(f"  {name:44} {rate:>9,.0f} {rate / base:>12.0%}")


def wait_answered(addr: str, key: str, within: float = 120.0) -> None:
    """Until a metric event comes back 201 with its progress: the worker owns the input."""
    deadline = time.monotonic() + within
    with httpx.Client(headers={"X-API-KEY": key}, timeout=10) as http:
        while time.monotonic() < deadline:
            resp = http.post(f"http://{addr}{EVENT_PATH}", content=event_body(0))
            if resp.status_code == 201:
                return
            time.sleep(0.5)
    raise TimeoutError(f"no 201 from {addr} within {within:.0f} s")


def sync_run(broker: KafkaBroker, redis_url: str, home: Path, kind: str, rate: int) -> None:
    bootstrap = broker.bootstrap
    names = Names(f"fs{uuid.uuid4().hex[:6]}.")
    asyncio.run(create_topics(bootstrap, names.prefix))
    key, digest = mint_key()
    port = free_port()
    env = env_for(
        bootstrap, names.prefix, PODIUM_REDIS_URL=redis_url, PODIUM_API_KEY_HASHES=digest,
        PODIUM_VIEWS_PREFIX=f"{names.prefix}views:", PODIUM_LOG_LEVEL="INFO",
        PODIUM_RULES_PATH=str(REPO_DIR / "deploy" / "rules.example.toml"),  # has words-written
        PODIUM_GATEWAY_RANK_WAIT_S="0",  # no ranker here: the stages measured end at the worker
    )  # fmt: skip
    worker_env = {**env, **KIND_ENV.get(kind, {})}
    worker = spawn(KINDS[kind], worker_env, home / f"sync-{names.prefix}worker.log")
    gateway = spawn(
        ("-m", "deploy.cli", "gateway", "--port", str(port)), env, home / f"gw-{port}.log"
    )
    try:
        addr = f"127.0.0.1:{port}"
        wait_ready(f"http://{addr}/ready")
        try:
            wait_answered(addr, key)
        except Exception:
            for log in home.glob("*.log"):
                print(f"--- {log.name}\n{log.read_text()[-3000:]}")
            raise
        parts = EVENTS.partitions
        pids = {"broker": broker.pid() or 0, "worker": worker.pid, "gateway": gateway.pid}
        with (
            Observer(bootstrap, [names.events, names.progress], parts, "read_uncommitted") as unc,
            Observer(bootstrap, [names.progress, names.state], parts, "read_committed") as com,
        ):
            ends0 = end_offsets_sum(bootstrap, names.state, parts)
            cpu0 = {k: cpu_seconds(pid) for k, pid in pids.items()}
            started = time.perf_counter()
            r = asyncio.run(open_loop(addr, EVENT_PATH, key, rate, SECONDS, event_body, 256))
            elapsed = time.perf_counter() - started
            cpu = {k: (cpu_seconds(pid) - cpu0[k]) / elapsed for k, pid in pids.items()}
        markers = end_offsets_sum(bootstrap, names.state, parts) - ends0 - com.counts[names.state]
    finally:
        stop(gateway)
        stop(worker)
    _answers(f"{kind}, {rate} req/s offered", r, rate, cpu)
    per_s = markers / elapsed
    broker_ms = cpu["broker"] * 1000 / per_s if per_s else float("nan")
    print(f"    state-topic transaction markers {per_s:,.0f}/s; broker CPU {broker_ms:.1f} ms each")
    show(s.line() for s in stages(names.events, names.progress, unc, com))


def _answers(what: str, r: dict[str, float], rate: int, cpu: dict[str, float]) -> None:
    """The HTTP figures and each process's CPU: share of a core, seconds per 1,000 events."""
    ok = r.get("s201", 0) / (rate * SECONDS)
    done = r.get("achieved", 0.0)
    per_k = ", ".join(f"{k} {v * 1000 / done:.2f}" for k, v in cpu.items()) if done else "-"
    print(
        f"  {what} ({done:,.0f} done/s): HTTP p50 {r['p50']:.1f} ms p99 {r['p99']:.1f} ms, "
        f"{ok:.2%} 201; CPU "
        + ", ".join(f"{k} {v:.0%}" for k, v in cpu.items())
        + f"; CPU s per 1,000 events: {per_k}"
    )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="podium-bench-fp-") as tmp:
        home = Path(tmp)
        with services(home) as (broker, redis_url):
            # answers first, on a broker that has not just taken the backlog runs: after them
            # (2026-12-03) it used 112 % of a core at 100 req/s, more than at 500 req/s
            print(f"synchronous answers, open loop, {SECONDS} s per run:", flush=True)
            for rate in RATES:
                for kind in KINDS:
                    sync_run(broker, redis_url, home, kind, rate)
            throughput(broker, home)


if __name__ == "__main__":
    main()
