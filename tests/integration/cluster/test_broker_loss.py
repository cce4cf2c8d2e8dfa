"""A broker lost under load, on a local three-broker cluster (topics 3/2: three copies, two
in sync before acks=all answers): the worker, ranker, projector and gateway run as processes,
and the test posts events over HTTP at a steady rate, each to a user of its own with value 1
and an Idempotency-Key, while brokers are killed and started again.

What must hold, as in the one-broker restart (tests/integration/gateway/test_broker_restart.py):
an event answered 2xx is in `podium.events` and counted exactly once in the views; one
answered 503 "not recorded" is not in the log; one answered 504 may or may not be, and is
counted once if it is. Answers resume once leadership moves; every process keeps running;
the restarted broker is back in every partition's in-sync replicas. Then every event not
answered 2xx is retried with its key until it is, and every user's total is exactly 1."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial

import httpx
import pytest
import redis
from confluent_kafka.admin import TopicMetadata

from deploy.local import KafkaBroker, KafkaCluster
from processors.runtime import kafka
from schemas.topics import EVENTS, partitioned
from schemas.views import Keys, decode_view
from tests.integration.gateway.conftest import Podium, eventually, start_podium
from tests.integration.gateway.test_broker_restart import kill, users_in_log
from tests.rules import LEADERBOARDS_PATH

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

RATE = 150  # requests per second offered, paced, whatever the answers take
CLIENTS = 24  # enough that requests waiting out a broker's loss do not slow the pace
METRIC = "words"  # LEADERBOARDS_PATH's: it feeds the ranker's boards too
# Fewer partitions than the catalogue's 12 (PODIUM_TOPIC_PARTITIONS): a third of the replication
# traffic on a small box, and the processes read the counts from the broker, not the catalogue.
TOPICS = partitioned(users=4, rankings=2)
RESUMED_WITHIN_S = 45.0  # kill -> answers all 2xx again (the controller fences after 9 s)
IN_SYNC_WITHIN_S = 60.0  # restart -> the broker back in every partition's ISR


@dataclass
class Load:
    """A paced stream of events: event i is due at `start + i / RATE`; its answer, by index:
    (status, error text, monotonic time of the answer)."""

    tag: str
    rate: float = RATE
    start: float = field(default_factory=time.monotonic)
    answers: dict[int, tuple[int, str, float]] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    sent: int = 0

    def take(self) -> int | None:
        with self.lock:
            i, self.sent = self.sent, self.sent + 1
        wait = self.start + i / self.rate - time.monotonic()
        if self.stop.wait(max(wait, 0)):
            return None
        return i

    def failed(self) -> dict[int, tuple[int, str]]:
        return {i: (s, e) for i, (s, e, _) in list(self.answers.items()) if not 200 <= s < 300}

    def all_ok_since(self, since: float) -> bool:
        """Answers came back since `since`, one per client at least, every one 2xx (an
        answer may wait out `wait_s` for its progress: then fewer than the rate come back)."""
        recent = [s for s, _, t in list(self.answers.values()) if t > since]
        return len(recent) >= CLIENTS and all(200 <= s < 300 for s in recent)

    def since(self, when: float) -> Counter[tuple[int, str]]:
        """The answers that came back after `when`, by status and error text."""
        return Counter((s, e) for s, e, t in list(self.answers.values()) if t > when)


def post(http: httpx.Client, tag: str, i: int) -> tuple[int, str]:
    try:
        resp = http.post(
            f"/metrics/{METRIC}/event",
            json={"user": {"id": f"{tag}-{i}"}, "value": 1},
            headers={"Idempotency-Key": f"{tag}-key-{i}"},
        )
    except httpx.TransportError as exc:  # the gateway itself never goes away
        return 0, f"transport: {exc}"
    return resp.status_code, "" if resp.is_success else resp.json().get("error", "")


def totals(pod: Podium, redis_url: str, tag: str, count: int) -> dict[int, int]:
    """Each test user's total of METRIC in the views (0: no view)."""
    keys = Keys(pod.env["PODIUM_VIEWS_PREFIX"])
    with redis.Redis.from_url(redis_url) as r:
        pipe = r.pipeline(transaction=False)
        for i in range(count):
            pipe.hget(keys.user(f"{tag}-{i}"), "doc")
        docs = pipe.execute()
    return {
        i: 0 if raw is None else int(decode_view(raw).totals.get(METRIC, 0))
        for i, raw in enumerate(docs)
    }


def _client(pod: Podium, load: Load) -> None:
    with httpx.Client(
        base_url=pod.base_url, headers={"X-API-KEY": pod.api_key}, timeout=30
    ) as http:
        while (i := load.take()) is not None:
            status, text = post(http, load.tag, i)
            load.answers[i] = (status, text, time.monotonic())


