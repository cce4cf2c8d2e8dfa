"""Issue 21's "done when", on the real stack: every process (worker, ranker, projector,
gateway) serves /metrics, /livez and /readyz on a port of its own; the counters and
histograms move by what the test sends; the consumer lag comes back to 0 (the ranker's to at
most 1: its input is written in transactions, whose commit marker follows the last record);
and a worker that owns no partition is not ready until it owns one.

The topics have one partition each, so a second worker in the group owns none."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from schemas.topics import CATALOGUE
from tests.integration.gateway.conftest import Podium, eventually, start_podium
from tests.rules import RANKING_PATH

pytestmark = pytest.mark.integration

ONE_PARTITION = tuple(dataclasses.replace(topic, partitions=1) for topic in CATALOGUE)
PROCESSES = ("worker", "ranker", "projector", "gateway-0")
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def pod(
    kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Podium]:
    with ExitStack() as stack:
        home = tmp_path_factory.mktemp("metrics")
        pod = start_podium(
            kafka_bootstrap, redis_url, home, rules=RANKING_PATH, topics=ONE_PARTITION
        )
        stack.callback(pod.stop)
        pod.start_ranker()
        yield pod


def scrape(url: str) -> Samples:
    text = httpx.get(url, timeout=10).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples named `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def probe(pod: Podium, name: str, path: str) -> httpx.Response:
    return httpx.get(pod.metrics_url(name).replace("/metrics", path), timeout=10)


def test_every_process_serves_its_metrics_and_probes(pod: Podium) -> None:
    for name in PROCESSES:
        process = name.split("-")[0]
        samples = scrape(pod.metrics_url(name))
        assert value(samples, "podium_build_info") == 1, name
        assert probe(pod, name, "/livez").status_code == 200, name

        def ready(name: str = name, process: str = process) -> None:
            answer = probe(pod, name, "/readyz")
            assert answer.status_code == 200, answer.text
            got = scrape(pod.metrics_url(name))
            assert value(got, "podium_process_ready", process=process) == 1

        eventually(ready, within=30, every=0.5)


def test_counters_and_histograms_move_by_what_was_sent(pod: Podium) -> None:
    urls = {name: pod.metrics_url(name) for name in PROCESSES}
    before = {name: scrape(url) for name, url in urls.items()}
    trophy = pod.trophy()
    for i in range(5):  # five writers, one words event each: five score changes to rank
        answer = trophy.metrics.event(key="words-written", user={"id": f"m{i}"}, value=10 * i + 1)
        assert answer.total == 10 * i + 1  # answered, not pending
    batch = [{"key": "chapters-finished", "user": {"id": f"m{i}"}, "value": 1} for i in range(3)]
    with pod.http() as http:
        assert http.post("/metrics/events", json={"events": batch}).status_code == 202
    assert httpx.get(pod.base_url + "/users/m0/metrics", timeout=10).status_code == 401

    def moved() -> None:
        now = {name: scrape(url) for name, url in urls.items()}

        def delta(name: str, series: str, **labels: str) -> float:
            return value(now[name], series, **labels) - value(before[name], series, **labels)

        gw = "gateway-0"
        assert delta(gw, "podium_events_published_total", outcome="ok") == 8
        event = {"route": "/v1/metrics/{key}/event", "method": "POST", "status": "201"}
        assert delta(gw, "podium_http_request_duration_seconds_count", **event) == 5
        batched = {"route": "/v1/metrics/events", "method": "POST", "status": "202"}
        assert delta(gw, "podium_http_request_duration_seconds_count", **batched) == 1
        refused = {"route": "unrouted", "status": "401"}
        assert delta(gw, "podium_http_request_duration_seconds_count", **refused) == 1
        assert delta(gw, "podium_answer_wait_seconds_count", outcome="answered") == 5
        assert delta("worker", "podium_events_applied_total") == 8
        # every input record is committed once: the records per transaction add up to 8
        assert delta("worker", "podium_transaction_records_sum", process="worker") == 8
        commits = delta("worker", "podium_commit_duration_seconds_count", process="worker")
        txns = delta("worker", "podium_transaction_records_count", process="worker")
        assert commits == txns >= 1
        assert delta("worker", "podium_fold_duration_seconds_count", process="worker") >= txns
        assert delta("ranker", "podium_transaction_records_sum", process="ranker") == 5
        assert value(now["ranker"], "podium_rankings") == 1
        assert value(now["ranker"], "podium_ranking_participants") == 5

    eventually(moved, within=30, every=0.5)


def test_lag_and_owned_partitions_per_process(pod: Podium) -> None:
    groups = {
        "worker": (f"{pod.prefix}podium.worker", 0),
        "ranker": (f"{pod.prefix}podium.ranking", 1),
        "projector": (f"{pod.prefix}podium.projector", 0),
    }
    owned = {"worker": 1, "ranker": 1, "projector": 3}  # the projector: three loops

    def caught_up() -> None:
        for name, (group, most) in groups.items():
            samples = scrape(pod.metrics_url(name))
            lag = [v for (n, ls), v in samples.items() if n == "podium_consumer_lag_records"]
            mine = value(samples, "podium_consumer_lag_records", group=group, partition="0")
            assert lag and mine <= most, (name, lag)
            assert value(samples, "podium_owned_partitions", process=name) == owned[name]
        projector = scrape(pod.metrics_url("projector"))
        assert value(projector, "podium_views_behind_records", partition="0") == 0
        assert ("podium_views_behind_records", frozenset({("partition", "0")})) in projector

    eventually(caught_up, within=30, every=0.5)


def test_a_worker_without_partitions_is_not_ready_until_it_owns_one(pod: Podium) -> None:
    second = pod.spawn("worker-2", ["-m", "deploy.cli", "worker"])
    workers = {"worker": pod.procs[0], "worker-2": second}
    assert workers["worker"].name == "worker"

    def one_owns_the_partition() -> None:
        answers = {name: probe(pod, name, "/readyz") for name in workers}
        assert sorted(a.status_code for a in answers.values()) == [200, 503], answers
        idle = next(a for a in answers.values() if a.status_code == 503)
        assert idle.json()["reason"] == "owns no partitions"

    eventually(one_owns_the_partition, within=60, every=0.5)
    time.sleep(6)  # a lag sample later, still the same
    one_owns_the_partition()
    owner = next(n for n in workers if probe(pod, n, "/readyz").status_code == 200)
    idle = next(n for n in workers if n != owner)
    samples = scrape(pod.metrics_url(idle))
    assert value(samples, "podium_owned_partitions", process="worker") == 0
    assert value(samples, "podium_process_ready", process="worker") == 0
    assert probe(pod, idle, "/livez").status_code == 200  # idle, and alive
    workers[owner].stop()  # the group moves the partition to the idle one

    def idle_is_ready() -> None:
        answer = probe(pod, idle, "/readyz")
        assert answer.status_code == 200, answer.text

    eventually(idle_is_ready, within=60, every=0.5)
