"""The HTTP server's limits (`ingest.server.bounded_http`), with the gateway over fakes served
by uvicorn on a loopback port as `podium gateway` serves it: a request target over the limit
is answered 414 and headers over it 431, in the gateway's error shape, before any route
runs (nothing is published); the server goes on answering the next requests. Without it,
uvicorn's httptools protocol let a 600 kB header or path through to the routes."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from deploy.local import free_port
from ingest.app import build_app
from ingest.auth import KeyRing, hash_key
from ingest.server import bounded_http
from tests.component.fakes import API_KEY, Stack

LIMIT = 8 * 1024
EVENT = "/v1/metrics/words-written/event"
BODY = {"user": {"id": "u1"}, "value": 1}


@pytest.fixture
def served(stack: Stack) -> Iterator[str]:
    port = free_port()
    app = build_app(stack.gateway(), KeyRing([hash_key(API_KEY)]))
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, http=bounded_http(LIMIT, LIMIT), log_level="error"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def _client(base: str) -> httpx.Client:
    return httpx.Client(base_url=base, headers={"X-API-KEY": API_KEY}, timeout=10)


def test_a_huge_header_is_431_and_the_next_request_is_served(stack: Stack, served: str) -> None:
    with _client(served) as http:
        resp = http.post(EVENT, json=BODY, headers={"Tenant-ID": "t" * 600_000})
        assert resp.status_code == 431, resp.text
        assert "request" in resp.json()["error"] and "bytes" in resp.json()["error"]
    assert stack.publisher.calls == 0
    with _client(served) as http:
        assert http.post(EVENT, json=BODY).status_code == 201
    assert stack.publisher.calls == 1


def test_headers_just_over_the_limit_are_431(served: str) -> None:
    with _client(served) as http:
        resp = http.get("/v1/achievements", headers={"X-Padding": "p" * (LIMIT + 1)})
        assert resp.status_code == 431
        assert resp.json() == {"error": f"request headers over the limit of {LIMIT:,} bytes"}
        assert http.get("/v1/achievements", headers={"X-Padding": "p" * 100}).status_code == 200


def _send(served: str, head: bytes) -> bytes:
    """Send `head` on a new connection (a client may write no more once refused); the
    answer's first bytes."""
    host, port = served.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(head)  # the server may close the connection before the end: refused
        return sock.recv(65536)


def test_a_huge_path_or_query_is_414(stack: Stack, served: str) -> None:
    path = b"/v1/users/" + b"x" * 600_000
    answer = _send(served, b"PUT " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 414 "), answer[:200]
    assert answer.endswith(b'{"error":"request target over the limit of 8,192 bytes"}')
    with _client(served) as http:
        resp = http.put("/v1/users/" + "x" * 60_000, json={})
        assert resp.status_code == 414, resp.text
        assert resp.json() == {"error": f"request target over the limit of {LIMIT:,} bytes"}
        assert http.get("/v1/streaks", params={"userIds": "u" * (LIMIT + 1)}).status_code == 414
    assert stack.publisher.calls == 0


def test_a_head_that_never_ends_is_refused_while_it_arrives(served: str) -> None:
    """httptools keeps a header whole until it ends: the bytes of an unfinished head count."""
    head = b"GET /v1/achievements HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 80_000  # no end
    answer = _send(served, head)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
