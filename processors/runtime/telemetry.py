"""Prometheus counters of the stream runtime (exposed when `metrics_port` is set)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from schemas.records import reason_class

EVENTS = Counter("podium_events_applied_total", "Commands folded into user state")
DEAD_LETTERS = Counter(
    "podium_dead_letters_total",
    "Records of podium.events sent to the dead-letter topic",
    ["reason"],
)
TRANSACTIONS = Counter("podium_transactions_total", "Committed per-partition transactions")
PARTITIONS_LOST = Counter(
    "podium_partitions_lost_total", "Partitions dropped after a fenced or failed transaction"
)

PRODUCER_STOP_ERRORS = Counter(
    "podium_producer_stop_errors_total",
    "Transactional producers that failed to stop cleanly (the broker aborts what was open)",
)


def reason_label(reason: str) -> str:
    """A bounded label for a dead-letter reason: its class (`schemas.records.REASON_CLASSES`),
    not its field, which may be any attribute name a producer sent."""
    return reason_class(reason)


BLOCKED_PARTITIONS = Gauge(
    "podium_partitions_blocked",
    "Owned partitions waiting at a user whose stored state does not decode (0 = ready)",
)
STATES_UNDECODABLE = Counter(
    "podium_states_undecodable_total",
    "Times a partition stopped at a user's event because the user's state does not decode",
)
ANSWERS_PUSHED = Counter(
    "podium_answers_pushed_total",
    "Answers handed to the connection of the gateway waiting for them, before the commit",
)
ANSWERS_DROPPED = Counter(
    "podium_answers_dropped_total",
    "Answers not pushed: their gateway could not be reached or did not read (it answers pending)",
)
