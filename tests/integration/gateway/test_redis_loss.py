"""Redis loses the views while events flow: reads answer 503 "views rebuilding" (never a false
404 for a user who exists), the projector rebuilds by itself, and afterwards every user's
total is the sum of the values the test posted for them.

Its own redis-server (FLUSHALL would wipe the other modules' views on the shared one)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from deploy.local import RedisServer, free_port
from tests.integration.gateway.conftest import Podium, eventually, start_podium

pytestmark = pytest.mark.integration

USERS = 20
METRIC = "words-written"


@pytest.fixture(scope="module")
def own(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RedisServer, Podium]]:
    home = tmp_path_factory.mktemp("redis-loss")
    server = RedisServer(home / "redis", free_port())
    server.start()
    pod = start_podium(kafka_bootstrap, server.url, home, wait_s=5.0)
    try:
        yield server, pod
    finally:
        pod.stop()
        server.stop()


def test_reads_say_rebuilding_then_are_right_after_a_flush(
    own: tuple[RedisServer, Podium], tmp_path: Path
) -> None:
    server, pod = own
    sent: dict[str, int] = {}
    stop = threading.Event()
    lock = threading.Lock()
    thread = threading.Thread(target=_write_until, args=(pod, stop, sent, lock))
    thread.start()
    try:
        with pod.http() as http:
            # every user written once before the flush (the writer goes round them in order),
            # so any 404 after it is a false one
            eventually(lambda: _status(http, f"/users/loss-{USERS - 1}", 200), within=20)
            with redis.Redis.from_url(server.url) as r:
                r.flushall()
            statuses = _read_until_rebuilt(http)
    finally:
        stop.set()
        thread.join(30)
    assert [s for s in statuses if s[0] not in (200, 503)] == []  # never a false 404
    rebuilding = [text for status, text in statuses if status == 503]
    assert rebuilding, "no read saw the views missing: the test proves nothing"
    assert all("being rebuilt" in text for text in rebuilding)
    assert statuses[-1][0] == 200, "the projector did not rebuild the views by itself"

    def totals_right() -> None:
        with pod.http() as http:
            answers = {uid: http.get(f"/users/{uid}/metrics/{METRIC}") for uid in sent}
        assert {u: r.status_code for u, r in answers.items()} == dict.fromkeys(sent, 200), [
            r.text for r in answers.values() if r.status_code != 200
        ][:2]
        got = {uid: int(r.json()["current"]) for uid, r in answers.items()}
        assert got == sent

    eventually(totals_right, within=30, every=0.5)

    # an unknown user is still a 404 once the views are whole: the boards' and the histories'
    # views are rebuilt by their own loops, each on its own second's check, after the users'
    def unknown_is_404() -> None:
        with pod.http() as http:
            _status(http, "/users/nobody-at-all", 404)

    eventually(unknown_is_404, within=30, every=0.5)


def _write_until(
    pod: Podium, stop: threading.Event, sent: dict[str, int], lock: threading.Lock
) -> None:
    """Send metric events round the users until `stop`, adding each value to `sent`."""
    with pod.http() as http:
        n = 0
        while not stop.is_set():
            uid, value = f"loss-{n % USERS}", 1 + n % 7
            resp = http.post(f"/metrics/{METRIC}/event", json={"user": {"id": uid}, "value": value})
            assert resp.is_success, resp.text
            with lock:
                sent[uid] = sent.get(uid, 0) + value
            n += 1


def _read_until_rebuilt(http: httpx.Client) -> list[tuple[int, str]]:
    """Read the users in turn (for at most 30 s) until a 200 comes after more reads than
    there are users; every (status, body) seen."""
    statuses: list[tuple[int, str]] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        resp = http.get(f"/users/loss-{len(statuses) % USERS}")
        statuses.append((resp.status_code, resp.text))
        if resp.status_code == 200 and len(statuses) > USERS:
            break
        time.sleep(0.005)
    return statuses


def _status(http: httpx.Client, path: str, expected: int) -> None:
    assert http.get(path).status_code == expected
