"""Every validation rule of the gateway answers a 4xx in Trophy's error shape
`{"error": "..."}` whose message names what is wrong (the field, the metric, the attribute),
and a refused request never reaches the log: the pure validation matrix, through the real
routes (`build_app`) over fakes, so it runs in seconds with no broker.

The cases and their assertions are the ones `tests/integration/gateway/test_bad_input.py`
ran against a whole subprocess stack; each test here also checks that nothing was handed
to the publisher."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient
from trophy import TrophyApi
from trophy.environment import TrophyApiEnvironment
from trophy.errors import UnauthorizedError, UnprocessableEntityError

from ingest.app import build_app
from ingest.auth import KeyRing, hash_key
from ingest.kafka import TooLarge
from schemas.commands import command_user_id
from tests.component.fakes import API_KEY, BASE_URL, Stack, view

OK_USER = {"id": "u1"}
EVENT = "/metrics/words-written/event"


def sdk(http: httpx.Client, api_key: str = API_KEY) -> TrophyApi:
    """Trophy's own SDK, sending through the in-process client."""
    env = TrophyApiEnvironment(api=BASE_URL, admin=BASE_URL.removesuffix("/v1") + "/admin/v1")
    return TrophyApi(api_key=api_key, environment=env, max_retries=0, httpx_client=http)


def _check(resp: httpx.Response, status: int, *words: str) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert list(body) == ["error"] and isinstance(body["error"], str)
    for word in words:
        assert word in body["error"], (word, body["error"])


EVENT_CASES: list[tuple[str, Any, int, tuple[str, ...]]] = [
    ("not an object", [1, 2], 422, ("request body", "object")),
    ("no user", {"value": 1}, 422, ("user", "missing")),
    ("user not an object", {"user": "u1", "value": 1}, 422, ("user", "object")),
    ("no user id", {"user": {"name": "x"}, "value": 1}, 422, ("user.id",)),
    ("user id a number", {"user": {"id": 7}, "value": 1}, 422, ("user.id", "string")),
    ("user id too long", {"user": {"id": "x" * 256}, "value": 1}, 422, ("user.id", "255")),
    (
        "unknown time zone",
        {"user": {"id": "u1", "tz": "Mars/Olympus"}, "value": 1},
        422,
        ("user.tz", "Mars/Olympus"),
    ),
    ("email not a string", {"user": {"id": "u1", "email": 5}, "value": 1}, 422, ("user.email",)),
    (
        "device tokens not strings",
        {"user": {"id": "u1", "deviceTokens": [1]}, "value": 1},
        422,
        ("user.deviceTokens",),
    ),
    (
        "subscribe not a boolean",
        {"user": {"id": "u1", "subscribeToEmails": "yes"}, "value": 1},
        422,
        ("user.subscribeToEmails", "boolean"),
    ),
    (
        "user attribute not a string",
        {"user": {"id": "u1", "attributes": {"plan": 3}}, "value": 1},
        422,
        ("user.attributes.plan", "string"),
    ),
    ("name too long", {"user": {"id": "u1", "name": "n" * 256}, "value": 1}, 422, ("user.name",)),
    (
        "too many device tokens",
        {"user": {"id": "u1", "deviceTokens": ["t"] * 101}, "value": 1},
        422,
        ("user.deviceTokens", "100"),
    ),
    (
        "unknown user field",
        {"user": {"id": "u1", "nickname": "x"}, "value": 1},
        422,
        ("user", "nickname"),
    ),
    ("no value", {"user": OK_USER}, 422, ("value", "missing")),
    ("value a string", {"user": OK_USER, "value": "12"}, 422, ("value", "number")),
    ("value a boolean", {"user": OK_USER, "value": True}, 422, ("value", "number")),
    ("value too large", {"user": OK_USER, "value": 1e40}, 422, ("value", "too")),
    (
        "attributes not an object",
        {"user": OK_USER, "value": 1, "attributes": ["a"]},
        422,
        ("attributes", "object"),
    ),
    (
        "attribute not a string",
        {"user": OK_USER, "value": 1, "attributes": {"genre": 1}},
        422,
        ("attributes.genre", "string"),
    ),
    (
        "too many attributes",
        {"user": OK_USER, "value": 1, "attributes": {f"a{i}": "x" for i in range(51)}},
        422,
        ("attributes", "50"),
    ),
    (
        "unknown top-level field",
        {"user": OK_USER, "value": 1, "time": 5},
        422,
        ("unknown field", "time"),
    ),
]


