"""A broker restart under load: the gateway writes again by itself within seconds of the
broker being back, /ready tells the truth meanwhile, and nothing is lost or doubled.

The test has its own broker (restarting the session one would disturb other tests): 32
clients post without pause, each event to a user of its own with value 1 and an
Idempotency-Key, while the broker is stopped (SIGTERM, or SIGKILL) and started again on the
same data, so requests are cut off mid-way. No event answered 503 "not recorded" may be in
`podium.events` (an ambiguous write must answer 504 "may or may not have been recorded").
Then every event that was not answered 2xx is retried with its key until it is; then every
user's total must be exactly 1 (0 = lost, 2 = counted twice), and no worker commit may have
hung until its timeout."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

import httpx
import pytest
import redis

from deploy.local import KafkaBroker, free_port
from schemas.commands import command_user_id, decode_command
from schemas.topics import EVENTS
from schemas.views import Keys, decode_view
from tests.integration.gateway.conftest import JAR_CACHE, Podium, eventually, start_podium
from tests.integration.runtime.kafka_io import read_topic

pytestmark = pytest.mark.integration

CLIENTS = 32
METRIC = "words-written"
BACK_WITHIN_S = 15.0  # first 2xx after the broker answers again


@dataclass
class Load:
    """Answers of the clients, by event index: (status, error text, monotonic time)."""

    answers: dict[int, tuple[int, str, float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    next_index: int = 0

    def take(self) -> int:
        with self.lock:
            self.next_index += 1
            return self.next_index - 1


def post(http: httpx.Client, tag: str, i: int) -> tuple[int, str]:
    try:
        resp = http.post(
            f"/metrics/{METRIC}/event",
            json={"user": {"id": f"{tag}-{i}"}, "value": 1},
            headers={"Idempotency-Key": f"{tag}-key-{i}"},
        )
    except httpx.TransportError as exc:  # the gateway itself never went away
        return 0, f"transport: {exc}"
    return resp.status_code, "" if resp.is_success else resp.json().get("error", "")


def client(pod: Podium, tag: str, load: Load) -> None:
    with httpx.Client(
        base_url=pod.base_url, headers={"X-API-KEY": pod.api_key}, timeout=30
    ) as http:
        while not load.stop.is_set():
            i = load.take()
            status, text = post(http, tag, i)
            load.answers[i] = (status, text, time.monotonic())
            if not 200 <= status < 300:
                time.sleep(0.5)  # a client backs off: fewer failures to retry


def ready(pod: Podium) -> int:
    root = pod.base_url.removesuffix("/v1")
    return httpx.get(root + "/ready", timeout=5).status_code


@pytest.fixture(scope="module")
def stack(
    redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[KafkaBroker, Podium]]:
    home = tmp_path_factory.mktemp("restart")
    broker = KafkaBroker(home / "kafka", free_port(), free_port(), JAR_CACHE)
    broker.start()
    # a short wait for progress: the test is about writes, and a 2xx pending answer is one
    pod = start_podium(broker.bootstrap, redis_url, home, wait_s=0.5)
    try:
        yield broker, pod
    finally:
        pod.stop()
        broker.stop()


def kill(broker: KafkaBroker, how: signal.Signals) -> None:
    if how is signal.SIGTERM:
        broker.stop()
        return
    pid = broker.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while broker.running() and time.monotonic() < deadline:
        time.sleep(0.05)
    broker.pid_file.unlink(missing_ok=True)


def totals(pod: Podium, redis_url: str, tag: str, count: int) -> dict[int, int]:
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


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_gateway_writes_again_after_a_broker_restart(
    stack: tuple[KafkaBroker, Podium], redis_url: str, how: signal.Signals
) -> None:
    broker, pod = stack
    tag = f"restart-{how.name.lower()}"
    load = Load()
    with ThreadPoolExecutor(CLIENTS) as pool:
        for _ in range(CLIENTS):
            pool.submit(client, pod, tag, load)
        time.sleep(3.0)  # steady load first
        kill(broker, how)
        eventually(lambda: _is(ready(pod), 503), within=15, every=0.2)  # /ready follows
        broker.start()
        back = time.monotonic()  # the broker answers on its port again
        deadline = back + 60
        while time.monotonic() < deadline:
            recent = [a for a in list(load.answers.values()) if a[2] > time.monotonic() - 2]
            if len(recent) >= CLIENTS and all(200 <= s < 300 for s, _, _ in recent):
                break
            time.sleep(0.2)
        load.stop.set()
    pod.check_alive()
    answers = dict(load.answers)
    after = sorted(t for s, _, t in answers.values() if 200 <= s < 300 and t > back)
    assert after, f"no 2xx after the broker came back: {sorted(set(answers.values()))[:5]}"
    assert after[0] - back < BACK_WITHIN_S
    late = [(s, e) for s, e, t in answers.values() if t > after[0] + 10 and not 200 <= s < 300]
    assert late == [], "writes still fail 10 s after the first success"
    assert ready(pod) == 200
    failed = {i: (s, e) for i, (s, e, _) in answers.items() if not 200 <= s < 300}
    assert failed, "the restart went unnoticed: the test proves nothing"
    logged = asyncio.run(users_in_log(pod, tag))
    not_recorded = {i for i, (s, e) in failed.items() if "not recorded" in e}
    assert sorted(i for i in not_recorded if i in logged) == [], "'not recorded', yet in the log"
    for status, text in failed.values():
        assert status in (503, 504), text
        for name in ("TimeoutError", "OutOfOrderSequence", "LeaderNotAvailable", "Error"):
            assert name not in text
        if status == 504:
            assert "may or may not have been recorded" in text and "Idempotency-Key" in text
    with ThreadPoolExecutor(CLIENTS) as pool:  # the clients' retries, with the same keys
        list(pool.map(partial(_retry, pod, tag), sorted(failed)))
    count = max(answers) + 1
    expected = dict.fromkeys(range(count), 1)
    eventually(lambda: _equal(totals(pod, redis_url, tag, count), expected), within=60, every=1)
    # No commit hung until it was given up: a producer whose transaction failed in the outage
    # used to be reused, and its next transaction hung in librdkafka for the commit timeout.
    worker = next(p for p in pod.procs if p.name == "worker")
    assert "commit failed (TimeoutError" not in worker.log.read_text(errors="replace")


def _retry(pod: Podium, tag: str, i: int) -> None:
    with httpx.Client(
        base_url=pod.base_url, headers={"X-API-KEY": pod.api_key}, timeout=30
    ) as http:
        eventually(partial(_retried, http, tag, i), within=30, every=0.5)


def _retried(http: httpx.Client, tag: str, i: int) -> None:
    status, text = post(http, tag, i)
    assert 200 <= status < 300, text


def _equal(got: dict[int, int], expected: dict[int, int]) -> None:
    wrong = {i: n for i, n in got.items() if n != expected[i]}
    assert wrong == {}, f"{len(wrong)} users' totals are not 1 (0 lost, 2 doubled)"


def _is(got: object, expected: object) -> None:
    assert got == expected


async def users_in_log(pod: Podium, tag: str) -> set[int]:
    """The event indexes whose command is in `podium.events` (read_committed, to its end)."""
    records = await read_topic(pod.bootstrap, EVENTS.named(pod.prefix))
    users = {command_user_id(decode_command(r.value)) for recs in records.values() for r in recs}
    return {int(u.rsplit("-", 1)[1]) for u in users if u.startswith(tag + "-")}
