"""The answer's channel from the worker to the waiting request (docs/fast-path.md, "Answers
leave at the fold"): latency of the synchronous POST → 201 at 100, 500 and 1,000 requests/s
offered, and at 500/s with the ranks in the answer; the broker's CPU, idle and under load.

For each variant (a set of environment settings; `VARIANTS`) a fresh stack of
`bench_gateway.podium` (worker, projector, ranker) on one broker of its own (its pid known,
for CPU, with JMX for its request counts): the broker's CPU and the fetch requests it
serves per second: after `WARM_S` seconds of load (the broker's JIT compiles), the open loop
of `bench_gateway` at each rate through one gateway answering without ranks, latency from each
request's scheduled time, then 500/s through a second gateway that waits for the ranks too
(worker and ranker: `RANKED_WARM_S` of that load first, since a gateway that waits for ranks
triples the worker's transactions and the broker compiles for them, then `RANKED_RUNS` runs);
last, idle for `IDLE_S` seconds without a gateway, then with a fresh one
(what an idle gateway costs the broker). Printed per
run: p50, p99, done/s, the share answered 201 with the progress (not `pending`) and, ranked,
the share whose answer carries a leaderboard; the CPU of broker, worker, ranker and gateway
(share of a core, and CPU seconds per 1,000 events), the broker's request rates (`usage`) and
the worker's commits of the run (how many, their mean duration, the share over 50 and 100 ms:
a rank waits for the worker's commit; from the worker's own metrics).

First, the channel alone, in one process and without Kafka: `AnswerPusher` → loopback TCP →
`AnswerListener` → `ProgressWaiter`, one answer every 2 ms (500/s) and bursts of 500 (a
batch's answers): the time from `push` to the waiting future's result.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from statistics import quantiles
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from deploy.demo import wait_pipeline
from deploy.local import SERVING_JVM_OPTS, KafkaBroker, RedisServer, free_port
from deploy.settings import Settings
from ingest.answers import AnswerListener, ProgressWaiter
from processors.runtime.answers import AnswerPusher
from schemas.records import Progress, encode_record
from tests.bench.bench_gateway import (
    EVENT_PATH,
    RANKED_WARM_S,
    WARM_RATE,
    WARM_S,
    event_body,
    open_loop,
    podium,
    warm,
)
from tests.bench.stages import cpu_seconds
from tests.bench.usage import Usage, jmx_opts, read_request_counts

QUICK = bool(os.environ.get("PODIUM_BENCH_QUICK"))
SECONDS = 4 if QUICK else 10
IDLE_S = 5 if QUICK else 10
RATES = (100, 500, 1000)
RANKED_RATE = 500
RANKED_RUNS = 1 if QUICK else 3
# label -> the environment of every process of the stack
VARIANTS: dict[str, dict[str, str]] = {
    "pushed at the fold (the default)": {},
    # librdkafka sends one produce request per partition, so a transaction costs the broker a
    # request and a marker per partition it touches: fewer partitions, fewer of both
    "4 partitions per user-keyed topic": {"PODIUM_TOPIC_PARTITIONS": "4"},
    # podium.progress aligned with the events, as before it had a count of its own: a
    # transaction writes up to 12 progress partitions instead of 1
    "progress on 12 partitions": {"PODIUM_TOPIC_PROGRESS_PARTITIONS": "12"},
    # a commit that a rank waits on comes 20 ms after it by default: here at the cadence
    "ranks at the 100 ms cadence": {"PODIUM_WORKER_AWAITED_COMMIT_MS": "100"},
}


@contextmanager
def broker_and_redis(home: Path) -> Iterator[tuple[KafkaBroker, str, int]]:
    """A broker with JMX (for its request counts) and Redis; (broker, Redis URL, JMX port)."""
    jmx_port = free_port()
    jars = Settings().run_dir / "jars"
    opts = [*SERVING_JVM_OPTS, *jmx_opts(jmx_port)]
    broker = KafkaBroker(home / "kafka", free_port(), free_port(), jars, jvm_opts=opts)
    redis = RedisServer(home / "redis", free_port())
    try:
        broker.start()
        redis.start()
        yield broker, redis.url, jmx_port
    finally:
        redis.stop()
        broker.stop()


def shares(pids: dict[str, int], seconds: float, jmx_port: int) -> dict[str, float]:
    """Each process's CPU share of a core over `seconds` of sleep, and the broker's fetch
    requests from consumers per second (`fetch/s`, from its own metrics)."""
    before = {k: cpu_seconds(pid) for k, pid in pids.items()}
    fetches = read_request_counts(jmx_port, ["FetchConsumer"])["FetchConsumer"]
    started = time.perf_counter()
    time.sleep(seconds)
    after = read_request_counts(jmx_port, ["FetchConsumer"])["FetchConsumer"]
    elapsed = time.perf_counter() - started
    out = {k: (cpu_seconds(pid) - before[k]) / elapsed for k, pid in pids.items()}
    return {**out, "fetch/s": (after - fetches) / elapsed}


def one_stack(label: str, env: dict[str, str]) -> None:
    commits = free_port()  # the worker's metrics: its commits' durations, for each run
    env = {**env, "PODIUM_WORKER_METRICS_PORT": str(commits)}
    os.environ.update(env)  # podium() passes the environment on to every process it starts
    try:
        with (
            tempfile.TemporaryDirectory(prefix="podium-bench-answer-") as tmp,
            broker_and_redis(Path(tmp)) as (broker, redis_url, jmx_port),
            podium(broker.bootstrap, redis_url, Path(tmp)) as gateway,
        ):
            key: str = gateway.key  # type: ignore[attr-defined]
            procs = gateway.procs  # type: ignore[attr-defined]
            time.sleep(IDLE_S)  # the pipeline's processes start and take their partitions
            addr = gateway(PODIUM_GATEWAY_WAIT_S="2", PODIUM_GATEWAY_RANK_WAIT_S="0")
            pids = {"broker": broker.pid() or 0, "worker": procs[0].pid, "gateway": procs[-1].pid}
            wait_pipeline(f"http://{addr}/v1", key)
            warm(addr, key)
            for rate in RATES:
                _loaded(f"{label}, {rate} req/s", addr, key, rate, pids, jmx_port, commits)
            ranked = gateway(PODIUM_GATEWAY_WAIT_S="2")
            pids = {**pids, "ranker": procs[2].pid, "gateway": procs[-1].pid}
            wait_pipeline(f"http://{ranked}/v1", key)
            warm(ranked, key, RANKED_WARM_S, ", with ranks")
            for run in range(RANKED_RUNS):
                what = f"{label}, ranks, {RANKED_RATE} req/s, run {run + 1}"
                _loaded(what, ranked, key, RANKED_RATE, pids, jmx_port, commits)
            idle_cost(label, gateway, broker.pid() or 0, jmx_port)
    finally:
        for name in env:
            os.environ.pop(name, None)


def idle_cost(label: str, gateway: Any, broker_pid: int, jmx_port: int) -> None:
    """The broker's CPU and fetches/s idle, warm (after the runs), without a gateway (those of
    the runs stopped) and with a fresh one that waits for answers."""
    for proc in gateway.procs[3:]:  # the gateways; the pipeline keeps running
        proc.terminate()
        proc.wait(30)
    time.sleep(IDLE_S)
    alone = shares({"broker": broker_pid}, IDLE_S, jmx_port)
    gateway(PODIUM_GATEWAY_WAIT_S="2", PODIUM_GATEWAY_RANK_WAIT_S="0")
    time.sleep(IDLE_S)  # it connects and settles
    idle = shares({"broker": broker_pid, "gateway": gateway.procs[-1].pid}, IDLE_S, jmx_port)
    print(
        f"  {label}, idle {IDLE_S} s after the runs: without a gateway broker "
        f"{alone['broker']:.1%}, {alone['fetch/s']:.1f} fetch/s; with one: "
        + _cpu({k: v for k, v in idle.items() if k != "fetch/s"}, ".1%")
        + f", {idle['fetch/s']:.1f} fetch/s",
        flush=True,
    )


def _loaded(
    label: str, addr: str, key: str, rate: int, pids: dict[str, int], jmx_port: int, commits: int
) -> None:
    usage = Usage(pids, jmx_port)
    before = commit_durations(scrape(commits))
    started = time.perf_counter()
    kept: list[tuple[int, int, bytes]] = []
    r = asyncio.run(open_loop(addr, EVENT_PATH, key, rate, SECONDS, event_body, 256, kept))
    elapsed = time.perf_counter() - started
    used = usage.cpu()
    cpu = {k: v / elapsed for k, v in used.items()}
    answered = [body for _, status, body in kept if status == 201 and b'"pending"' not in body]
    ranked = sum(1 for body in answered if b'"leaderboards":{"' in body)
    print(
        f"  {label}: p50 {r['p50']:.1f} ms p99 {r['p99']:.1f} ms, "
        f"done {r['achieved']:.0f}/s, {len(answered) / (rate * SECONDS):.2%} 201 with the "
        f"progress, {ranked / (rate * SECONDS):.2%} with a rank, sent late p99 "
        f"{r['late_p99']:.1f} ms; " + _cpu(cpu),
        flush=True,
    )
    print("    " + usage.report(len(kept), used, elapsed), flush=True)
    print("    worker " + commit_report(before, commit_durations(scrape(commits))), flush=True)


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        return str(resp.read().decode())


def commit_durations(text: str) -> dict[str, float]:
    """The worker's `podium_commit_duration_seconds` from its metrics: "sum", "count" and
    each bucket's cumulative count by its bound ("0.05", ...)."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "podium_commit_duration_seconds":
            continue
        for sample in family.samples:
            if sample.name.endswith("_sum"):
                out["sum"] = sample.value
            elif sample.name.endswith("_count"):
                out["count"] = sample.value
            elif sample.name.endswith("_bucket"):
                out[sample.labels["le"]] = sample.value
    return out


