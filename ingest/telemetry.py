"""Prometheus counters of the gateway: each catch-all handler in `ingest` logs and counts
what it caught, so a failure that is retried or answered 500 still shows as a number.

They live in prometheus_client's default registry; the gateway process does not serve it on
a port yet (only the worker has `metrics_port`), so for now they are read in-process."""

from __future__ import annotations

from prometheus_client import Counter

SUPERVISOR_ERRORS = Counter(
    "podium_gateway_supervisor_errors_total",
    "Steps of the gateway's Kafka producer supervisor that failed (it retries a second later)",
)
PRODUCER_CLOSE_ERRORS = Counter(
    "podium_gateway_producer_close_errors_total",
    "Replaced or stopped gateway producers that did not close cleanly",
)
READER_RECONNECTS = Counter(
    "podium_gateway_reader_reconnects_total",
    "Times one of the gateway's topic readers (rank-waiter on podium.leaderboards) failed "
    "and reconnected from the end",
    ["reader"],
)
INTERNAL_ERRORS = Counter(
    "podium_gateway_internal_errors_total",
    "Requests answered 500 because of an unhandled error",
)
