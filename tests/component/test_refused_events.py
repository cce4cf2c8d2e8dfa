"""An event the worker dead-letters is answered as an error, never 2xx: the worker writes an
`EventRefused` where its `Progress` would be, and the request waiting for it answers 422 with
the reason (500 when the fold itself failed). And a user's attributes are bounded: the
gateway refuses a write that would give a user more than 50 (counting the view's)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from schemas.records import EventRefused
from tests.component.fakes import Stack, view

EVENT = "/metrics/words-written/event"


def refused(event_id: str, reason: str) -> EventRefused:
    return EventRefused(
        id=f"u1:progress:{event_id}",
        event_id=event_id,
        user_id="u1",
        reason=reason,
        dead_letter="podium.events:3:41",
    )


WRITES: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", EVENT, {"user": {"id": "u1"}, "value": 5}),
    ("POST", "/achievements/published/complete", {"user": {"id": "u1"}}),
    ("POST", "/users", {"id": "u1", "name": "Ann"}),
    ("PUT", "/users/u1", {"name": "Ann"}),
    ("PATCH", "/users/u1/preferences", {"notifications": {"recap": ["email"]}}),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_a_dead_lettered_write_is_a_422_with_the_reason(
    stack: Stack, http: TestClient, method: str, path: str, body: dict[str, Any]
) -> None:
    stack.views.put(view("u1"))
    reason = "state: the user's state would be 1016000 bytes, over 1000000"
    stack.waiter.hand(refused("ev-1", reason))
    resp = http.request(method, path, json=body)
    assert resp.status_code == 422, resp.text
    assert resp.json() == {
        "error": f"the event was recorded but not applied: {reason}; it is parked on the "
        "dead-letter topic as podium.events:3:41"
    }
    assert stack.publisher.calls == 1


def test_a_write_whose_fold_failed_is_a_500(stack: Stack, http: TestClient) -> None:
    stack.waiter.hand(refused("ev-1", "fold: ZeroDivisionError: division by zero"))
    resp = http.post(EVENT, json={"user": {"id": "u1"}, "value": 5})
    assert resp.status_code == 500
    assert "not applied" in resp.json()["error"] and "ZeroDivision" not in resp.json()["error"]


def _attributes(names: range) -> dict[str, str]:
    return {f"a{i}": "v" for i in names}


def test_a_write_over_50_attributes_counting_the_stored_ones_is_a_422(
    stack: Stack, http: TestClient
) -> None:
    stack.views.put(view("u1", attributes=_attributes(range(45))))  # a0..a44
    over = http.put("/users/u1", json={"attributes": _attributes(range(40, 51))})  # 6 new
    assert over.status_code == 422, over.text
    assert over.json()["error"] == (
        "user.attributes: a user has at most 50 attributes; user 'u1' has 45 and these "
        "would make 51"
    )
    event = http.post(
        EVENT, json={"user": {"id": "u1", "attributes": _attributes(range(60, 71))}, "value": 1}
    )
    assert event.status_code == 422
    assert stack.publisher.calls == 0
    ok = http.put("/users/u1", json={"attributes": _attributes(range(30, 50))})  # 5 new: 50
    assert ok.status_code == 200, ok.text
    assert stack.publisher.calls == 1


def test_a_batch_counts_its_events_attributes_together(stack: Stack, http: TestClient) -> None:
    events = [
        {
            "key": "words-written",
            "user": {"id": "u2", "attributes": _attributes(range(0, 30))},
            "value": 1,
        },
        {
            "key": "words-written",
            "user": {"id": "u3", "attributes": _attributes(range(0, 30))},
            "value": 1,
        },
        {
            "key": "words-written",
            "user": {"id": "u2", "attributes": _attributes(range(30, 51))},
            "value": 1,
        },
    ]
    resp = http.post("/metrics/events", json={"events": events})
    assert resp.status_code == 422, resp.text
    assert "user 'u2' has 30 and these would make 51" in resp.json()["error"]
    assert stack.publisher.calls == 0
    assert http.post("/metrics/events", json={"events": events[:2]}).status_code == 202
