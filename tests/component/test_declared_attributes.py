"""Declared attributes: with an `[attributes]` section in the rules file, a request carrying a
user or event attribute key it does not declare is refused with 422 in Trophy's words
("Invalid attribute keys: ..."), naming the key, and nothing is written; without the section
every key is accepted (the tests' rules file has none)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from schemas.commands import MetricTracked
from schemas.rules_parse import parse_rules
from tests.component.fakes import Stack, view
from tests.rules import WRITING_PATH

DECLARED = '[attributes]\nuser = ["plan", "team"]\nevent = ["genre"]\n'


@pytest.fixture
def declared() -> Stack:
    return Stack(parse_rules(WRITING_PATH.read_text() + "\n" + DECLARED, "declared.toml"))


def _refused(resp: object, *words: str) -> None:
    assert resp.status_code == 422, resp.text  # type: ignore[attr-defined]
    message = resp.json()["error"]  # type: ignore[attr-defined]
    assert message.startswith("Invalid attribute keys: "), message
    assert all(w in message for w in words), message


def test_unknown_keys_are_refused_naming_them(declared: Stack) -> None:
    declared.views.put(view("u1"))
    with declared.client() as http:
        _refused(
            http.post(
                "/metrics/words-written/event",
                json={
                    "user": {"id": "u1", "attributes": {"plan": "pro", "colour": "red"}},
                    "value": 1,
                },
            ),
            "colour",
            "user.attributes",
        )
        _refused(
            http.post(
                "/metrics/words-written/event",
                json={"user": {"id": "u1"}, "value": 1, "attributes": {"mood": "x", "ab": "y"}},
            ),
            "ab, mood",
            "genre",
        )
        _refused(http.put("/users/u1", json={"attributes": {"plan-type": "x"}}), "plan-type")
        _refused(http.post("/users", json={"id": "u2", "attributes": {"x": "1"}}), "body")
        _refused(
            http.post(
                "/achievements/published/complete",
                json={"user": {"id": "u1", "attributes": {"x": "1"}}},
            ),
            "x",
        )
        _refused(
            http.post(
                "/metrics/events",
                json={
                    "events": [
                        {
                            "key": "words-written",
                            "user": {"id": "u1"},
                            "value": 1,
                            "attributes": {"genre": "poetry", "lang": "en"},
                        }
                    ]
                },
            ),
            "lang",
            "events[0].attributes",
        )
    assert declared.publisher.published == []


def test_declared_keys_pass(declared: Stack) -> None:
    with declared.client() as http:
        resp = http.post(
            "/metrics/words-written/event",
            json={
                "user": {"id": "u1", "attributes": {"team": "a"}},
                "value": 1,
                "attributes": {"genre": "poetry"},
            },
        )
    assert resp.status_code == 201, resp.text
    [cmd] = declared.publisher.published
    assert isinstance(cmd, MetricTracked)
    assert dict(cmd.user.attributes or {}) == {"team": "a"}
    assert dict(cmd.attributes) == {"genre": "poetry"}


def test_without_the_section_any_key_is_accepted(stack: Stack, http: TestClient) -> None:
    assert stack.rules.attributes is None
    resp = http.post(
        "/metrics/words-written/event",
        json={
            "user": {"id": "u1", "attributes": {"anything": "1"}},
            "value": 1,
            "attributes": {"whatever": "2"},
        },
    )
    assert resp.status_code == 201, resp.text
