"""Bad input against the whole stack: a refused request never reaches the event log, and the
gateway's log holds no key material. The validation matrix itself (every rule answers a 4xx
naming what is wrong) needs no broker: it is in `tests/component/test_bad_input.py`.

Each test makes the requests it judges, so none depends on what another test did first."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from trophy.errors import UnauthorizedError

from schemas.commands import command_user_id, decode_command
from schemas.topics import EVENTS
from tests.integration.gateway.conftest import Podium
from tests.integration.runtime.kafka_io import read_topic

pytestmark = pytest.mark.integration

EVENT = "/metrics/words-written/event"


def _refusals(user: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """One refused request of each writing route, every one naming `user`."""
    return [
        ("POST", EVENT, {"user": user, "value": "12"}),
        ("POST", EVENT, {"user": {**user, "tz": "Mars/Olympus"}, "value": 1}),
        ("POST", EVENT, {"user": user, "value": 1, "time": 5}),
        ("POST", "/metrics/pages-read/event", {"user": user, "value": 1}),
        ("POST", "/metrics/events", {"events": [{"key": "words-written", "user": user}]}),
        (
            "POST",
            "/metrics/events",
            {
                "events": [
                    {"key": "words-written", "user": user, "value": 1},
                    {"key": "pages-read", "user": user, "value": 1},
                ]
            },
        ),
        ("POST", "/achievements/novella/complete", {"user": user}),
        ("POST", "/achievements/olympian/complete", {"user": user}),
        ("PUT", f"/users/{user['id']}", {"id": user["id"] + "-other"}),
        ("PATCH", f"/users/{user['id']}", {"name": "x"}),
    ]


def test_refused_requests_never_reach_the_log(podium: Podium) -> None:
    """Every refusal is answered 4xx, and the event log, read to its end afterwards, holds no
    command for the user they named. The gateway answers only after the broker acknowledged
    a write, so anything wrongly accepted is below the end offsets read here: no waiting."""
    uid = f"refused-{uuid.uuid4().hex[:8]}"
    with podium.http() as http:
        for method, path, body in _refusals({"id": uid}):
            resp = http.request(method, path, json=body)
            assert 400 <= resp.status_code < 500, (method, path, resp.status_code, resp.text)
        records = asyncio.run(read_topic(podium.bootstrap, EVENTS.named(podium.prefix)))
        named = [
            rec.offset
            for recs in records.values()
            for rec in recs
            if rec.value is not None and command_user_id(decode_command(rec.value)) == uid
        ]
        assert named == [], f"refused requests for {uid} reached the log at offsets {named}"
        assert http.get(f"/users/{uid}").status_code == 404


def test_no_key_material_in_the_logs(podium: Podium) -> None:
    """After requests with the right key, a wrong one and the SDK with a wrong one, no
    process's log holds any of them."""
    wrong = "pk_00000000.wrong"
    with podium.http() as http:
        assert http.get("/achievements").status_code == 200
    with httpx.Client(base_url=podium.base_url, timeout=10) as http:
        assert http.get("/achievements", headers={"X-API-KEY": wrong}).status_code == 401
    with pytest.raises(UnauthorizedError):
        podium.trophy(api_key=wrong).users.get(id="u1")
    secret = podium.api_key.split(".", 1)[1]
    logs = "".join(p.log.read_text(errors="replace") for p in podium.procs)
    assert podium.api_key not in logs and secret not in logs
    assert wrong not in logs
