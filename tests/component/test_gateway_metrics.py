"""The gateway's series through the real app over fakes (ingest.telemetry): each request is
timed under its route's template, never its path (a user id stays out of the labels, an
escaped '/' in it too), with refusals before routing under `unrouted`; the answer's wait is
`answered` or `pending`; each published event counts once under its outcome."""

from __future__ import annotations

from prometheus_client import REGISTRY
from starlette.testclient import TestClient

from tests.component.fakes import Stack
from tests.component.test_write_routes import EVENT, progress

DURATION = "podium_http_request_duration_seconds_count"


def count(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def requests(route: str, method: str, status: int) -> float:
    return count(DURATION, route=route, method=method, status=str(status))


def test_requests_are_timed_by_route_template(stack: Stack, http: TestClient) -> None:
    user_route = "/v1/users/{id}/metrics"
    before = requests(user_route, "GET", 404)
    unrouted = requests("unrouted", "GET", 404), requests("unrouted", "GET", 401)
    brewed = requests("unrouted", "other", 404)
    assert http.get("/users/ada-7d1f/metrics").status_code == 404
    assert http.get("/users/a%2Fb/metrics").status_code == 404  # an id holding '/'
    assert http.get("/no/such/path").status_code == 404
    assert http.request("BREW", "/no/such/path").status_code == 404
    assert http.get("/users/ada-7d1f/metrics", headers={"X-API-KEY": "wrong"}).status_code == 401
    assert requests(user_route, "GET", 404) == before + 2
    assert (requests("unrouted", "GET", 404), requests("unrouted", "GET", 401)) == (
        unrouted[0] + 1,
        unrouted[1] + 1,
    )
    assert requests("unrouted", "other", 404) == brewed + 1
    routes = {
        sample.labels["route"]
        for family in REGISTRY.collect()
        if family.name == "podium_http_request_duration_seconds"
        for sample in family.samples
    }
    assert not [r for r in routes if "ada" in r or "a/b" in r or "%2F" in r], routes


def test_the_answer_s_wait_and_the_published_events_are_counted(
    stack: Stack, http: TestClient
) -> None:
    answered, pending = (
        count("podium_answer_wait_seconds_count", outcome=o) for o in ("answered", "pending")
    )
    ok, refused = (count("podium_events_published_total", outcome=o) for o in ("ok", "refused"))
    stack.waiter.hand(progress("ev-1"))
    assert http.post(EVENT, json={"user": {"id": "u1"}, "value": 3}).status_code == 201
    stack.wait_s = 0.05  # no answer handed for ev-2: the wait runs out
    resp = http.post(EVENT, json={"user": {"id": "u1"}, "value": 3})
    assert resp.status_code == 201 and resp.json()["pending"] is True
    batch = [{"key": "words-written", "user": {"id": f"u{i}"}, "value": 1} for i in range(3)]
    assert http.post("/metrics/events", json={"events": batch}).status_code == 202
    stack.publisher.fail = True
    assert http.post(EVENT, json={"user": {"id": "u1"}, "value": 3}).status_code == 503
    assert count("podium_answer_wait_seconds_count", outcome="answered") == answered + 1
    assert count("podium_answer_wait_seconds_count", outcome="pending") == pending + 1
    assert count("podium_events_published_total", outcome="ok") == ok + 5
    assert count("podium_events_published_total", outcome="refused") == refused + 1
    assert requests("/v1/metrics/events", "POST", 202) >= 1