@contextmanager
def steady_load(pod: Podium, tag: str, rate: float = RATE) -> Iterator[Load]:
    load = Load(tag, rate)
    with ThreadPoolExecutor(CLIENTS) as pool:
        for _ in range(CLIENTS):
            pool.submit(_client, pod, load)
        try:
            yield load
        finally:
            load.stop.set()


def describe(bootstrap: str, topics: list[str]) -> dict[str, TopicMetadata]:
    """The cluster's metadata of `topics`: each partition's leader, replicas and ISR."""
    found = kafka.admin(bootstrap).list_topics(timeout=10).topics
    return {t: found[t] for t in topics}


def leader_of_events(pod: Podium) -> int:
    """The node id leading the most partitions of `podium.events`."""
    topic = EVENTS.named(pod.prefix)
    leaders = [p.leader for p in describe(pod.bootstrap, [topic])[topic].partitions.values()]
    return max(set(leaders), key=leaders.count)


def out_of_sync(pod: Podium, node: int) -> list[str]:
    """The partitions of this test's topics whose in-sync replicas lack `node`."""
    names = [t.named(pod.prefix) for t in TOPICS]
    return [
        f"{topic}[{p.id}]"
        for topic, meta in describe(pod.bootstrap, names).items()
        for p in meta.partitions.values()
        if node not in p.isrs
    ]


def back_in_sync(pod: Podium, broker: KafkaBroker) -> float:
    """Wait until `broker` is in every partition's ISR again; how long it took."""
    began = time.monotonic()
    eventually(lambda: _is(out_of_sync(pod, broker.node_id), []), IN_SYNC_WITHIN_S, every=0.5)
    return time.monotonic() - began


def resumed(load: Load, since: float) -> float:
    """Wait for the loss to show (an answer not 2xx), then until every answer is 2xx again
    for two seconds; seconds from `since` to the start of those two (0: nothing showed)."""
    deadline = since + RESUMED_WITHIN_S
    while all(200 <= status < 300 for status, _ in load.since(since)):
        if time.monotonic() > since + 15.0:
            return 0.0  # unnoticed: the test asserts on that
        time.sleep(0.2)
    while time.monotonic() < deadline:
        if load.all_ok_since(time.monotonic() - 2.0):
            return time.monotonic() - 2.0 - since
        time.sleep(0.2)
    recent = load.since(time.monotonic() - 5.0)
    pytest.fail(f"answers did not resume within {RESUMED_WITHIN_S:g} s; last 5 s: {recent}")


@pytest.fixture(scope="module")
def cluster_podium(
    kafka_cluster: KafkaCluster, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Podium]:
    home = tmp_path_factory.mktemp("cluster")
    pod = start_podium(
        kafka_cluster.bootstrap,
        redis_url,
        home,
        wait_s=0.5,  # the test is about writes: a 2xx pending answer is one
        rules=LEADERBOARDS_PATH,
        topics=TOPICS,
    )
    try:
        pod.start_ranker()
        yield pod
    finally:
        pod.stop()


def test_a_killed_leader_loses_no_acknowledged_event(
    kafka_cluster: KafkaCluster, cluster_podium: Podium, redis_url: str
) -> None:
    pod = cluster_podium
    node = leader_of_events(pod)
    broker = kafka_cluster.brokers[node - 1]
    with steady_load(pod, "killed") as load:
        time.sleep(3.0)  # steady first
        killed = time.monotonic()
        kill(broker, signal.SIGKILL)
        took = resumed(load, killed)
        broker.start()
        caught_up = back_in_sync(pod, broker)
        time.sleep(3.0)  # and steady after
    print(
        f"\nkilled node {node}: answers 2xx again {took:.1f} s later; back in sync "
        f"{caught_up:.1f} s after its restart; {len(load.answers)} events, "
        f"{len(load.failed())} not 2xx"
    )
    print(f"not 2xx, by answer: {dict(Counter(load.failed().values()))}")
    assert load.failed(), "the kill went unnoticed: the test proves nothing"
    began = time.monotonic()
    exactly_once(pod, redis_url, load)
    print(f"every event counted once {time.monotonic() - began:.1f} s after the load stopped")


