"""The dispatcher's Kafka-free parts: the signature (vectors computed with openssl), the
delivery ids, and the lanes: in order per user, retried on Trophy's schedule (here scaled),
dead-lettered after the last retry, a user's retries holding up nobody else, and the ledger
committing only what ended."""

from __future__ import annotations

import asyncio

import pytest

from ingest.webhooks.config import TROPHY_RETRY_DELAYS_S, Endpoint, Retry, endpoints_of
from ingest.webhooks.lanes import Delivery, Lanes, Ledger
from ingest.webhooks.payloads import Outgoing
from ingest.webhooks.signing import headers, podium_signature, trophy_signature
from schemas.webhooks import delivery_id

BODY = b'{"type":"achievement.completed"}'


def test_the_trophy_signature_matches_openssl() -> None:
    # printf '{"type":"achievement.completed"}' | openssl dgst -sha256 -hmac s3cret -binary | base64
    assert trophy_signature(BODY, "s3cret") == "1MsnJivSVl9tOkVl05emkHJ9teMI7qSP0d+5wB11gCM="


def test_the_podium_signature_covers_the_id_and_the_time() -> None:
    # printf 'abc.1700000000.{"type":...}' | openssl dgst -sha256 -hmac s3cret -binary | base64
    expected = "z5qBa0F8GtGOicKAREbNg9Dm4kDfBxZn+1xlwvzxyb0="
    assert podium_signature(BODY, "s3cret", "abc", 1_700_000_000) == expected
    sent = headers(BODY, "s3cret", "abc", "achievement.completed", 1_700_000_000)
    assert sent["X-Podium-Delivery-Id"] == "abc" and sent["X-Podium-Timestamp"] == "1700000000"
    assert "X-Podium-Tenant" not in sent
    assert headers(BODY, "s3cret", "abc", "t", 1, "acme")["X-Podium-Tenant"] == "acme"


def test_a_delivery_id_is_stable_and_differs_by_endpoint_fact_and_type() -> None:
    one = delivery_id("crm", "ann:points:xp:t:e1", "points.changed")
    assert one == delivery_id("crm", "ann:points:xp:t:e1", "points.changed")
    assert len(one) == 32
    others = {
        delivery_id("slack", "ann:points:xp:t:e1", "points.changed"),
        delivery_id("crm", "ann:points:xp:t:e2", "points.changed"),
        delivery_id("crm", "ann:points:xp:t:e1", "points.level_changed"),
    }
    assert one not in others and len(others) == 3


def test_trophys_schedule_is_three_retries_from_a_minute() -> None:
    assert TROPHY_RETRY_DELAYS_S == (60.0, 120.0, 240.0) and Retry().attempts == 4


def test_endpoints_from_the_settings() -> None:
    eps = endpoints_of(
        [
            {
                "name": "crm",
                "url": "https://crm.example/h",
                "secret": "x",
                "types": ["points.changed"],
            }
        ],
        "http://127.0.0.1:9/h",
        "s",
    )
    assert [e.name for e in eps] == ["crm", "default"]
    assert eps[0].takes("points.changed", False) and not eps[0].takes("streak.lost", False)
    assert eps[1].takes("streak.lost", False) and not eps[1].takes("streak.lost", True)
    with pytest.raises(ValueError, match="url"):
        Endpoint("x", "ftp://nope", "s")
    with pytest.raises(ValueError, match="differ"):
        endpoints_of([{"name": "default", "url": "http://a"}], "http://b", None)


def test_the_ledger_commits_only_past_records_whose_deliveries_all_ended() -> None:
    ledger = Ledger()
    p = ("podium.points", 3)
    ledger.add(p, 10, 2)
    ledger.add(p, 11, 0)  # no webhook: ended at once
    ledger.add(p, 12, 1)
    assert ledger.committable() == {p: 10}
    ledger.settle(p, 12)
    assert ledger.committable() == {p: 10}  # 10 still has one open
    ledger.settle(p, 10)
    assert ledger.committable() == {p: 10}
    ledger.settle(p, 10)
    assert ledger.committable() == {p: 13}
    ledger.drop([p])
    ledger.settle(p, 12)  # a revoked partition's late end is ignored
    assert ledger.committable() == {}


def delivery(user: str, n: int) -> Delivery:
    hook = Outgoing("points.changed", f"{user}:{n}", user, 0, False, b"{}")
    return Delivery(f"{user}-{n}", ("podium.points", 0), n, hook, 0.0)


class Receiver:
    """Fails each delivery id as many times as told, records every attempt."""

    def __init__(self, failures: dict[str, int] | None = None) -> None:
        self.failures = dict(failures or {})
        self.attempts: list[str] = []
        self.hang: set[str] = set()
        self.released = asyncio.Event()

    async def attempt(self, d: Delivery) -> str | None:
        self.attempts.append(d.id)
        if d.hook.user_id in self.hang:
            await self.released.wait()
        if self.failures.get(d.id, 0) > 0:
            self.failures[d.id] -= 1
            return "HTTP 500"
        return None


