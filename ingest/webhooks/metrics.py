"""The dispatcher's Prometheus series (served on /metrics by the process's metrics server).

- `podium_webhook_deliveries_total{outcome}`: attempts that ended `delivered` or `failed`
  (a timeout, a network error or a non-2xx), and deliveries `dead_lettered` after the last;
- `podium_webhook_retries_total`: retries scheduled;
- `podium_webhook_oldest_pending_seconds`: how long the oldest delivery not yet ended has
  waited, over every endpoint (a dead receiver shows here long before its dead letters).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from ingest.webhooks.lanes import Observer

DELIVERIES = Counter(
    "podium_webhook_deliveries_total",
    "Webhook attempts delivered or failed, and deliveries dead-lettered",
    ["outcome"],
)
RETRIES = Counter("podium_webhook_retries_total", "Webhook retries scheduled")
OLDEST_PENDING = Gauge(
    "podium_webhook_oldest_pending_seconds", "Age of the oldest webhook delivery not yet ended"
)


class Metrics(Observer):
    """The lanes' reports as the series above."""

    def delivered(self) -> None:
        DELIVERIES.labels("delivered").inc()

    def failed(self) -> None:
        DELIVERIES.labels("failed").inc()

    def retried(self) -> None:
        RETRIES.inc()

    def dead_lettered(self) -> None:
        DELIVERIES.labels("dead_lettered").inc()
