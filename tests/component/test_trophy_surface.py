"""What Trophy's SDK and document see of the HTTP surface besides each route's own answers:
the admin base path, the `Allow` header of a shared path, the `Tenant-ID` header, and the
statuses Trophy lists (422 for a request Podium cannot process)."""

from __future__ import annotations

from starlette.testclient import TestClient
from trophy import TrophyApi
from trophy.environment import TrophyApiEnvironment

from schemas.commands import UserIdentified
from tests.component.fakes import API_KEY, Stack, view

ROOT = "http://podium.test"


def test_admin_paths_are_404_saying_rules_live_in_the_rules_file(http: TestClient) -> None:
    for method, path in (
        ("GET", "/admin/v1/metrics"),
        ("POST", "/admin/v1/achievements"),
        ("PATCH", "/admin/v1/streaks/freezes"),
        ("GET", "/admin/v1"),
    ):
        resp = http.request(method, ROOT + path)
        assert resp.status_code == 404, (method, path)
        message = resp.json()["error"]
        assert path in message and "rules file" in message, message


def test_the_sdks_admin_base_is_its_own_path(stack: Stack, http: TestClient) -> None:
    sdk = TrophyApi(
        api_key=API_KEY,
        environment=TrophyApiEnvironment(api=ROOT + "/v1", admin=ROOT + "/admin/v1"),
        httpx_client=http,
    )
    stack.views.put(view("u1"))
    assert sdk.users.get(id="u1").id == "u1"  # the application API answers under /v1
    raw = http.get(ROOT + "/admin/v1/points/xp/boosts")
    assert raw.status_code == 404 and "rules file" in raw.json()["error"]


def test_a_405_lists_every_method_of_the_path(http: TestClient) -> None:
    resp = http.request("DELETE", "/users/u1")
    assert resp.status_code == 405
    assert set(resp.headers["allow"].replace(" ", "").split(",")) >= {"GET", "PUT", "PATCH"}


def test_a_tenants_write_carries_the_tenants_user_and_its_answer_the_bare_id(
    stack: Stack, http: TestClient
) -> None:
    """The command on the log names the tenant's user (`schemas.tenants`); the answer, and
    every read, the id the tenant knows. Isolation of the reads: tests/integration/gateway/
    test_tenants_sdk.py (the fakes here ignore the keys)."""
    resp = http.put("/users/u1", json={"name": "Ann"}, headers={"Tenant-ID": "acme"})
    assert resp.status_code in (200, 201, 202), resp.text
    [cmd] = stack.publisher.published
    assert isinstance(cmd, UserIdentified) and cmd.user.id == "acme\x00u1"
    assert resp.json()["id"] == "u1"
    http.put("/users/u2", json={"name": "Bob"})
    assert stack.publisher.published[-1].user.id == "u2"  # type: ignore[union-attr]


def test_a_user_id_holding_u0000_is_refused_on_every_write(http: TestClient) -> None:
    for method, path, body in (
        ("PUT", "/users/acme%0018", {"name": "x"}),
        ("POST", "/users", {"id": "acme\x0018"}),
        ("POST", "/metrics/words-written/event", {"user": {"id": "acme\x0018"}, "value": 1}),
    ):
        resp = http.request(method, path, json=body)
        assert resp.status_code == 422, (path, resp.text)
        assert "U+0000" in resp.json()["error"]


def test_bad_query_values_are_422(stack: Stack, http: TestClient) -> None:
    stack.views.put(view("u1"))
    for path, params in (
        ("/users/u1/achievements", {"includeIncomplete": "AAA"}),
        ("/users/u1/achievements", {"includeIncomplete": ""}),
        ("/users/u1/streak", {"historyPeriods": "null"}),
        ("/users/u1/streak", {"historyPeriods": ""}),
        ("/achievements", {"userAttributes": "plan"}),
        ("/streaks", {"userIds": ""}),
    ):
        resp = http.get(path, params=params)
        assert resp.status_code == 422, (path, params, resp.text)
        assert next(iter(params)) in resp.json()["error"]