@pytest.mark.parametrize(
    ("body", "status", "words"), [c[1:] for c in EVENT_CASES], ids=[c[0] for c in EVENT_CASES]
)
def test_event_body_validation(
    stack: Stack, http: TestClient, body: Any, status: int, words: tuple[str, ...]
) -> None:
    _check(http.post(EVENT, json=body), status, *words)
    assert stack.publisher.calls == 0


def test_invalid_json_empty_body_and_unknown_metric(stack: Stack, http: TestClient) -> None:
    _check(http.post(EVENT, content=b"{nope"), 422, "not valid JSON")
    _check(http.post(EVENT, content=b""), 422, "request body", "missing")
    _check(
        http.post("/metrics/pages-read/event", json={"user": OK_USER, "value": 1}),
        404,
        "pages-read",
    )
    _check(
        http.post(
            EVENT, json={"user": OK_USER, "value": 1}, headers={"Idempotency-Key": "k" * 256}
        ),
        422,
        "Idempotency-Key",
    )
    assert stack.publisher.calls == 0


def test_body_size_limit(stack: Stack, http: TestClient) -> None:
    big = b'{"user": {"id": "u1"}, "value": 1, "attributes": {"a": "' + b"x" * 1_100_000 + b'"}}'
    _check(http.post(EVENT, content=big), 413, "limit")

    def chunks() -> Any:  # no Content-Length: the limit holds while streaming
        for _ in range(20):
            yield b" " * 100_000

    _check(http.post(EVENT, content=chunks()), 413, "limit")
    assert stack.publisher.calls == 0


def test_api_key_is_required_everywhere_but_health(stack: Stack) -> None:
    with stack.client(api_key=None) as http:
        _check(http.post(EVENT, json={"user": OK_USER, "value": 1}), 401, "X-API-KEY")
        _check(http.get("/users/u1"), 401, "X-API-KEY")
        _check(
            http.get("/achievements", headers={"X-API-KEY": API_KEY + "x"}),
            401,
            "invalid API key",
        )
        root = BASE_URL.removesuffix("/v1")
        assert http.get(root + "/health").status_code == 200
        assert http.get(root + "/ready").status_code == 200
        with pytest.raises(UnauthorizedError):
            sdk(http, "pk_00000000.wrong").users.get(id="u1")
    assert stack.publisher.calls == 0


def test_sdk_sees_bad_requests_as_its_own_errors(stack: Stack, http: TestClient) -> None:
    """422: the status Trophy's document lists on every operation (400 is not on all)."""
    with pytest.raises(UnprocessableEntityError) as err:
        sdk(http).metrics.event(key="words-written", user={"id": "u1", "tz": "Nowhere"}, value=1)
    assert "user.tz" in err.value.body["error"]
    assert stack.publisher.calls == 0


BATCH_CASES: list[tuple[str, Any, int, tuple[str, ...]]] = [
    ("not an array", {"events": {"a": 1}}, 422, ("events", "array")),
    ("empty", {"events": []}, 422, ("events", "empty")),
    (
        "too many",
        {"events": [{"key": "words-written", "user": OK_USER, "value": 1}] * 1001},
        422,
        ("1000", "1001"),
    ),
    ("item without key", {"events": [{"user": OK_USER, "value": 1}]}, 422, ("events[0].key",)),
    (
        "unknown metric names the item",
        {
            "events": [
                {"key": "words-written", "user": OK_USER, "value": 1},
                {"key": "pages-read", "user": OK_USER, "value": 1},
            ]
        },
        404,
        ("events[1]", "pages-read"),
    ),
    (
        "bad value names the item",
        {
            "events": [
                {"key": "words-written", "user": OK_USER, "value": 1},
                {"key": "words-written", "user": OK_USER, "value": "x"},
            ]
        },
        422,
        ("events[1].value",),
    ),
    (
        "bad user names the item",
        {"events": [{"key": "words-written", "user": {"id": "u1", "tz": "Atlantis"}, "value": 1}]},
        422,
        ("events[0].user.tz",),
    ),
    (
        "bad idempotency key",
        {"events": [{"key": "words-written", "user": OK_USER, "value": 1, "idempotencyKey": ""}]},
        422,
        ("events[0].idempotencyKey",),
    ),
    (
        "unknown item field",
        {"events": [{"key": "words-written", "user": OK_USER, "value": 1, "when": 3}]},
        422,
        ("events[0]", "when"),
    ),
]


