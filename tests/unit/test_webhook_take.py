"""The dispatcher's step from fact records to deliveries, without Kafka: an endpoint takes
only its types and, unless it asks for them, no backfilled facts; a record that causes no
delivery is committable at once, one that does only once its deliveries ended."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from ingest.webhooks.config import Endpoint
from ingest.webhooks.dispatcher import EndpointLoop
from ingest.webhooks.lanes import Delivery, Ledger
from ingest.webhooks.payloads import bare_user
from schemas.records import AchievementCompleted
from schemas.rules_parse import load_rules
from schemas.topics import ACHIEVEMENTS, Names
from tests.rules import NODE_PATH

RULES = load_rules(NODE_PATH)
TOPIC = Names("t.").achievements


@dataclass
class Rec:
    offset: int
    value: bytes


class Users:
    async def of(self, facts: list[tuple[str, int]]) -> list[object]:
        return [bare_user(uid, at) for uid, at in facts]


class Lanes:
    def __init__(self) -> None:
        self.queued: list[Delivery] = []

    def submit(self, delivery: Delivery) -> None:
        self.queued.append(delivery)


def loop_for(endpoint: Endpoint) -> EndpointLoop:
    loop = EndpointLoop.__new__(EndpointLoop)
    loop.endpoint, loop.rules = endpoint, RULES
    loop.topics = {TOPIC: ACHIEVEMENTS}
    loop.users = Users()  # type: ignore[assignment]
    loop.ledger = Ledger()
    loop.lanes = Lanes()  # type: ignore[assignment]
    return loop


def done(user: str, backfilled: bool = False) -> Rec:
    fact = AchievementCompleted(
        id=f"{user}:published",
        user_id=user,
        achievement="published",
        achieved_at_ms=0,
        trigger="api",
        event_id="e",
        backfilled=backfilled,
    )
    return Rec(0, ACHIEVEMENTS.value.encode(fact))


async def take(endpoint: Endpoint, *recs: Rec) -> EndpointLoop:
    loop = loop_for(endpoint)
    await loop.take((TOPIC, 0), [Rec(n, r.value) for n, r in enumerate(recs, start=5)])
    return loop


async def test_backfilled_facts_go_only_to_an_endpoint_that_asks() -> None:
    live, old = done("ann"), done("bob", backfilled=True)
    plain = await take(Endpoint("plain", "http://x", "s"), live, old)
    assert [d.hook.user_id for d in plain.lanes.queued] == ["ann"]  # type: ignore[attr-defined]
    assert plain.ledger.committable() == {(TOPIC, 0): 5}  # ann's still open; bob's needs none
    keen = await take(Endpoint("keen", "http://x", "s", include_backfilled=True), live, old)
    assert [d.hook.user_id for d in keen.lanes.queued] == ["ann", "bob"]  # type: ignore[attr-defined]


async def test_an_endpoint_takes_only_its_types() -> None:
    streaks_only = Endpoint("s", "http://x", "s", types=frozenset({"streak.lost"}))
    loop = await take(streaks_only, done("ann"), done("bob"))
    assert loop.lanes.queued == []  # type: ignore[attr-defined]
    assert loop.ledger.committable() == {(TOPIC, 0): 7}  # both committable at once


async def test_the_delivery_id_is_the_endpoints_and_the_facts() -> None:
    from schemas.webhooks import delivery_id

    loop = await take(Endpoint("crm", "http://x", "s"), done("ann"))
    (queued,) = loop.lanes.queued  # type: ignore[attr-defined]
    assert queued.id == delivery_id("crm", "ann:published", "achievement.completed")
    assert (queued.part, queued.offset) == ((TOPIC, 0), 5)


class Written:
    """The dead letters the loop writes (its producer's part)."""

    def __init__(self) -> None:
        self.letters: list[object] = []


async def test_an_undecodable_record_and_a_payload_bug_are_dead_lettered_in_place(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ingest.webhooks import dispatcher

    loop = loop_for(Endpoint("crm", "http://x", "s"))
    written = Written()

    async def write(dead: object) -> None:
        written.letters.append(dead)

    loop._write = write  # type: ignore[method-assign]
    real = dispatcher.webhooks_of

    def broken_for_bob(fact: Any, rules: Any, user: Any) -> Any:
        if fact.user_id == "bob":
            raise KeyError("a bug")
        return real(fact, rules, user)

    monkeypatch.setattr(dispatcher, "webhooks_of", broken_for_bob)
    recs = [Rec(5, b"not json"), Rec(6, done("bob").value), Rec(7, done("ann").value)]
    await loop.take((TOPIC, 0), recs)
    reasons = [(d.offset, d.reason.split(":")[0], d.body) for d in written.letters]  # type: ignore[attr-defined]
    assert reasons == [(5, "not JSON", None), (6, "payload", None)]
    assert [d.offset for d in loop.lanes.queued] == [7]  # type: ignore[attr-defined]
    assert loop.ledger.committable() == {(TOPIC, 0): 7}  # 5 and 6 ended; ann's 7 is open
