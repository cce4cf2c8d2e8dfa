"""The worker under two settings side by side: its transactional producer's retry back-off.

librdkafka's `retry.backoff.ms` at 20 ms (the worker's default, the Java client's retry of
CONCURRENT_TRANSACTIONS) against librdkafka's default of 100 ms
(`PODIUM_TRANSACTION_RETRY_BACKOFF_MS`, docs/fast-path.md "What was chosen"), through
`bench_worker_loop.compare`: for each variant in turn (alternating order, 3 times each), a
fresh stack (worker, projector, ranker, two gateways on a fresh prefix, one broker for all
runs) takes the synchronous POST → 201 at 100 and 500 requests/s offered, open loop, latency
from each request's scheduled time; then the medians per variant.
"""

from __future__ import annotations

from tests.bench.bench_worker_loop import compare

VARIANTS = {"20 ms back-off (the default)": "20", "100 ms back-off (librdkafka's)": "100"}


def main() -> None:
    compare("PODIUM_TRANSACTION_RETRY_BACKOFF_MS", VARIANTS)


if __name__ == "__main__":
    main()