@pytest.mark.parametrize(
    ("body", "status", "words"), [c[1:] for c in BATCH_CASES], ids=[c[0] for c in BATCH_CASES]
)
def test_batch_validation(
    stack: Stack, http: TestClient, body: Any, status: int, words: tuple[str, ...]
) -> None:
    _check(http.post("/metrics/events", json=body), status, *words)
    assert stack.publisher.calls == 0


def test_other_endpoints_validation(stack: Stack, http: TestClient) -> None:
    _check(http.post("/achievements/olympian/complete", json={"user": OK_USER}), 404, "olympian")
    _check(
        http.post("/achievements/novella/complete", json={"user": OK_USER}),
        422,
        "novella",
        "metric",
    )
    _check(http.post("/achievements/published/complete", json={}), 422, "user")
    _check(http.post("/users", json={"name": "no id"}), 422, "id")
    _check(http.put("/users/u9", json={"id": "u8"}), 422, "differs")
    _check(http.patch("/users/never-seen", json={"name": "x"}), 404, "never-seen")
    _check(http.get("/users/never-seen"), 404, "never-seen")
    _check(http.get("/users/never-seen/metrics"), 404, "never-seen")
    _check(http.get("/users/never-seen/metrics/pages-read"), 404, "pages-read")
    _check(
        http.get("/users/never-seen/streak", params={"historyPeriods": "x"}),
        422,
        "historyPeriods",
    )
    _check(
        http.get("/users/never-seen/streak", params={"historyPeriods": "0"}),
        422,
        "historyPeriods",
    )
    _check(
        http.get("/users/never-seen/achievements", params={"includeIncomplete": "maybe"}),
        422,
        "includeIncomplete",
    )
    _check(http.get("/achievements", params={"userAttributes": "plan"}), 422, "userAttributes")
    _check(http.get("/streaks"), 422, "userIds")
    _check(http.get("/streaks", params={"userIds": ",".join(map(str, range(101)))}), 422, "100")
    _check(http.get("/no/such/thing"), 404, "no such endpoint")
    _check(http.delete("/users/u1"), 405, "DELETE")

    assert stack.publisher.calls == 0


def test_a_user_id_with_a_slash_or_a_percent_is_addressable(stack: Stack, http: TestClient) -> None:
    """The server decodes %2F into a separator before routing: the gateway routes on the raw
    path's segments instead, so "a/b" (sent as a%2Fb) and "50%" (50%25) are user ids like any
    other, not another route (404) or a method not allowed (405)."""
    assert http.put("/users/a%2Fb", json={"name": "Slash"}).status_code == 200
    assert http.put("/users/50%25", json={}).status_code == 200
    assert [c.user.id for c in stack.publisher.published] == ["a/b", "50%"]  # type: ignore[union-attr]
    _check(http.get("/users/a%2Fb/metrics"), 404, "user 'a/b' not found")
    _check(http.get("/users/%2F"), 404, "user '/' not found")
    _check(http.get("/users/50%25/streak"), 404, "user '50%' not found")


DEEP = b"[" * 1000 + b"]" * 1000  # 2 kB: msgspec raises RecursionError on it
WRITES = [
    ("POST", EVENT),
    ("POST", "/metrics/events"),
    ("POST", "/achievements/published/complete"),
    ("POST", "/users"),
    ("PUT", "/users/u1"),
    ("PATCH", "/users/u1"),
    ("PATCH", "/users/u1/preferences"),
]


@pytest.mark.parametrize(("method", "path"), WRITES)
@pytest.mark.parametrize(
    "body", [DEEP, b'{"user":{"id":"u1"},"value":1,"attributes":' + DEEP + b"}"]
)
def test_deeply_nested_json_is_a_422_on_every_write(
    stack: Stack, http: TestClient, method: str, path: str, body: bytes
) -> None:
    stack.views.put(view("u1"))  # PATCH needs a known user
    _check(http.request(method, path, content=body), 422, "request body", "nested too deeply")
    assert stack.publisher.calls == 0


LONG = "x" * 256  # one over the 255 characters an id may have