def test_a_rolling_restart_loses_no_acknowledged_event(
    kafka_cluster: KafkaCluster, cluster_podium: Podium, redis_url: str
) -> None:
    pod = cluster_podium
    with steady_load(pod, "rolled") as load:
        time.sleep(3.0)
        for broker in kafka_cluster.brokers:
            broker.stop()  # SIGTERM: a controlled shutdown hands its leadership over first
            broker.start()
            caught_up = back_in_sync(pod, broker)
            print(f"\nnode {broker.node_id} restarted, back in sync after {caught_up:.1f} s")
            time.sleep(2.0)
        assert load.all_ok_since(time.monotonic() - 2.0), sorted(set(load.failed().values()))
    print(f"\nrolling restart: {len(load.answers)} events, {len(load.failed())} not 2xx")
    began = time.monotonic()
    exactly_once(pod, redis_url, load)
    print(f"every event counted once {time.monotonic() - began:.1f} s after the load stopped")


def test_two_brokers_down_refuse_writes(
    kafka_cluster: KafkaCluster, cluster_podium: Podium, redis_url: str
) -> None:
    """min.insync.replicas 2 with one broker of three left: no write is acknowledged. The
    writes in flight time out (504: handed over, so they may land once the others are back),
    then the gateway finds the event log unusable and refuses at once (503, not recorded);
    once the two are back the writes resume, nothing lost or doubled."""
    pod = cluster_podium
    down = kafka_cluster.brokers[1:]
    for broker in down:
        kill(broker, signal.SIGKILL)
    with steady_load(pod, "refused", rate=25) as load:  # fewer events to retry after
        eventually(lambda: _is(ready(pod), 503), within=30, every=0.2)
        refusing = time.monotonic() + 6.0  # the writes in flight have timed out (5 s) by then
        time.sleep(8.0)
        load.stop.set()
    statuses = Counter(s for s, _, _ in load.answers.values())
    print(f"\ntwo of three brokers down: answers {dict(statuses)}")
    assert load.answers and not [s for s in statuses if 200 <= s < 300], statuses
    late = load.since(refusing)
    assert late and {s for s, _ in late} == {503}, late
    assert all("not recorded" in text for _, text in late), late
    for broker in down:
        broker.start()
    for broker in down:
        back_in_sync(pod, broker)
    began = time.monotonic()
    exactly_once(pod, redis_url, load)
    print(f"two brought back: every event counted once {time.monotonic() - began:.1f} s later")


def ready(pod: Podium) -> int:
    """The gateway's /ready: 503 while it cannot write to the event log."""
    return httpx.get(pod.base_url.removesuffix("/v1") + "/ready", timeout=5).status_code


def exactly_once(pod: Podium, redis_url: str, load: Load) -> None:
    """Every process alive; 2xx events in the log and 503 ones not; every logged event counted
    once; then the failed ones retried with their keys, and every total exactly 1."""
    pod.check_alive()
    answers, failed = dict(load.answers), load.failed()
    for status, text in failed.values():
        assert status in (503, 504), text
    count = max(answers) + 1
    logged = asyncio.run(users_in_log(pod, load.tag))
    ok = [i for i in answers if i not in failed]
    assert sorted(i for i in ok if i not in logged) == [], "answered 2xx, yet not in the log"
    not_recorded = [i for i, (_, text) in failed.items() if "not recorded" in text]
    assert sorted(i for i in not_recorded if i in logged) == [], "'not recorded', yet in the log"
    expected = {i: int(i in logged) for i in range(count)}
    began = time.monotonic()
    eventually(lambda: _equal(totals(pod, redis_url, load.tag, count), expected), 90, every=1)
    settled = time.monotonic()
    with ThreadPoolExecutor(CLIENTS) as pool:  # the clients' retries, with the same keys
        list(pool.map(partial(_retry, pod, load.tag), sorted(failed)))
    retried = time.monotonic()
    expected = dict.fromkeys(range(count), 1)
    eventually(lambda: _equal(totals(pod, redis_url, load.tag, count), expected), 60, every=1)
    print(
        f"views settled in {settled - began:.1f} s; {len(failed)} retried in "
        f"{retried - settled:.1f} s; all counted once {time.monotonic() - retried:.1f} s later"
    )
    pod.check_alive()


def _retry(pod: Podium, tag: str, i: int) -> None:
    with httpx.Client(
        base_url=pod.base_url, headers={"X-API-KEY": pod.api_key}, timeout=30
    ) as http:
        eventually(partial(_retried, http, tag, i), within=30, every=0.5)


def _retried(http: httpx.Client, tag: str, i: int) -> None:
    status, text = post(http, tag, i)
    assert 200 <= status < 300, text


def _equal(got: dict[int, int], expected: dict[int, int]) -> None:
    wrong = {i: (n, expected[i]) for i, n in got.items() if n != expected[i]}
    assert wrong == {}, (
        f"{len(wrong)} users' totals differ (got, expected): {list(wrong.items())[:5]}"
    )


def _is(got: object, expected: object) -> None:
    assert got == expected
