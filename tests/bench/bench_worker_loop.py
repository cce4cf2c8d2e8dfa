"""The runtime's commit cadence side by side: commits every 100 ms (the default) against 20 ms.

`PODIUM_WORKER_COMMIT_INTERVAL_MS` sets the cadence of the worker and of the ranker (not in
`make bench`: `python -m tests.bench bench_worker_loop`, ≈ 4 minutes). For each variant in
turn (alternating order, `REPS` times each; `PODIUM_BENCH_LOOP_FIRST=<label>` starts with the
other) a fresh stack of `bench_gateway.podium` (worker, projector, ranker, two gateways on a
fresh prefix) takes the synchronous POST → 201 at 100 and 500 requests/s offered (the open
loop of `bench_gateway`, latency from each request's scheduled time), through a gateway that
answers without the ranks (the worker's round trip) and, at 500/s, one that waits for them
(worker and ranker). Printed per run: p50, p99, done/s, the worker's CPU and its
transactions per second (its Prometheus counter); then the medians per variant.
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

from deploy.demo import wait_pipeline
from deploy.local import free_port
from tests.bench.bench_gateway import EVENT_PATH, event_body, open_loop, podium
from tests.bench.services import bench_services
from tests.bench.stages import cpu_seconds as cpu_s

QUICK = bool(os.environ.get("PODIUM_BENCH_QUICK"))
REPS = 1 if QUICK else 3
SECONDS = 3 if QUICK else 8
VARIANTS = {"100 ms": "100", "20 ms": "20"}
RUNS = [("unranked", 100), ("unranked", 500), ("ranked", 500)]
Figures = dict[str, float]


def transactions(port: int) -> float:
    """The worker's committed transactions so far (`podium_transactions_total`)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    found = re.search(r"^podium_transactions_total ([\d.e+]+)$", text, re.M)
    return float(found.group(1)) if found else float("nan")


def measured(addr: str, key: str, rate: int, worker_pid: int, port: int) -> Figures:
    """One open-loop run with the worker's CPU share and transactions per second."""
    cpu, txn, started = cpu_s(worker_pid), transactions(port), time.perf_counter()
    r = asyncio.run(open_loop(addr, EVENT_PATH, key, rate, SECONDS, event_body, conns=256))
    elapsed = time.perf_counter() - started
    r["cpu"] = (cpu_s(worker_pid) - cpu) / elapsed * 100
    r["txn/s"] = (transactions(port) - txn) / elapsed
    return r


def one_stack(
    bootstrap: str, redis_url: str, home: Path, variant: str, setting: tuple[str, str]
) -> dict[str, Figures]:
    """A fresh stack with `setting` (name, value); the runs of `RUNS`, after a warm-up."""
    port = free_port()
    # podium() passes the environment on to every process it starts
    os.environ.update({setting[0]: setting[1], "PODIUM_WORKER_METRICS_PORT": str(port)})
    with podium(bootstrap, redis_url, home) as gateway:
        key: str = gateway.key  # type: ignore[attr-defined]
        worker_pid: int = gateway.pipeline[0].pid  # type: ignore[attr-defined]
        addrs = {
            "unranked": gateway(PODIUM_GATEWAY_WAIT_S="2", PODIUM_GATEWAY_RANK_WAIT_S="0"),
            "ranked": gateway(PODIUM_GATEWAY_WAIT_S="2"),
        }
        wait_pipeline(f"http://{addrs['ranked']}/v1", key)
        asyncio.run(open_loop(addrs["ranked"], EVENT_PATH, key, 100, 2, event_body))
        got = {}
        for label, rate in RUNS:
            r = measured(addrs[label], key, rate, worker_pid, port)
            got[f"{label} {rate}/s"] = r
            show(f"{variant:9} {label:8} {rate:>3}/s", r)
        return got


def show(label: str, r: Figures) -> None:
    codes = " ".join(
        f"{k[1:]}:{int(v)}" for k, v in sorted(r.items()) if k[0] == "s" and k[1:].isdigit()
    )
    print(
        f"  {label}  p50 {r['p50']:7.2f} ms  p99 {r['p99']:7.2f} ms  "
        f"done {r['achieved']:6.1f}/s  worker cpu {r['cpu']:5.1f} %  "
        f"txn {r['txn/s']:6.1f}/s  answers {codes}",
        flush=True,
    )


def main() -> None:
    first = os.environ.get("PODIUM_BENCH_LOOP_FIRST")  # the first stack meets a cold broker
    compare("PODIUM_WORKER_COMMIT_INTERVAL_MS", VARIANTS, first)


def compare(setting: str, variants: dict[str, str], first: str | None = None) -> None:
    """The worker with `setting` at each of `variants` (label → value) side by side."""
    print(f"{REPS} x {SECONDS} s per variant and run, variants alternating, a fresh stack each")
    got: dict[str, list[dict[str, Figures]]] = {v: [] for v in variants}
    order = list(variants)
    if first == order[1]:
        order.reverse()
    with bench_services() as (bootstrap, redis_url):
        for rep in range(REPS):
            for variant in order if rep % 2 == 0 else order[::-1]:
                with tempfile.TemporaryDirectory(prefix="podium-bench-loop-") as tmp:
                    value = (setting, variants[variant])
                    try:
                        stack = one_stack(bootstrap, redis_url, Path(tmp), variant, value)
                    finally:  # the benchmarks after this one start their processes without it
                        for name in (setting, "PODIUM_WORKER_METRICS_PORT"):
                            os.environ.pop(name, None)
                    got[variant].append(stack)
    for run in got[order[0]][0]:
        for variant, stacks in got.items():
            rs = [stack[run] for stack in stacks]
            med = {k: statistics.median(r[k] for r in rs) for k in ("p50", "p99", "achieved")}
            cpu = statistics.median(r["cpu"] for r in rs)
            txn = statistics.median(r["txn/s"] for r in rs)
            print(
                f"  median of {len(rs)}, {run:13} {variant:9}  p50 {med['p50']:7.2f} ms  "
                f"p99 {med['p99']:7.2f} ms  done {med['achieved']:6.1f}/s  "
                f"worker cpu {cpu:5.1f} %  txn {txn:6.1f}/s"
            )


if __name__ == "__main__":
    main()
