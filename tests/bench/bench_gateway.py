"""The HTTP gateway: single-event POST rate and latency, batch events/s, synchronous latency.

One gateway process (uvicorn) in front of the real broker, worker, ranker and projector, on
loopback; load comes from `wrk` (closed loop: the most the gateway answers), `hey` (fixed
offered rates: 50 connections, each limited to rate/50 requests per second) and, for the
synchronous run, an open-loop Python generator (latency from each request's scheduled send
time, so a stall counts against every request it delays). Everything shares the machine's
cores, so the figures are side by side in one run, not absolutes; the no-wait runs are
repeated with the worker, ranker and projector paused (SIGSTOP) to show the gateway's own
capacity.

- no-wait: `PODIUM_GATEWAY_WAIT_S=0`, every POST is published (acks=all) and answered 201
  with `pending: true`.
- batch: 1,000 events per POST, answered 202 once all are acknowledged.
- sync: the default gateway, POST → 201 with the event's progress (pushed by the worker at
  the fold) and its ranks (the ranker's committed rank changes), beside a gateway that
  answers without waiting for ranks.
"""

from __future__ import annotations

import asyncio
import gc
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from deploy.demo import wait_pipeline
from deploy.local import free_port
from deploy.settings import REPO_DIR, Settings
from deploy.stack import create_topics, wait_ready
from ingest.auth import mint_key
from tests.bench.services import bench_services

QUICK = bool(os.environ.get("PODIUM_BENCH_QUICK"))
EVENT_PATH = "/v1/metrics/words-written/event"
BATCH_PATH = "/v1/metrics/events"
USERS = 10_000
# the broker runs C2 (deploy/local.py SERVING_JVM_OPTS), which compiles its hot paths in the
# first minute of load (0.81 core at 500 events/s in the first 30 s, 0.33-0.44 after): the
# latency and CPU figures are taken once it is warm, as a broker that serves for long runs
WARM_S = 10 if QUICK else 60
WARM_RATE = 500
# the ranked load warms the broker for itself: its commits come 20 ms after a ranked event's
# fold, ≈ 50 transactions/s against 16, and in its first seconds the broker's JIT compiles
# for them (0.10 core in the first ranked run of 2026-12-07 19:38, 0.03 in the unranked ones)
RANKED_WARM_S = 5 if QUICK else 20


@contextmanager
def podium(bootstrap: str, redis_url: str, home: Path) -> Iterator[Callable[..., str]]:
    """Worker and projector for a fresh prefix; yields a function starting gateways."""
    prefix = f"b{uuid.uuid4().hex[:8]}."
    # the partition counts, read as `podium up` reads them
    asyncio.run(create_topics(bootstrap, prefix, Settings().topics))
    key, digest = mint_key()
    env = {
        **os.environ,
        "PODIUM_KAFKA_BOOTSTRAP": bootstrap,
        "PODIUM_REDIS_URL": redis_url,
        "PODIUM_TOPIC_PREFIX": prefix,
        "PODIUM_VIEWS_PREFIX": f"{prefix}views:",
        "PODIUM_API_KEY_HASHES": digest,
        "PODIUM_LOG_LEVEL": "WARNING",
    }
    procs: list[subprocess.Popen[bytes]] = []

    def spawn(name: str, *args: str, **extra: str) -> None:
        log = open(home / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "deploy.cli", *args],
                cwd=REPO_DIR,
                env={**env, **extra},
                stdout=log,
                stderr=log,
            )
        )

    def gateway(**extra: str) -> str:
        port = free_port()
        spawn(f"gateway-{port}", "gateway", "--port", str(port), **extra)
        wait_ready(f"http://127.0.0.1:{port}/ready")
        return f"127.0.0.1:{port}"

    spawn("worker", "worker")
    spawn("projector", "projector")
    spawn("ranker", "ranker")
    gateway.key = key  # type: ignore[attr-defined]
    gateway.pipeline = procs[:3]  # type: ignore[attr-defined]
    gateway.procs = procs  # type: ignore[attr-defined]  # every process, gateways after these
    gateway.prefix = prefix  # type: ignore[attr-defined]
    try:
        yield gateway
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            proc.wait(30)


