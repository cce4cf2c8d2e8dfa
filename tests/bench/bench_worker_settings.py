"""The worker under two settings side by side: its transactional producers' retry back-offs.

aiokafka's defaults (100 ms, and 20 ms after CONCURRENT_TRANSACTIONS; the worker's default)
against 5 ms (`PODIUM_TRANSACTION_RETRY_BACKOFF_MS`, docs/fast-path.md section 6), through
`bench_worker_loop.compare`: for each variant in turn (alternating order, 3 times each), a
fresh stack (worker, projector, ranker, two gateways on a fresh prefix, one broker for all
runs) takes the synchronous POST → 201 at 100 and 500 requests/s offered, open loop, latency
from each request's scheduled time; then the medians per variant.
"""

from __future__ import annotations

from tests.bench.bench_worker_loop import compare

VARIANTS = {"aiokafka's back-offs (100 ms, the default)": "100", "5 ms back-offs": "5"}


def main() -> None:
    compare("PODIUM_TRANSACTION_RETRY_BACKOFF_MS", VARIANTS)


if __name__ == "__main__":
    main()
