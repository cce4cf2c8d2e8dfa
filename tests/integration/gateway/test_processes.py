"""The gateway as a process among others: two gateways side by side each get their own
requests' progress; with the broker gone, writes answer 503 with Retry-After (never 2xx) and
/ready follows the broker while /health stays up."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from trophy.types import EventResponse

from deploy.local import KafkaBroker, free_port
from tests.integration.gateway.conftest import JAR_CACHE, Podium, eventually, start_podium

pytestmark = pytest.mark.integration


def test_two_gateways_each_get_their_own_progress(podium: Podium) -> None:
    second = podium.start_gateway()
    bases = [podium.base_url, second]

    def send(i: int) -> tuple[int, str, int, float]:
        base = bases[i % 2]
        with httpx.Client(base_url=base, headers={"X-API-KEY": podium.api_key}, timeout=10) as http:
            resp = http.post(
                "/metrics/words-written/event", json={"user": {"id": f"pair-{i}"}, "value": 100 + i}
            )
            body = resp.json()
            return i, body.get("eventId", ""), resp.status_code, body.get("total", -1)

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(send, range(80)))
    assert [(i, status, total) for i, _, status, total in results] == [
        (i, 201, 100 + i) for i in range(80)
    ]
    assert len({eid for _, eid, _, _ in results}) == 80


def test_broker_unreachable_means_503_and_not_ready(podium: Podium) -> None:
    dead = f"127.0.0.1:{free_port()}"  # nothing listens there
    port = free_port()
    proc = podium.spawn(
        "gateway-dead",
        ["-m", "deploy.cli", "gateway", "--port", str(port)],
        PODIUM_KAFKA_BOOTSTRAP=dead,
    )
    root = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            health = httpx.get(root + "/health", timeout=2)
            break
        except httpx.TransportError:
            assert time.monotonic() < deadline, proc.tail()
            time.sleep(0.2)
    assert health.status_code == 200
    ready = httpx.get(root + "/ready", timeout=5)
    assert ready.status_code == 503 and "kafka" in ready.json()["error"]
    resp = httpx.post(
        root + "/v1/metrics/words-written/event",
        timeout=10,
        headers={"X-API-KEY": podium.api_key},
        json={"user": {"id": "nobody-home"}, "value": 1},
    )
    assert resp.status_code == 503
    assert resp.headers["Retry-After"] == "1"
    assert "not recorded" in resp.json()["error"]
    proc.stop()


def test_broker_stopping_mid_way_means_503_or_504(redis_url: str, tmp_path: Path) -> None:
    broker = KafkaBroker(tmp_path / "kafka", free_port(), free_port(), JAR_CACHE)
    broker.start()
    pod = start_podium(broker.bootstrap, redis_url, tmp_path, wait_s=5.0)
    try:
        with pod.http() as http:
            ok = http.post(
                "/metrics/words-written/event", json={"user": {"id": "before"}, "value": 5}
            )
            assert ok.status_code == 201 and ok.json()["total"] == 5
            broker.stop()
            started = time.monotonic()
            down = http.post(
                "/metrics/words-written/event", json={"user": {"id": "after"}, "value": 5}
            )
            assert down.status_code in (503, 504), down.text  # 504: sent, outcome unknown
            assert down.headers["Retry-After"] == "1"
            assert time.monotonic() - started < 8  # bounded by the publish timeout
            root = pod.base_url.removesuffix("/v1")
            deadline = time.monotonic() + 10
            while httpx.get(root + "/ready", timeout=5).status_code != 503:
                assert time.monotonic() < deadline
                time.sleep(0.2)
            assert httpx.get(root + "/health", timeout=5).status_code == 200
    finally:
        pod.stop()
        broker.stop()


def test_not_waiting_answers_201_pending_and_the_event_is_processed(podium: Podium) -> None:
    base = podium.start_gateway(PODIUM_GATEWAY_WAIT_S="0")
    trophy = podium.trophy(base)
    resp = trophy.metrics.event(
        key="words-written", user={"id": "async-1"}, value=42, idempotency_key="a1"
    )
    assert isinstance(resp, EventResponse)
    assert len(resp.event_id) == 32 and resp.idempotency_key == "a1"
    assert resp.model_extra == {"pending": True}
    assert (resp.total, resp.achievements, resp.idempotent_replayed) == (0, [], False)
    with httpx.Client(base_url=base, headers={"X-API-KEY": podium.api_key}) as http:
        raw = http.post(
            "/metrics/words-written/event", json={"user": {"id": "async-1"}, "value": 8}
        )
        assert raw.status_code == 201 and raw.json()["pending"] is True

    def processed() -> None:
        got = trophy.users.single_metric(id="async-1", key="words-written")
        assert got.current == 50 and [a.id for a in got.achievements if a.achieved_at] == [
            "first-words"
        ]

    eventually(processed)
