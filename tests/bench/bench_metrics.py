"""Metrics on and off, side by side: what /metrics, the probes, the lag sampler and the
request timing cost the hot path.

1. The gateway's request timing alone (`ingest.telemetry.TimedRequests`), in-process: the
   app over the component tier's fakes, called through ASGI without a server, GET
   /v1/users/{id}/metrics, the same requests with and without the timing layer, in short
   alternating blocks.
2. The whole stack (worker, ranker, projector, one gateway on the real broker and Redis) with
   `PODIUM_METRICS_ENABLED=false` (no metrics port, no lag sampling, no request timing; the
   runtime's counters and its three observations per batch stay, they cannot be switched
   off) against `true` with every process's /metrics, /livez and /readyz scraped once a
   second (a Prometheus scrapes every 15 to 30 s), alternating arms on fresh stacks: the
   synchronous POST → 201 at a fixed offered rate (the open loop of `bench_gateway`), its
   p50, p99 and rate done, and the worker's and the gateway's CPU.

In `make bench` (≈ 3 minutes; alone: `python -m tests.bench bench_metrics`).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from deploy.demo import wait_pipeline
from deploy.local import free_port
from ingest.app import build_app
from ingest.auth import KeyRing, hash_key
from tests.bench.bench_gateway import EVENT_PATH, event_body, open_loop, podium
from tests.bench.services import bench_services
from tests.bench.stages import cpu_seconds
from tests.component.fakes import API_KEY, Stack, view
from tests.rules import writing_rules

QUICK = bool(os.environ.get("PODIUM_BENCH_QUICK"))
REPS = 1 if QUICK else 3
SECONDS = 3 if QUICK else 10
RATE = 200
CALLS = 2_000 if QUICK else 20_000
BLOCK = 250
PROCESSES = ("GATEWAY", "WORKER", "RANKER", "PROJECTOR")
Figures = dict[str, float]


# --- 1. the request timing, in-process ---------------------------------------------------


def asgi_call(app: Any, scope: dict[str, Any]) -> Any:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    return app(dict(scope), receive, send)


async def per_request_us(app: Any, calls: int) -> float:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/v1/users/u1/metrics",
        "raw_path": b"/v1/users/u1/metrics",
        "query_string": b"",
        "headers": [(b"host", b"podium.test"), (b"x-api-key", API_KEY.encode())],
        "server": ("podium.test", 80),
    }
    started = time.perf_counter()
    for _ in range(calls):
        await asgi_call(app, scope)
    return (time.perf_counter() - started) / calls * 1e6


def timing_alone() -> None:
    stack = Stack(writing_rules())
    stack.views.put(view("u1"))
    keys = KeyRing([hash_key(API_KEY)])
    apps = {
        "off": build_app(stack.gateway(), keys, timed=False),
        "on": build_app(stack.gateway(), keys, timed=True),
    }
    got: dict[str, list[float]] = {name: [] for name in apps}

    blocks = CALLS // BLOCK

    async def rounds() -> None:
        for app in apps.values():  # warm
            await per_request_us(app, 200)
        for i in range(blocks):  # short blocks, alternating: a busy neighbour hits both arms
            for name in list(apps) if i % 2 == 0 else list(apps)[::-1]:
                got[name].append(await per_request_us(apps[name], BLOCK))

    asyncio.run(rounds())
    off, on = (statistics.median(got[name]) for name in ("off", "on"))
    print(
        f"  request timing, GET /v1/users/{{id}}/metrics over fakes, {CALLS:,} calls per arm "
        f"in {blocks} alternating blocks (medians of the blocks):"
    )
    print(f"    off {off:7.1f} µs/request   on {on:7.1f} µs/request   (+{on - off:.1f} µs)")


# --- 2. the whole stack ------------------------------------------------------------------


SCRAPER = """
import sys, time, urllib.request
ports, rounds = sys.argv[1:], 0
while True:
    time.sleep(1.0)
    for port in ports:
        for path in ("/metrics", "/livez", "/readyz"):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2).read()
            except OSError:  # a 503 answer (not ready) is one too
                pass
    rounds += 1
    print(rounds, flush=True)
