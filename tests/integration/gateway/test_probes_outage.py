"""A broker outage is no liveness failure: with the broker killed (SIGKILL) under a trickle of
events, every process's /livez keeps answering 200 for the whole outage, though the bound
on a silent loop is short here (3 s): their loops keep polling, or wait in a known wait
(a commit, a take). The gateway's /readyz follows Kafka meanwhile (503), and every process
is ready again once the broker is back.

The test has its own broker (killing the session's would disturb other tests)."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from functools import partial

import httpx
import pytest

from deploy.local import KafkaBroker, free_port
from tests.integration.gateway.conftest import JAR_CACHE, Podium, eventually, start_podium
from tests.integration.gateway.test_broker_restart import kill

pytestmark = pytest.mark.integration

PROCESSES = ("worker", "projector", "gateway-0")
OUTAGE_S = 12.0


@pytest.fixture(scope="module")
def stack(
    redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[KafkaBroker, Podium]]:
    home = tmp_path_factory.mktemp("outage")
    broker = KafkaBroker(home / "kafka", free_port(), free_port(), JAR_CACHE)
    broker.start()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PODIUM_LIVE_POLL_S", "3")  # a loop silent for 3 s would be wedged
        pod = start_podium(broker.bootstrap, redis_url, home, wait_s=0.5)
    try:
        yield broker, pod
    finally:
        pod.stop()
        broker.stop()


def probe(pod: Podium, name: str, path: str) -> httpx.Response:
    return httpx.get(pod.metrics_url(name).replace("/metrics", path), timeout=5)


def trickle(pod: Podium, stop: threading.Event) -> None:
    """An event every 0.2 s, whatever the answer: commits are in flight when the broker dies."""
    with pod.http() as http:
        i = 0
        while not stop.is_set():
            with contextlib.suppress(httpx.TransportError):
                http.post(
                    "/metrics/words-written/event", json={"user": {"id": f"o{i}"}, "value": 1}
                )
            i += 1
            time.sleep(0.2)


def test_liveness_holds_through_a_broker_outage(stack: tuple[KafkaBroker, Podium]) -> None:
    broker, pod = stack
    for name in PROCESSES:
        eventually(partial(_ready, pod, name), within=30, every=0.5)
    stop = threading.Event()
    load = threading.Thread(target=trickle, args=(pod, stop), daemon=True)
    load.start()
    try:
        time.sleep(2)
        kill(broker, signal.SIGKILL)
        down_at = time.monotonic()
        while time.monotonic() - down_at < OUTAGE_S:
            for name in PROCESSES:
                answer = probe(pod, name, "/livez")
                assert answer.status_code == 200, (name, answer.text)
            time.sleep(0.25)
        gateway = probe(pod, "gateway-0", "/readyz")
        assert gateway.status_code == 503 and "kafka" in gateway.json()["reason"]
        broker.start()
    finally:
        stop.set()
        load.join()
    for name in PROCESSES:
        eventually(partial(_ready, pod, name), within=60, every=0.5)
        assert probe(pod, name, "/livez").status_code == 200
    pod.check_alive()


def _ready(pod: Podium, name: str) -> None:
    answer = probe(pod, name, "/readyz")
    assert answer.status_code == 200, answer.text