async def test_deliveries_stay_in_order_per_user_and_retry_on_the_schedule() -> None:
    receiver = Receiver({"ann-1": 2})
    slept: list[float] = []
    ended: list[str] = []

    async def sleep(s: float) -> None:
        slept.append(s)
        await asyncio.sleep(0)

    async def dead(d: Delivery, reason: str, attempts: int) -> None:
        raise AssertionError("nothing is dead-lettered")

    lanes = Lanes(
        receiver.attempt, dead, lambda d: ended.append(d.id), Retry((1.0, 2.0, 4.0)), sleep=sleep
    )
    for n in (1, 2, 3):
        lanes.submit(delivery("ann", n))
    await lanes.drained()
    assert ended == ["ann-1", "ann-2", "ann-3"]
    assert receiver.attempts == ["ann-1", "ann-1", "ann-1", "ann-2", "ann-3"]
    assert slept == [1.0, 2.0]  # back-off doubles from the first delay
    assert lanes.pending == 0


async def test_the_last_failure_is_dead_lettered_and_the_lane_goes_on() -> None:
    receiver = Receiver({"bob-1": 99})
    dead_letters: list[tuple[str, str, int]] = []

    async def dead(d: Delivery, reason: str, attempts: int) -> None:
        dead_letters.append((d.id, reason, attempts))

    ended: list[str] = []
    lanes = Lanes(
        receiver.attempt, dead, lambda d: ended.append(d.id), Retry((0.001, 0.002, 0.004))
    )
    lanes.submit(delivery("bob", 1))
    lanes.submit(delivery("bob", 2))
    await lanes.drained()
    assert dead_letters == [("bob-1", "HTTP 500", 4)]
    assert receiver.attempts == ["bob-1"] * 4 + ["bob-2"]
    assert ended == ["bob-1", "bob-2"]


async def test_a_hanging_user_holds_up_nobody_else() -> None:
    receiver = Receiver()
    receiver.hang.add("slow")
    ended: list[str] = []

    async def dead(d: Delivery, reason: str, attempts: int) -> None:
        raise AssertionError

    lanes = Lanes(receiver.attempt, dead, lambda d: ended.append(d.id), Retry(()))
    lanes.submit(delivery("slow", 1))
    lanes.submit(delivery("slow", 2))
    for n in range(5):
        lanes.submit(delivery(f"u{n}", 1))
    for _ in range(20):
        await asyncio.sleep(0)
    assert sorted(ended) == [f"u{n}-1" for n in range(5)]
    assert lanes.pending == 2 and lanes.oldest_pending_s(now=5.0) == 5.0
    receiver.released.set()
    await lanes.drained()
    assert ended[-2:] == ["slow-1", "slow-2"]


def test_the_lanes_report_to_the_prometheus_series() -> None:
    from prometheus_client import REGISTRY

    from ingest.webhooks.metrics import Metrics

    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before = [
        value("podium_webhook_deliveries_total", outcome="delivered"),
        value("podium_webhook_deliveries_total", outcome="failed"),
        value("podium_webhook_deliveries_total", outcome="dead_lettered"),
        value("podium_webhook_retries_total"),
    ]
    metrics = Metrics()
    metrics.delivered()
    metrics.failed()
    metrics.failed()
    metrics.retried()
    metrics.dead_lettered()
    after = [
        value("podium_webhook_deliveries_total", outcome="delivered"),
        value("podium_webhook_deliveries_total", outcome="failed"),
        value("podium_webhook_deliveries_total", outcome="dead_lettered"),
        value("podium_webhook_retries_total"),
    ]
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 2, 1, 1]


class FakeConsumer:
    def __init__(self) -> None:
        self.paused: set[str] = set()

    def assignment(self) -> set[str]:
        return {"p0", "p1"}

    def pause(self, parts: set[str]) -> None:
        self.paused |= parts

    def resume(self, parts: set[str]) -> None:
        self.paused -= parts


def test_an_endpoint_pauses_at_its_bound_and_resumes_once_drained() -> None:
    from types import SimpleNamespace

    from ingest.webhooks.dispatcher import EndpointLoop

    loop = EndpointLoop.__new__(EndpointLoop)
    loop.config = SimpleNamespace(max_pending=10)  # type: ignore[assignment]
    fake = FakeConsumer()
    loop.cons = fake  # type: ignore[assignment]
    loop.paused = False
    loop.lanes = SimpleNamespace(pending=9)  # type: ignore[assignment]
    loop._throttle()
    assert fake.paused == set()
    loop.lanes.pending = 10
    loop._throttle()
    assert fake.paused == {"p0", "p1"}
    loop.lanes.pending = 8  # 80 % of the bound: still paused
    loop._throttle()
    assert fake.paused == {"p0", "p1"}
    loop.lanes.pending = 7
    loop._throttle()
    assert fake.paused == set()


async def test_users_are_looked_up_again_while_redis_does_not_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from redis.exceptions import ConnectionError as RedisDown

    from ingest.webhooks import dispatcher
    from ingest.webhooks.payloads import bare_user

    calls: list[int] = []

    class FlakyUsers:
        async def of(self, facts: list[tuple[str, int]]) -> list[object]:
            calls.append(len(facts))
            if len(calls) < 3:
                raise RedisDown("refused")
            return [bare_user(uid, at) for uid, at in facts]

    monkeypatch.setattr(dispatcher, "RETRY_S", 0.001)
    loop = dispatcher.EndpointLoop.__new__(dispatcher.EndpointLoop)
    loop.users = FlakyUsers()  # type: ignore[assignment]
    (user,) = await loop._users([("ann", 0)])
    assert user.id == "ann" and calls == [1, 1, 1]
