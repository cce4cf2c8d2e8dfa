"""The worker under two settings side by side: its transactional producers' retry back-offs.

aiokafka's defaults (100 ms, and 20 ms after CONCURRENT_TRANSACTIONS; the worker's default)
against 5 ms (`PODIUM_TRANSACTION_RETRY_BACKOFF_MS`, docs/fast-path.md section 6). For each variant
in turn (alternating order, `REPS` times each), a fresh stack of `bench_gateway.podium`
(worker, projector, ranker and one gateway on a fresh prefix, one broker for all runs) takes
the synchronous POST → 201 (without ranks) at 100 and 500 requests/s offered, open loop,
latency from each request's scheduled time; then the medians per variant.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
from pathlib import Path

from deploy.demo import wait_pipeline
from tests.bench.bench_gateway import EVENT_PATH, event_body, open_loop, podium
from tests.bench.services import bench_services

QUICK = bool(os.environ.get("PODIUM_BENCH_QUICK"))
REPS = 1 if QUICK else 3
SECONDS = 3 if QUICK else 8
RATES = (100, 500)
SETTING = "PODIUM_TRANSACTION_RETRY_BACKOFF_MS"
VARIANTS = {"aiokafka's back-offs (100 ms, the default)": "100", "5 ms back-offs": "5"}
Figures = dict[str, float]


def one_stack(bootstrap: str, redis_url: str, value: str) -> dict[int, Figures]:
    """A fresh stack with the setting at `value`: the open-loop figures per rate."""
    os.environ[SETTING] = value  # podium() passes the environment to its processes
    try:
        with tempfile.TemporaryDirectory() as tmp, podium(bootstrap, redis_url, Path(tmp)) as gw:
            key: str = gw.key  # type: ignore[attr-defined]
            addr = gw(PODIUM_GATEWAY_WAIT_S="2", PODIUM_GATEWAY_RANK_WAIT_S="0")
            wait_pipeline(f"http://{addr}/v1", key)
            return {
                rate: asyncio.run(
                    open_loop(addr, EVENT_PATH, key, rate, SECONDS, event_body, conns=256)
                )
                for rate in RATES
            }
    finally:
        del os.environ[SETTING]


def main() -> None:
    got: dict[tuple[str, int], list[Figures]] = {(v, r): [] for v in VARIANTS for r in RATES}
    with bench_services() as (bootstrap, redis_url):
        for rep in range(REPS):
            for name in list(VARIANTS) if rep % 2 == 0 else list(VARIANTS)[::-1]:
                for rate, r in one_stack(bootstrap, redis_url, VARIANTS[name]).items():
                    got[(name, rate)].append(r)
                    print(
                        f"  {name:30} {rate:>4} req/s ({r['achieved']:,.0f} done/s): "
                        f"p50 {r['p50']:7.1f} ms  p99 {r['p99']:7.1f} ms  "
                        f"201: {r.get('s201', 0):,.0f}",
                        flush=True,
                    )
    for (name, rate), rs in got.items():
        p50 = statistics.median(r["p50"] for r in rs)
        p99 = statistics.median(r["p99"] for r in rs)
        print(
            f"  median of {len(rs)}, {name:30} {rate:>4} req/s: "
            f"p50 {p50:7.1f} ms  p99 {p99:7.1f} ms"
        )


if __name__ == "__main__":
    main()
