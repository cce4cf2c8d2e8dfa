"""`make bench`: every benchmark, measured side by side in one run; each prints its figures.

Run one alone with `python -m tests.bench NAME`; `PODIUM_BENCH_QUICK=1` shrinks the data."""

from __future__ import annotations

import importlib
import os
import sys

BENCHES = [
    "bench_fold",
    "bench_kafka",
    "bench_runtime",
    "bench_gateway",
    "bench_fastpath",
    "bench_answer_channel",
    "bench_worker_settings",
    "bench_worker_gc",
    "bench_broker_jvm",
    "bench_ranking",
    "bench_restore",
    "bench_soak",
    "bench_metrics",
]


def main(argv: list[str]) -> int:
    for process in ("GATEWAY", "WORKER", "RANKER", "PROJECTOR", "WEBHOOKS"):
        # the benchmarks start several of each: each serves its metrics on a free port
        os.environ.setdefault(f"PODIUM_{process}_METRICS_PORT", "0")
    wanted = argv or BENCHES
    for name in wanted:
        module = importlib.import_module(f"tests.bench.{name}")
        print(f"\n=== {name}: {(module.__doc__ or '').strip().splitlines()[0]}")
        module.main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