def event_body(i: int) -> bytes:
    return orjson.dumps({"user": {"id": f"u{i % USERS}"}, "value": 1 + i % 7})


def batch_body(i: int, size: int = 1000) -> bytes:
    return orjson.dumps(
        {
            "events": [
                {
                    "key": "words-written",
                    "user": {"id": f"u{(i * size + j) % USERS}"},
                    "value": 1 + j % 7,
                }
                for j in range(size)
            ]
        }
    )


# --- wrk (closed loop) ---------------------------------------------------------------------

WRK_EVENT = """
counter = 0
request = function()
  counter = counter + 1
  local body = '{"user":{"id":"u' .. (counter %% %(users)d) .. '"},"value":1}'
  return wrk.format("POST", "%(path)s", {["Content-Type"]="application/json",
                    ["X-API-KEY"]="%(key)s"}, body)
end
"""
WRK_BODY = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-KEY"] = "%(key)s"
wrk.body = io.open("%(body)s", "rb"):read("*a")
"""


def wrk(addr: str, path: str, script: str, seconds: int, conns: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{conns}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            f.name,
            f"http://{addr}{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(f.name)

    def ms(label: str) -> float:
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if m is None:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": float(rate.group(1)) if rate else float("nan"),
        "p50": ms("50"),
        "p99": ms("99"),
        "non2xx": float(non2xx.group(1)) if non2xx else 0.0,
        "errors": 0.0 if errors is None else 1.0,
    }


# --- hey (a fixed offered rate) -----------------------------------------------------------


def hey(
    addr: str, path: str, key: str, rate: int, seconds: int, body: Path, workers: int = 50
) -> dict[str, float]:
    """`hey` with `workers` connections, each limited to rate/workers requests per second."""
    out = subprocess.run(
        [
            "hey",
            "-z",
            f"{seconds}s",
            "-c",
            str(workers),
            "-q",
            str(max(1, rate // workers)),
            "-m",
            "POST",
            "-T",
            "application/json",
            "-H",
            f"X-API-KEY: {key}",
            "-D",
            str(body),
            f"http://{addr}{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def pct(label: str) -> float:
        m = re.search(rf"{label}% in ([\d.]+) secs", out)
        return float(m.group(1)) * 1000 if m else float("nan")

    done = re.search(r"Requests/sec:\s+([\d.]+)", out)
    codes = {f"s{c}": float(n) for c, n in re.findall(r"\[(\d{3})\]\s+(\d+) responses", out)}
    return {
        "offered": rate,
        "achieved": float(done.group(1)) if done else float("nan"),
        "p50": pct("50"),
        "p99": pct("99"),
        **codes,
    }


@contextmanager
def paused(procs: list[subprocess.Popen[bytes]]) -> Iterator[None]:
    for proc in procs:
        proc.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGCONT)


# --- open loop at a fixed rate -------------------------------------------------------------


async def _request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes, body: bytes
) -> tuple[int, bytes]:
    """One request on a keep-alive connection: the answer's status and body."""
    writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
    status_line = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return int(status_line.split()[1]), await reader.readexactly(length)


Pool = asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]]


def post_head(addr: str, path: str, key: str) -> bytes:
    """A JSON POST's request line and headers, up to the body's length (`_request` adds it)."""
    return (
        f"POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n"
        f"X-API-KEY: {key}\r\nContent-Length: "
    ).encode()


async def connections(addr: str, count: int) -> Pool:
    """`count` open keep-alive connections to `addr`, queued for the requests to take."""
    host, port = addr.split(":")
    pool: Pool = asyncio.Queue()
    for _ in range(count):
        pool.put_nowait(await asyncio.open_connection(host, int(port)))
    return pool