"""


@contextmanager
def scraped(ports: dict[str, int]) -> Iterator[list[int]]:
    """Scrape every process's /metrics, /livez and /readyz once a second meanwhile, from a
    process of its own (a thread of this one would slow the load it generates); yields the
    list the number of scrape rounds goes into."""
    scraper = subprocess.Popen(
        [sys.executable, "-c", SCRAPER, *map(str, ports.values())],
        stdout=subprocess.PIPE,
        text=True,
    )
    count = [0]
    try:
        yield count
    finally:
        scraper.terminate()
        out, _ = scraper.communicate(timeout=10)
        count[0] = len(out.split())


def one_stack(bootstrap: str, redis_url: str, home: Path, on: bool) -> Figures:
    ports = {p: free_port() for p in PROCESSES}
    os.environ["PODIUM_METRICS_ENABLED"] = "true" if on else "false"
    os.environ.update({f"PODIUM_{p}_METRICS_PORT": str(port) for p, port in ports.items()})
    with podium(bootstrap, redis_url, home) as gateway:
        key: str = gateway.key  # type: ignore[attr-defined]
        addr = gateway(PODIUM_GATEWAY_WAIT_S="2", PODIUM_GATEWAY_RANK_WAIT_S="0")
        worker, gw = gateway.procs[0].pid, gateway.procs[-1].pid  # type: ignore[attr-defined]
        wait_pipeline(f"http://{addr}/v1", key)
        asyncio.run(open_loop(addr, EVENT_PATH, key, 100, 2, event_body))  # warm
        with scraped(ports) if on else _nothing() as scrapes:
            cpu = {pid: cpu_seconds(pid) for pid in (worker, gw)}
            started = time.perf_counter()
            r = asyncio.run(open_loop(addr, EVENT_PATH, key, RATE, SECONDS, event_body))
            elapsed = time.perf_counter() - started
        r["worker cpu"] = (cpu_seconds(worker) - cpu[worker]) / elapsed * 100
        r["gateway cpu"] = (cpu_seconds(gw) - cpu[gw]) / elapsed * 100
        r["scrapes"] = float(scrapes[0])
    return r


@contextmanager
def _nothing() -> Iterator[list[int]]:
    yield [0]


def show(label: str, r: Figures) -> None:
    print(
        f"  {label:16} p50 {r['p50']:7.2f} ms  p99 {r['p99']:7.2f} ms  "
        f"done {r['achieved']:6.1f}/s  worker cpu {r['worker cpu']:5.1f} %  "
        f"gateway cpu {r['gateway cpu']:5.1f} %  scrape rounds {int(r['scrapes'])}",
        flush=True,
    )


def whole_stack() -> None:
    print(f"  the stack, sync POST at {RATE}/s for {SECONDS} s, {REPS} x each, arms alternating:")
    got: dict[bool, list[Figures]] = {False: [], True: []}
    saved = {k: v for k, v in os.environ.items() if k.startswith("PODIUM_")}
    with bench_services() as (bootstrap, redis_url):
        for rep in range(REPS):
            for on in (False, True) if rep % 2 == 0 else (True, False):
                with tempfile.TemporaryDirectory(prefix="podium-bench-metrics-") as tmp:
                    try:
                        r = one_stack(bootstrap, redis_url, Path(tmp), on)
                    finally:  # the benchmarks after this one start without these
                        for k in [k for k in os.environ if k.startswith("PODIUM_")]:
                            if k not in saved:
                                del os.environ[k]
                        os.environ.update(saved)
                got[on].append(r)
                show(f"metrics {'on' if on else 'off'} #{rep + 1}", r)
    for on, runs in got.items():
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        show(f"median, {'on' if on else 'off'}", med)


def main() -> None:
    timing_alone()
    whole_stack()


if __name__ == "__main__":
    main()
