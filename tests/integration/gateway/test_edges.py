"""The edges against the real stack (gateway, worker, projector, Kafka, Redis): one request
with an oversized id hurts no one else. A 600 kB `Tenant-ID` header made a record over
1 MiB, which the gateway took for a broken producer and retired the producer every request
shares (503 for it, 503/504 for everyone until replaced)."""

from __future__ import annotations

import pytest

from tests.integration.gateway.conftest import Podium

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