@contextmanager
def no_collector_pauses() -> Iterator[None]:
    """The generator's own garbage collector off for a run: a full collection of the
    benchmark's process took 58-101 ms (2026-12-08, beside the open loop at 500 req/s), and
    every request due meanwhile was sent that much late and counted so. What lives before the
    run is frozen (never scanned); the run's cyclic garbage waits until it ends."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


def _p99(values: list[float]) -> float:
    """The 99th percentile of sorted `values` (the value at 99 % of the count)."""
    return values[min(len(values) - 1, int(len(values) * 0.99))]


async def _paced(
    rate: int, total: int, start: float, one: Callable[[int], Coroutine[Any, Any, None]]
) -> None:
    """Start `one(i)` at `start + i / rate` for each i below `total`; wait for them all."""
    tasks: list[asyncio.Task[None]] = []
    for i in range(total):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)


async def open_loop(
    addr: str,
    path: str,
    key: str,
    rate: int,
    seconds: float,
    body: Callable[[int], bytes],
    conns: int = 64,
    keep: list[tuple[int, int, bytes]] | None = None,
) -> dict[str, float]:
    """Post `body(i)` at `rate` per second for `seconds`; latency figures and status counts
    (and, into `keep`, each request's index, status and answer). `late_p99`: how late the
    generator itself sent its requests (p99, ms after each one's scheduled time), beside the
    latency it is part of."""
    head = post_head(addr, path, key)
    pool = await connections(addr, conns)
    total = int(rate * seconds)
    latencies: list[float] = []
    late: list[float] = []
    statuses: dict[int, int] = {}
    start = time.perf_counter() + 0.05

    async def one(i: int) -> None:
        scheduled = start + i / rate
        late.append((time.perf_counter() - scheduled) * 1000)
        conn = await pool.get()
        try:
            status, answer = await _request(*conn, head, body(i))
        finally:
            pool.put_nowait(conn)
        if keep is not None:
            keep.append((i, status, answer))
        latencies.append((time.perf_counter() - scheduled) * 1000)
        statuses[status] = statuses.get(status, 0) + 1

    with no_collector_pauses():
        await _paced(rate, total, start, one)
        elapsed = time.perf_counter() - start
    while not pool.empty():
        pool.get_nowait()[1].close()
    latencies.sort()
    late.sort()
    return {
        "offered": rate,
        "achieved": total / elapsed,
        "p50": statistics.median(latencies),
        "p99": _p99(latencies),
        "late_p99": _p99(late),
        **{f"s{k}": float(v) for k, v in statuses.items()},
    }


def _show(label: str, r: dict[str, float]) -> None:
    codes = " ".join(f"{k[1:]}:{int(v)}" for k, v in sorted(r.items()) if k.startswith("s"))
    late = f"  sent late p99 {r['late_p99']:5.1f} ms" if "late_p99" in r else ""
    print(f"  {label:62} p50 {r['p50']:7.2f} ms  p99 {r['p99']:7.2f} ms  answers {codes}{late}")


def no_wait_runs(addr: str, key: str, seconds: int, rates: list[int], tmp: Path) -> None:
    one = tmp / "event.json"
    one.write_bytes(event_body(1))
    batch = tmp / "batch.json"
    batch.write_bytes(batch_body(0))
    if shutil.which("wrk"):
        r = wrk(
            addr,
            EVENT_PATH,
            WRK_EVENT % {"users": USERS, "path": EVENT_PATH, "key": key},
            seconds,
            64,
        )
        print(
            f"  single, wrk closed loop 64 conns:  {r['rps']:8,.0f} req/s  p50 "
            f"{r['p50']:6.2f} ms  p99 {r['p99']:7.2f} ms  non-2xx {int(r['non2xx'])}"
        )
    if shutil.which("hey"):
        for rate in rates:
            r = hey(addr, EVENT_PATH, key, rate, seconds, one)
            _show(f"single, hey {rate:>5} req/s offered ({r['achieved']:,.0f} done/s)", r)
    if shutil.which("wrk"):
        r = wrk(addr, BATCH_PATH, WRK_BODY % {"key": key, "body": batch}, seconds, 8)
        print(
            f"  batch of 1,000, wrk 8 conns: {r['rps'] * 1000:9,.0f} events/s  "
            f"p50 {r['p50']:.0f} ms  p99 {r['p99']:.0f} ms  non-2xx {int(r['non2xx'])}"
        )


def sync_runs(gateways: dict[str, str], key: str, seconds: int, reps: int) -> None:
    """The same events (words-written: two boards of the example rules move with each)
    through a gateway that waits for the ranking stage's ranks (`EventResponse.leaderboards`)
    and one that answers without them (the worker's answer, pushed at the fold), at 100, 500
    and 1,000 requests per second offered:
    `reps` runs of each, interleaved in alternating order (run-to-run spread on a shared box
    is larger than the differences), then the median of each variant's p50 and p99."""
    print(f"synchronous POST → 201 with the event's progress, {reps} x {seconds} s per variant:")
    labels = list(gateways)
    for rate in (100, 500, 1000):
        variants = [v for v in labels if rate == 500 or v != "with leaderboards"]
        got: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
        for rep in range(reps):
            for label in variants if rep % 2 == 0 else variants[::-1]:
                addr = gateways[label]
                r = asyncio.run(
                    open_loop(addr, EVENT_PATH, key, rate, seconds, event_body, conns=256)
                )
                got[label].append(r)
                _show(f"{rate:,} req/s offered, {label} ({r['achieved']:,.0f} done/s)", r)
        for label, rs in got.items():
            p50 = statistics.median(r["p50"] for r in rs)
            p99 = statistics.median(r["p99"] for r in rs)
            what = f"median of {len(rs)}, {rate:,} req/s, {label}"
            print(f"  {what:62} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms")


def warm(addr: str, key: str, seconds: int = WARM_S, what: str = "") -> None:
    """`seconds` at `WARM_RATE` through the gateway at `addr` (the broker's JIT)."""
    print(f"  {seconds} s at {WARM_RATE} req/s first{what}: the broker's JIT compiles", flush=True)
    asyncio.run(open_loop(addr, EVENT_PATH, key, WARM_RATE, seconds, event_body, 256))


def main() -> None:
    seconds = 3 if QUICK else 10
    rates = [1000, 2500] if QUICK else [1000, 2500, 5000]
    for tool in ("wrk", "hey"):
        if shutil.which(tool) is None:
            print(f"  {tool} is not installed (`make bench` installs it); its runs are skipped")
    with (
        bench_services() as (bootstrap, redis_url),
        tempfile.TemporaryDirectory(prefix="podium-bench-gw-") as tmp,
        podium(bootstrap, redis_url, Path(tmp)) as gateway,
    ):
        key: str = gateway.key  # type: ignore[attr-defined]
        nowait = gateway(PODIUM_GATEWAY_WAIT_S="0")
        sync = gateway(PODIUM_GATEWAY_WAIT_S="2")
        unranked = gateway(PODIUM_GATEWAY_WAIT_S="2", PODIUM_GATEWAY_RANK_WAIT_S="0")
        wait_pipeline(f"http://{sync}/v1", key)  # the worker has its partitions
        gateways = {"with leaderboards": sync, "without leaderboards": unranked}
        warm(unranked, key)
        warm(sync, key, RANKED_WARM_S, ", with ranks")  # as bench_answer_channel warms for them
        sync_runs(gateways, key, seconds=3 if QUICK else 5, reps=1 if QUICK else 3)
        print(
            "no wait for progress (201 pending once acks=all), worker and projector folding along:"
        )
        no_wait_runs(nowait, key, seconds, rates, Path(tmp))
        print("no wait for progress, worker and projector paused (gateway + broker only):")
        with paused(gateway.pipeline):  # type: ignore[attr-defined]
            no_wait_runs(nowait, key, seconds, rates, Path(tmp))


if __name__ == "__main__":
    main()