def commit_report(before: dict[str, float], after: dict[str, float]) -> str:
    """The commits between two readings: how many, their mean duration, and the share that
    took longer than 50 and 100 ms."""
    n = after.get("count", 0.0) - before.get("count", 0.0)
    if n <= 0:
        return "commits: none"
    mean_ms = 1000 * (after["sum"] - before.get("sum", 0.0)) / n
    over = {bound: 1 - (after[bound] - before.get(bound, 0.0)) / n for bound in ("0.05", "0.1")}
    return (
        f"commits: {n:.0f}, mean {mean_ms:.1f} ms, {over['0.05']:.0%} over 50 ms, "
        f"{over['0.1']:.0%} over 100 ms"
    )


def _cpu(cpu: dict[str, float], form: str = ".0%") -> str:
    return "CPU " + ", ".join(f"{k} {v:{form}}" for k, v in cpu.items())


async def _channel_alone(count: int, burst: int, gap_s: float) -> list[float]:
    """Milliseconds from `push` to the waiting future's result for `count` answers sent
    `burst` at a time every `gap_s` seconds."""
    waiter = ProgressWaiter()
    listener = AnswerListener(waiter, "127.0.0.1")
    await listener.start()
    pusher = AnswerPusher()
    loop = asyncio.get_running_loop()
    took: list[float] = []
    try:
        for first in range(0, count, burst):
            ids = [f"ev-{i}" for i in range(first, first + burst)]
            futures = [waiter.expect(i) for i in ids]
            answers = [(listener.address, _answer(i)) for i in ids]
            sent = loop.time()
            pusher.push(answers)
            for future in futures:
                await future
                took.append((loop.time() - sent) * 1000)
            await asyncio.sleep(gap_s)
    finally:
        await pusher.close()
        await listener.stop()
    return took


def _answer(event_id: str) -> bytes:
    return encode_record(
        Progress(
            id=f"u1:progress:{event_id}",
            event_id=event_id,
            user_id="u1",
            command="metric",
            time_ms=0,
            metric="words-written",
            total=Decimal(7),
        )
    )


ALONE = (("one every 2 ms", 2_500, 1, 0.002), ("bursts of 500", 5_000, 500, 0.1))


def channel_alone() -> None:
    for label, count, burst, gap_s in ALONE:
        took = asyncio.run(_channel_alone(count, burst, gap_s))
        cuts = quantiles(took, n=100)
        print(
            f"  the channel alone, {label}: push → answer "
            f"p50 {cuts[49]:.3f} ms p99 {cuts[98]:.3f} ms",
            flush=True,
        )


def main() -> None:
    channel_alone()
    print(
        f"{SECONDS} s per rate, {IDLE_S} s idle first, {WARM_S} s at {WARM_RATE} req/s to warm "
        "the broker's JIT, a fresh broker and stack per variant"
    )
    for label, env in VARIANTS.items():
        one_stack(label, env)


if __name__ == "__main__":
    main()