def test_a_tenant_id_over_255_characters_is_a_422(stack: Stack, http: TestClient) -> None:
    resp = http.post(EVENT, json={"user": OK_USER, "value": 1}, headers={"Tenant-ID": LONG})
    _check(resp, 422, "Tenant-ID", "255", "256")
    _check(http.get("/users/u1", headers={"Tenant-ID": LONG}), 422, "Tenant-ID")
    assert stack.publisher.calls == 0
    ok = http.post(EVENT, json={"user": OK_USER, "value": 1}, headers={"Tenant-ID": "t" * 255})
    assert ok.status_code == 201, ok.text
    assert command_user_id(stack.publisher.published[0]) == "t" * 255 + "\0u1"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", f"/users/{LONG}"),
        ("PATCH", f"/users/{LONG}"),
        ("PATCH", f"/users/{LONG}/preferences"),
    ],
)
def test_a_write_to_a_user_id_over_255_characters_in_the_path_is_a_422(
    stack: Stack, http: TestClient, method: str, path: str
) -> None:
    body = {"notifications": {"recap": ["email"]}} if "preferences" in path else {}
    resp = http.request(method, path, json=body)
    _check(resp, 422, "user id in the path", "255", "256")
    assert LONG not in resp.text  # the message does not echo the id
    assert stack.publisher.calls == 0


@pytest.mark.parametrize(
    "path",
    [
        f"/users/{LONG}",
        f"/users/{LONG}/metrics",
        f"/users/{LONG}/streak",
        f"/users/{LONG}/points/xp",
        f"/users/{LONG}/wrapped",
        "/users/a%00b",
    ],
)
def test_a_read_of_a_user_id_no_user_can_have_is_a_404(http: TestClient, path: str) -> None:
    """Trophy's document has such an id valid: a 422 would be a valid request refused."""
    resp = http.get(path)
    _check(resp, 404, "user not found")
    assert LONG not in resp.text


def test_a_write_to_a_user_id_with_u0000_in_the_path_is_a_422(
    stack: Stack, http: TestClient
) -> None:
    _check(http.put("/users/a%00b", json={}), 422, "U+0000")
    assert stack.publisher.calls == 0


def test_ids_no_user_can_have_in_a_query_are_unknown_users(http: TestClient) -> None:
    resp = http.get("/streaks", params={"userIds": f"u1,{LONG},a\0b"})
    assert resp.status_code == 200, resp.text
    assert [entry["streakLength"] for entry in resp.json()] == [0, 0, 0]


def test_a_record_over_the_limit_is_a_413_for_its_request(stack: Stack, http: TestClient) -> None:
    async def too_large(commands: object) -> None:
        raise TooLarge("the event would be a record of 1,200,000 bytes, over the limit")

    stack.publisher.publish_many = too_large  # type: ignore[method-assign]
    _check(http.post(EVENT, json={"user": OK_USER, "value": 1}), 413, "1,200,000", "nothing")


def test_a_key_limited_to_tenants_acts_for_those_only(stack: Stack) -> None:
    """`PODIUM_API_KEY_TENANTS`: a customer's key limited to its tenant cannot read or write
    another tenant's users, nor the default tenant's; a key not listed acts for any."""
    other = "pk_other.secret-of-another-customer"
    keys = KeyRing([hash_key(API_KEY), hash_key(other)], {hash_key(API_KEY): ["acme", "acme-eu"]})
    app = build_app(stack.gateway(), keys)
    with TestClient(app, base_url=BASE_URL, headers={"X-API-KEY": API_KEY}) as http:
        body = {"user": OK_USER, "value": 1}
        assert http.post(EVENT, json=body, headers={"Tenant-ID": "acme"}).status_code == 201
        assert http.post(EVENT, json=body, headers={"Tenant-ID": "acme-eu"}).status_code == 201
        _check(
            http.post(EVENT, json=body, headers={"Tenant-ID": "beta"}),
            403,
            "may not act for tenant 'beta'",
        )
        _check(http.get("/users/u1", headers={"Tenant-ID": "beta"}), 403, "'beta'")
        _check(http.get("/users/u1"), 403, "the default tenant")
    assert stack.publisher.calls == 2
    with TestClient(app, base_url=BASE_URL, headers={"X-API-KEY": other}) as http:
        resp = http.post(EVENT, json={"user": OK_USER, "value": 1}, headers={"Tenant-ID": "beta"})
        assert resp.status_code == 201
