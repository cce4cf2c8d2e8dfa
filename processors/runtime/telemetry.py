"""Prometheus series of the stream runtime: the worker's, the ranker's and the projector's,
served on each process's own port (`processors.runtime.ops_server`). Names follow Prometheus'
conventions (a `podium_` prefix, base units, `_total` on counters) and no label takes an
unbounded value (never a user id): a unit test holds them to it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram

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


def reason_label(reason: str) -> str:
    """A bounded label for a dead-letter reason: its class (`schemas.records.REASON_CLASSES`),
    not its field, which may be any attribute name a producer sent."""
    return reason_class(reason)


BLOCKED_PARTITIONS = Gauge(
    "podium_blocked_partitions",
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

# one observation per batch (worker) or transaction (ranker), never per record
SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40)
FOLD_SECONDS = Histogram(
    "podium_fold_duration_seconds",
    "Time to fold (worker) or rank (ranker) one batch of a partition's records",
    ["process"],
    buckets=SECONDS,
)
COMMIT_SECONDS = Histogram(
    "podium_commit_duration_seconds",
    "Time from a transaction's begin to its commit's answer (lost ones too)",
    ["process"],
    buckets=SECONDS,
)
TRANSACTION_RECORDS = Histogram(
    "podium_transaction_records",
    "Input records a committed transaction carries the offsets of",
    ["process"],
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 25_000, 50_000),
)
OWNED_PARTITIONS = Gauge(
    "podium_owned_partitions",
    "Input partitions this process owns (assigned and taken), all its consumer groups together",
    ["process"],
)
CONSUMER_LAG = Gauge(
    "podium_consumer_lag_records",
    "Records between the group's committed offset and the end of an owned partition",
    ["group", "topic", "partition"],
)
VIEWS_BEHIND = Gauge(
    "podium_views_behind_records",
    "State records on podium.state the projector has not committed as written to Redis",
    ["partition"],
)
VIEWS_SKIPPED = Counter(
    "podium_views_skipped_total",
    "Changelog records the projector skipped because they do not decode (no view written)",
)
RANKINGS = Gauge("podium_rankings", "Rankings (board runs and groups) this ranker holds")
RANKING_PARTICIPANTS = Gauge(
    "podium_ranking_participants", "Participants of all the rankings this ranker holds"
)


@contextmanager
def timed(histogram: Histogram) -> Iterator[None]:
    """Observe how long the block took (also when it raised) in a histogram (or its child)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        histogram.observe(time.perf_counter() - started)
