"""The Prometheus series issue 21 fixes for every Podium process, written here by hand from
the issue's list (not read from the code): each name with its type and labels. The dashboard
and the alert rules may name only these (tests/unit/test_dashboard.py, test_alerts.py), and
the code must register them (test_dashboard.py reads prometheus_client's registry)."""

from __future__ import annotations

import re
from typing import NamedTuple


class Series(NamedTuple):
    type: str  # counter, gauge, histogram, info
    labels: frozenset[str]


def series(type_: str, *labels: str) -> Series:
    return Series(type_, frozenset(labels))


SERIES: dict[str, Series] = {
    "podium_build_info": series("gauge", "version", "python"),
    "podium_http_request_duration_seconds": series("histogram", "route", "method", "status"),
    "podium_answer_wait_seconds": series("histogram", "outcome"),
    "podium_events_published_total": series("counter", "outcome"),
    "podium_fold_duration_seconds": series("histogram", "process"),
    "podium_commit_duration_seconds": series("histogram", "process"),
    "podium_transaction_records": series("histogram", "process"),
    "podium_events_applied_total": series("counter"),
    "podium_consumer_lag_records": series("gauge", "group", "topic", "partition"),
    "podium_dead_letters_total": series("counter", "reason"),
    "podium_blocked_partitions": series("gauge"),
    "podium_owned_partitions": series("gauge", "process"),
    "podium_views_behind_records": series("gauge", "partition"),
    "podium_rankings": series("gauge"),
    "podium_ranking_participants": series("gauge"),
    "podium_process_ready": series("gauge", "process"),
}
"""The series of issue 21 (`podium_build_info` may be an Info, exposed as a gauge)."""

PROCESS_COLLECTOR = {"process_cpu_seconds_total": series("counter")}
"""prometheus_client's default process collector, served with every registry on Linux."""

TARGET_LABELS = frozenset({"namespace", "pod", "instance", "job", "container", "le"})
"""Labels Prometheus adds when it scrapes (or, `le`, a histogram's buckets carry)."""

HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
NAME = re.compile(r"\b((?:podium|process)_[a-z_]+)\b")


def base_name(sample: str) -> str:
    """The series a sample name belongs to: `podium_x_seconds_bucket` -> `podium_x_seconds`."""
    known = SERIES | PROCESS_COLLECTOR
    if sample in known:
        return sample
    for suffix in HISTOGRAM_SUFFIXES:
        base = sample.removesuffix(suffix)
        if base != sample and known.get(base, series("")).type == "histogram":
            return base
    return sample


def names_in(expr: str) -> set[str]:
    """Every series a PromQL expression names (Podium's and the process collector's)."""
    return {base_name(name) for name in NAME.findall(expr)}
