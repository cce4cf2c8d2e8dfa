"""The edges against the real stack (gateway, worker, projector, Kafka, Redis): one request
with an oversized id hurts no one else (a 600 kB `Tenant-ID` header made a record over
1 MiB, which the gateway took for a broken producer and retired the producer every request
shares: 503 for it, 503/504 for everyone until replaced); an event the worker dead-letters
is answered as an error; a user's attributes stay bounded whoever writes them."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from schemas.commands import User, UserIdentified, encode_command
from schemas.records import DeadLetter, decode_record
from schemas.topics import EVENTS, EVENTS_DLQ
from tests.integration.gateway.conftest import RULES, Podium, eventually
from tests.integration.runtime.kafka_io import produce, read_topic

pytestmark = pytest.mark.integration
EVENT = "/metrics/words-written/event"


def _writes_answered(podium: Podium, count: int) -> list[int]:
    with podium.http() as http:
        return [
            http.post(EVENT, json={"user": {"id": f"edge-{i}"}, "value": 10}).status_code
            for i in range(count)
        ]


def test_an_oversized_id_fails_only_its_own_request(podium: Podium) -> None:
    with podium.http() as http:
        huge = http.post(
            EVENT, json={"user": {"id": "u1"}, "value": 1}, headers={"Tenant-ID": "t" * 600_000}
        )
        assert huge.status_code == 431, huge.text
        assert _writes_answered(podium, 5) == [201] * 5
        path = http.put("/users/" + "x" * 60_000, json={"name": "X"})
        assert path.status_code == 414, path.text
        assert _writes_answered(podium, 5) == [201] * 5
        # under the server's limits, the edge's own: 255 characters, with the reason
        tenant = http.post(
            EVENT, json={"user": {"id": "u1"}, "value": 1}, headers={"Tenant-ID": "t" * 300}
        )
        assert tenant.status_code == 422, tenant.text
        assert tenant.json()["error"] == (
            "Tenant-ID: a tenant id has at most 255 characters, got 300"
        )
        user = http.put("/users/" + "x" * 300, json={"name": "X"})
        assert user.status_code == 422, user.text
        assert "255 characters" in user.json()["error"]
    gateway_log = next(p for p in podium.procs if p.name == "gateway-0").log.read_text()
    assert "replacing the Kafka producer" not in gateway_log


def test_an_event_the_worker_dead_letters_is_answered_422(podium: Podium, tmp_path: Path) -> None:
    """A gateway whose rules know a metric the worker's do not (a rules change rolled out to
    the gateway first): the worker dead-letters the event, and the request waiting for it is
    answered 422 with the worker's reason, not 201 `pending: true` after its wait."""
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES.read_text() + '\n[metrics.pages-read]\nname = "Pages read"\n')
    base = podium.start_gateway(PODIUM_RULES_PATH=str(rules))
    with httpx.Client(base_url=base, headers={"X-API-KEY": podium.api_key}, timeout=20) as http:
        started = time.monotonic()
        resp = http.post("/metrics/pages-read/event", json={"user": {"id": "r1"}, "value": 3})
        took = time.monotonic() - started
    assert resp.status_code == 422, resp.text
    error = resp.json()["error"]
    assert error.startswith(
        "the event was recorded but not applied: metric: unknown 'pages-read'; it is parked on "
        f"the dead-letter topic as {EVENTS.named(podium.prefix)}:"
    ), error
    assert took < 4.0  # answered from the worker's answer, not after the 5 s wait
    # the answer leaves at the fold; the dead letter is read committed, after the worker's
    # next commit (every 100 ms)
    eventually(
        lambda: _assert(
            any(d.reason == "metric: unknown 'pages-read'" for d in _dead_letters(podium))
        ),
        within=10,
    )


def _assert(holds: bool) -> None:
    assert holds


def _dead_letters(podium: Podium) -> list[DeadLetter]:
    records = asyncio.run(read_topic(podium.bootstrap, EVENTS_DLQ.named(podium.prefix)))
    return [
        d
        for recs in records.values()
        for r in recs
        if isinstance(d := decode_record(r.value), DeadLetter)
    ]


def test_attributes_from_a_direct_producer_stay_bounded_and_the_user_goes_on(
    podium: Podium,
) -> None:
    """Ten commands written straight to the log, each with 50 new attributes of 255 escaped
    characters, bypass the gateway: the first applies, the others are dead letters (before,
    they made a 1.016 MB state and every later event of the user a `state:` dead letter,
    answered 201 `pending: true`). The user's next event is folded and answered."""
    long = "\x01" * 252
    commands = [
        UserIdentified(
            event_id=f"direct-{n}",
            time_ms=1_764_547_200_000,
            user=User(id="big", attributes={f"{50 * n + i:03d}{long}": long for i in range(50)}),
        )
        for n in range(10)
    ]
    asyncio.run(
        produce(
            podium.bootstrap,
            EVENTS.named(podium.prefix),
            [(b"big", encode_command(c)) for c in commands],
        )
    )

    def nine_refused() -> None:
        refused = [
            d for d in _dead_letters(podium) if b'"eventId":"direct-' in d.original_bytes()[:100]
        ]
        assert len(refused) == 9, [d.reason for d in refused]
        assert all(d.reason.startswith("user.attributes: a user has at most 50") for d in refused)

    eventually(nine_refused, within=30)
    with podium.http() as http:
        resp = http.post(EVENT, json={"user": {"id": "big"}, "value": 4})
        assert resp.status_code == 201, resp.text
        assert "pending" not in resp.json() and resp.json()["total"] == 4
        over = http.put("/users/big", json={"attributes": {"one-more": "x"}})
        assert over.status_code == 422, over.text
        assert "at most 50 attributes" in over.json()["error"]
