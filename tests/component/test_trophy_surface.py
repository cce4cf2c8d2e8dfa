"""What Trophy's SDK and document see of the HTTP surface besides each route's own answers:
the admin base path, the `Allow` header of a shared path, the `Tenant-ID` header, and the
statuses Trophy lists (422 for a request Podium cannot process)."""

from __future__ import annotations

from starlette.testclient import TestClient
from trophy import TrophyApi
from trophy.environment import TrophyApiEnvironment

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


def test_the_tenant_id_header_is_accepted_and_changes_nothing(
    stack: Stack, http: TestClient
) -> None:
    stack.views.put(view("u1", name="Ann"))
    plain = http.get("/users/u1")
    tenant = http.get("/users/u1", headers={"Tenant-ID": "acme"})
    assert tenant.status_code == plain.status_code == 200
    assert tenant.json() == plain.json()


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
