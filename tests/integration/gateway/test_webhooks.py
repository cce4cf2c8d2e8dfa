"""`podium webhooks` on the real stack (Kafka, Redis, worker, ranker, projector, gateway as
subprocesses) with real HTTP receivers on 127.0.0.1, each running docs/webhooks.md's
receiver example, which verifies `X-Trophy-Signature` (a delivery that does not verify is
answered 401 and counted). Four events through Trophy's SDK; the webhooks they must cause are
written below by hand from tests/rules/node.toml."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from deploy.settings import REPO_DIR
from processors.runtime.kafka import producer_config
from processors.runtime.kafka_async import AsyncProducer, read_range_async
from schemas.topics import WEBHOOKS_DLQ, Names
from schemas.webhooks import WebhookDeadLetter
from tests.integration.gateway.conftest import Podium, Proc, eventually, start_podium
from tests.integration.gateway.webhook_receivers import Receiver
from tests.rules import NODE_PATH

pytestmark = pytest.mark.timeout(300)
FAST_RETRIES = "[0.05, 0.1, 0.2]"  # Trophy's schedule (60, 120, 240 s) scaled down
EVENTS = [("ann", 5), ("ann", 20), ("bob", 30), ("ann", 80)]  # words-written, in this order

# node.toml: "first-words" at 1 word, "on-a-roll" at a streak of 1; xp: +1 per 10 words,
# +2 when the streak reaches 1; levels novice (0) and writer (10); boards top-writers and
# weekly-top-two (words), top-xp (xp), longest-streak (streak length; a tie goes to who
# reached it first). A new user's level is null until its first award.
ann_1 = [  # ann writes 5: xp 2 (the streak), first on every board
    ("achievement.completed", "ann", "first-words"),
    ("achievement.completed", "ann", "on-a-roll"),
    ("streak.started", "ann", 1),
    ("points.changed", "ann", 2),
    ("points.level_changed", "ann", (None, "novice")),
    ("leaderboard.rank_changed", "ann", ("top-writers", None, 1)),
    ("leaderboard.rank_changed", "ann", ("weekly-top-two", None, 1)),
    ("leaderboard.rank_changed", "ann", ("top-xp", None, 1)),
    ("leaderboard.rank_changed", "ann", ("longest-streak", None, 1)),
]
ann_2 = [("points.changed", "ann", 4)]  # 25 words: 10 and 20 reached; same day, same ranks
bob_1 = [  # bob writes 30: xp 2 + 3 = 5; ahead of ann (25 words, xp 4) on three boards,
    # behind her on the streak board (both 1, ann's first)
    ("achievement.completed", "bob", "first-words"),
    ("achievement.completed", "bob", "on-a-roll"),
    ("streak.started", "bob", 1),
    ("points.changed", "bob", 5),
    ("points.level_changed", "bob", (None, "novice")),
    ("leaderboard.rank_changed", "bob", ("top-writers", None, 1)),
    ("leaderboard.rank_changed", "bob", ("weekly-top-two", None, 1)),
    ("leaderboard.rank_changed", "bob", ("top-xp", None, 1)),
    ("leaderboard.rank_changed", "bob", ("longest-streak", None, 2)),
]
ann_3 = [  # 105 words: 30..100 reached, xp 12 = writer; ann back on top (bob moved down:
    # only the mover gets a rank record, so no webhook for bob)
    ("points.changed", "ann", 12),
    ("points.level_changed", "ann", ("novice", "writer")),
    ("leaderboard.rank_changed", "ann", ("top-writers", 2, 1)),
    ("leaderboard.rank_changed", "ann", ("weekly-top-two", 2, 1)),
    ("leaderboard.rank_changed", "ann", ("top-xp", 2, 1)),
]
EXPECTED = Counter(ann_1 + ann_2 + bob_1 + ann_3)


def summary(hook: dict[str, Any]) -> tuple[str, str, Any]:
    """What the expectations above say of a webhook."""
    kind, user = hook["type"], hook["user"]["id"]
    if kind == "achievement.completed":
        return kind, user, hook["achievement"]["id"]
    if kind.startswith("streak."):
        return kind, user, hook["streak"]["length"]
    if kind == "points.changed":
        return kind, user, hook["points"]["total"]
    if kind == "points.level_changed":
        levels = (hook["previousLevel"], hook["newLevel"])
        return kind, user, tuple(None if lv is None else lv["key"] for lv in levels)
    board = hook["leaderboard"]
    return kind, user, (board["key"], board["previousRank"], board["rank"])


def got(receiver: Receiver) -> Counter[tuple[str, str, Any]]:
    with receiver.lock:
        return Counter(summary(hook) for _, hook in receiver.handled)


def endpoint(name: str, receiver: Receiver) -> dict[str, str]:
    return {"name": name, "url": receiver.url, "secret": receiver.secret}


def dispatcher(pod: Podium, name: str, endpoints: list[dict[str, str]], timeout_s: float) -> Proc:
    return pod.spawn(
        name,
        ["-m", "deploy.cli", "webhooks"],
        PODIUM_WEBHOOK_ENDPOINTS=json.dumps(endpoints),
        PODIUM_WEBHOOK_RETRY_DELAYS_S=FAST_RETRIES,
        PODIUM_WEBHOOK_TIMEOUT_S=str(timeout_s),
        PODIUM_WEBHOOK_URL="",
    )


class Stack:
    def __init__(self, pod: Podium) -> None:
        self.pod = pod
        self.ok = Receiver("ok-secret").start()
        self.flaky = Receiver("flaky-secret", fail_first=True).start()
        self.hang = Receiver("hang-secret", hang=True).start()
        self.down = Receiver("down-secret")  # started only for the redelivery
        eps = [
            endpoint("ok", self.ok),
            endpoint("flaky", self.flaky),
            endpoint("hang", self.hang),
            endpoint("down", self.down),
        ]
        self.dispatcher = dispatcher(pod, "webhooks", eps, timeout_s=60)

    def stop(self) -> None:
        for receiver in (self.ok, self.flaky, self.hang):
            receiver.stop()
        if hasattr(self.down, "server"):
            self.down.stop()


@pytest.fixture(scope="module")
def stack(
    kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    with ExitStack() as exits:
        home = tmp_path_factory.mktemp("webhooks")
        pod = start_podium(kafka_bootstrap, redis_url, home, rules=NODE_PATH, wait_s=15.0)
        exits.callback(pod.stop)
        pod.start_ranker()
        st = Stack(pod)
        exits.callback(st.stop)
        trophy = pod.trophy()
        for user, words in EVENTS:
            trophy.metrics.event(key="words-written", user={"id": user}, value=float(words))
            time.sleep(0.005)
        yield st
        pod.check_alive()


def test_every_webhook_arrives_once_per_fact_signed_and_errors_are_retried(stack: Stack) -> None:
    eventually(lambda: _equal(got(stack.ok), EXPECTED), within=60)
    eventually(lambda: _equal(got(stack.flaky), EXPECTED), within=60)
    assert stack.ok.refused == stack.flaky.refused == 0  # every signature verified
    # once per fact: one delivery id per webhook, each sent once (twice to the flaky
    # receiver, which answered 500 to every first attempt)
    assert len(stack.ok.requests) == sum(EXPECTED.values()) == 24
    assert set(stack.ok.requests.values()) == {1}
    assert set(stack.flaky.requests.values()) == {2}
    # in order per user and endpoint
    totals = [h["points"]["total"] for _, h in stack.ok.handled if h["type"] == "points.changed"]
    assert [t for t in totals if t in (2, 4, 12)] == [2, 4, 12]


def test_the_dispatcher_serves_its_metrics_and_probes(stack: Stack) -> None:
    """Its own /metrics (a free port here): the deliveries counted as they ended (24 to the ok
    receiver, 24 first attempts refused and 24 retries by the flaky one), live and ready."""
    eventually(lambda: _equal(got(stack.flaky), EXPECTED), within=60)
    url = stack.pod.metrics_url("webhooks")

    def counted() -> None:
        text = httpx.get(url, timeout=10).text
        delivered = _sample(text, 'podium_webhook_deliveries_total{outcome="delivered"}')
        failed = _sample(text, 'podium_webhook_deliveries_total{outcome="failed"}')
        _at_least(int(delivered), 2 * 24)  # ok and flaky; the hanging one never answers
        _at_least(int(failed), 24)  # the flaky receiver's first attempts
        _equal(_sample(text, 'podium_process_ready{process="webhooks"}'), 1.0)

    eventually(counted, within=60)
    assert httpx.get(url.replace("/metrics", "/livez"), timeout=10).status_code == 200


def _sample(text: str, series: str) -> float:
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return 0.0


def test_a_hanging_receiver_holds_up_no_other(stack: Stack) -> None:
    eventually(lambda: _equal(got(stack.ok), EXPECTED), within=60)
    assert stack.hang.total_requests() >= 1  # its deliveries are under way, unanswered
    assert stack.hang.handled == []


def test_exhausted_deliveries_are_dead_lettered_then_redelivered(stack: Stack) -> None:
    names = Names(stack.pod.prefix)
    eventually(lambda: _equal(len(_dead_letters(stack.pod, names, "down")), 24), within=60)
    dead = _dead_letters(stack.pod, names, "down")
    assert {d.attempts for d in dead} == {4}  # the first attempt and three retries
    assert all(d.reason.startswith("network") for d in dead), {d.reason for d in dead}
    stack.down.start()  # the receiver is back
    out = _redeliver(stack.pod, stack.down)
    assert "down: 24 sent again (0 dead-lettered again)" in out, out
    assert got(stack.down) == EXPECTED and stack.down.refused == 0
    assert set(stack.down.requests) == {d.id for d in dead}  # the same delivery ids
    assert "down: 0 sent again" in _redeliver(stack.pod, stack.down)  # each once


def test_kill_9_in_the_middle_of_deliveries_loses_none(stack: Stack) -> None:
    slow = Receiver("k9-secret", delay_s=0.3).start()
    try:
        first = dispatcher(stack.pod, "webhooks-k9", [endpoint("k9", slow)], timeout_s=10)
        eventually(lambda: _at_least(slow.total_requests(), 4), within=60)
        os.kill(first.popen.pid, signal.SIGKILL)
        first.popen.wait()
        first.stopped = True
        assert len(got(slow)) < len(EXPECTED), "all delivered before the kill: not a test"
        dispatcher(stack.pod, "webhooks-k9-again", [endpoint("k9", slow)], timeout_s=10)
        eventually(lambda: _equal(got(slow), EXPECTED), within=90)
        assert slow.refused == 0
        assert len(slow.requests) == 24  # duplicates, if any, carry the same delivery ids
    finally:
        slow.stop()


def test_an_undecodable_fact_is_dead_lettered_and_the_partition_goes_on(stack: Stack) -> None:
    names = Names(stack.pod.prefix)
    asyncio.run(_produce(stack.pod, names.achievements, b"not json"))
    stack.pod.trophy().achievements.complete(key="published", user={"id": "cyd"})

    def dead_and_then_delivered() -> None:
        dead = [d for d in _dead_letters(stack.pod, names, "ok") if d.body is None]
        assert len(dead) == 1 and dead[0].reason.startswith("not JSON"), dead
        assert dead[0].topic == names.achievements and dead[0].original
        assert got(stack.ok)[("achievement.completed", "cyd", "published")] == 1

    eventually(dead_and_then_delivered, within=60)


async def _produce(pod: Podium, topic: str, value: bytes) -> None:
    """One record keyed by the user "cyd", on the partition the gateway writes cyd's to
    (Kafka's default partitioner: murmur2)."""
    config = producer_config(pod.bootstrap) | {"partitioner": "murmur2_random"}
    producer = AsyncProducer(config)
    try:
        await producer.send(topic, value, b"cyd")
    finally:
        await producer.close()


def _equal(a: object, b: object) -> None:
    assert a == b


def _at_least(a: int, b: int) -> None:
    assert a >= b


def _dead_letters(pod: Podium, names: Names, endpoint_name: str) -> list[Any]:
    async def read() -> list[Any]:
        out: list[WebhookDeadLetter] = []
        async for batch in read_range_async(pod.bootstrap, names.webhooks_dlq, [0]):
            out.extend(WEBHOOKS_DLQ.value.decode(rec.value or b"") for rec in batch)
        return [d for d in out if d.endpoint == endpoint_name]

    return asyncio.run(read())


def _redeliver(pod: Podium, down: Receiver) -> str:
    eps = [endpoint("down", down)]
    done = subprocess.run(
        [sys.executable, "-m", "deploy.cli", "webhooks", "redeliver", "--endpoint", "down"],
        cwd=REPO_DIR,
        env={
            **os.environ,
            **pod.env,
            "PODIUM_WEBHOOK_ENDPOINTS": json.dumps(eps),
            "PODIUM_WEBHOOK_RETRY_DELAYS_S": FAST_RETRIES,
            "PODIUM_WEBHOOK_URL": "",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout
