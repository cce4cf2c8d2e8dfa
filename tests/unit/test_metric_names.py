"""Every series Podium registers follows Prometheus' naming: a `podium_` prefix, counters in
`_total`, histograms in a base unit, and no label that could carry a user id or another
unbounded value. The series the dashboard, the alerts and the Kubernetes manifests are built
from (deploy/) are all registered, with the labels they use."""

from __future__ import annotations

import importlib
import re

from prometheus_client import REGISTRY, generate_latest
from prometheus_client.gc_collector import GC_COLLECTOR
from prometheus_client.platform_collector import PLATFORM_COLLECTOR
from prometheus_client.process_collector import PROCESS_COLLECTOR
from prometheus_client.registry import Collector

PROCESS_MODULES = (
    "processors.worker",
    "processors.ranker",
    "processors.projector",
    "processors.replay",
    "ingest.app",
    "deploy.cli",
)
# the series table of issue 21 (the names deploy/ is written against), with their labels
REQUIRED = {
    "podium_build_info": ("gauge", {"version", "python"}),
    "podium_http_request_duration_seconds": ("histogram", {"route", "method", "status"}),
    "podium_answer_wait_seconds": ("histogram", {"outcome"}),
    "podium_events_published": ("counter", {"outcome"}),
    "podium_fold_duration_seconds": ("histogram", {"process"}),
    "podium_commit_duration_seconds": ("histogram", {"process"}),
    "podium_transaction_records": ("histogram", {"process"}),
    "podium_events_applied": ("counter", set()),
    "podium_consumer_lag_records": ("gauge", {"group", "topic", "partition"}),
    "podium_dead_letters": ("counter", {"reason"}),
    "podium_blocked_partitions": ("gauge", set()),
    "podium_owned_partitions": ("gauge", {"process"}),
    "podium_views_behind_records": ("gauge", {"partition"}),
    "podium_rankings": ("gauge", set()),
    "podium_ranking_participants": ("gauge", set()),
    "podium_process_ready": ("gauge", {"process"}),
}
UNBOUNDED = {"user", "id", "tenant", "key", "event", "path", "url"}
UNITS = ("_seconds", "_records", "_bytes")


def podium_collectors() -> list[Collector]:
    for module in PROCESS_MODULES:
        importlib.import_module(module)
    builtin = {PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR}
    return [c for c in set(REGISTRY._collector_to_names) if c not in builtin]


def declared() -> dict[str, tuple[str, set[str]]]:
    """Each family's name (a counter's without `_total`, as prometheus_client keeps it), its
    type and its label names, read from the collectors' `describe`."""
    found: dict[str, tuple[str, set[str]]] = {}
    for collector in podium_collectors():
        for family in collector.describe() if hasattr(collector, "describe") else []:
            labels = set(getattr(collector, "_labelnames", ()))
            found[family.name] = (family.type, labels)
    return found


def test_every_series_is_podium_s_with_its_unit_and_bounded_labels() -> None:
    found = declared()
    assert len(found) >= len(REQUIRED)
    for name, (kind, labels) in found.items():
        assert name.startswith("podium_"), name
        if kind == "histogram":
            assert name.endswith(UNITS), f"{name}: a histogram in a base unit"
        for label in labels:
            words = set(label.split("_"))
            assert not words & UNBOUNDED, f"{name}: label {label!r} may be unbounded"


def test_counters_are_served_in_total() -> None:
    """What Prometheus reads: each counter is typed and sampled as `<name>_total` (beside
    `<name>_created`; a labelled one has no sample before its first child)."""
    podium_collectors()
    text = generate_latest(REGISTRY).decode()
    counters = re.findall(r"^# TYPE (podium_\S+) counter$", text, re.M)
    assert "podium_events_published_total" in counters
    for family in counters:
        assert family.endswith("_total"), family
        base = family.removesuffix("_total")
        samples = re.findall(rf"^({base}\w*)[{{ ]", text, re.M)
        assert {name.removeprefix(base) for name in samples} <= {"_total", "_created"}, family


def test_the_series_deploy_is_written_against_are_registered() -> None:
    found = declared()
    missing = {name for name in REQUIRED if name not in found}
    assert missing == set()
    for name, expected in REQUIRED.items():
        assert found[name] == expected, name
