"""The gateway's write routes through the real app (`build_app`) over fakes: what each route
hands the publisher, how it answers when the Progress comes, comes late or the broker fails,
and that every answer parses into the Trophy SDK's own models.

Expected answers are written out by hand from the rules file and the Progress handed in."""

from __future__ import annotations

from decimal import Decimal

from starlette.testclient import TestClient
from trophy.types import EventResponse
from trophy.types import User as SdkUser

from schemas.commands import AchievementAwarded, MetricTracked, UserIdentified
from schemas.records import AchievementCompleted, Progress, StreakSnapshot
from schemas.rules import Rules
from tests.component.fakes import EARLIER_MS, NOW_MS, Stack, view

EVENT = "/metrics/words-written/event"
NOW_ISO = "2025-12-01T00:00:00.000Z"  # NOW_MS
STREAK = StreakSnapshot(
    length=1,
    frequency="daily",
    started="2025-12-01",
    period_start="2025-12-01",
    period_end="2025-12-01",
    expires="2025-12-02",
    extended=True,
    longest=1,
    freezes=1,
    max_freezes=3,
    freeze_auto_earn_interval=7,
    freeze_auto_earn_amount=1,
)


def first_words(user: str, event_id: str) -> AchievementCompleted:
    return AchievementCompleted(
        id=f"{user}:first-words",
        user_id=user,
        achievement="first-words",
        achieved_at_ms=NOW_MS,
        trigger="metric",
        event_id=event_id,
        metric="words-written",
        metric_value=Decimal(1),
    )


def progress(event_id: str, **fields: object) -> Progress:
    base: dict[str, object] = {
        "id": f"u1:progress:{event_id}",
        "event_id": event_id,
        "user_id": "u1",
        "command": "metric",
        "time_ms": NOW_MS,
        "metric": "words-written",
    }
    return Progress(**{**base, **fields})  # type: ignore[arg-type]


# --- POST /metrics/{key}/event --------------------------------------------------------------


def assert_tracked_as_sent(cmd: object) -> None:
    """The published command carries the request's event: id, time, metric, value, user,
    attributes and idempotency key."""
    assert isinstance(cmd, MetricTracked)
    assert (cmd.event_id, cmd.time_ms, cmd.metric, cmd.value) == (
        "ev-1",
        NOW_MS,
        "words-written",
        Decimal("750.5"),
    )
    assert (cmd.user.id, cmd.user.tz, dict(cmd.attributes), cmd.idempotency_key) == (
        "u1",
        "Europe/London",
        {"genre": "poetry"},
        "k1",
    )


def test_an_event_is_published_and_answered_with_its_progress(
    stack: Stack, http: TestClient
) -> None:
    stack.waiter.hand(
        progress(
            "ev-1",
            total=Decimal("750.5"),
            idempotency_key="k1",
            achievements=(first_words("u1", "ev-1"),),
            streak=STREAK,
        )
    )
    body = {
        "user": {"id": "u1", "tz": "Europe/London"},
        "value": 750.5,
        "attributes": {"genre": "poetry"},
    }
    resp = http.post(EVENT, json=body, headers={"Idempotency-Key": "k1"})

    assert resp.status_code == 201, resp.text
    [cmd] = stack.publisher.published
    assert_tracked_as_sent(cmd)
    assert stack.waiter.expected == stack.waiter.forgotten == ["ev-1"]  # released once answered
    out = EventResponse.model_validate(resp.json())
    assert (out.event_id, out.metric_id, out.total) == ("ev-1", "words-written", 750.5)
    assert [(a.id, a.name, a.metric_value) for a in out.achievements] == [
        ("first-words", "First words", 1)
    ]
    assert resp.json()["achievements"][0]["achievedAt"] == NOW_ISO
    streak = out.current_streak
    assert streak is not None
    assert (streak.length, streak.extended, streak.started, streak.expires) == (
        1,
        True,
        "2025-12-01",
        "2025-12-02",
    )
    assert (streak.freezes, streak.max_freezes) == (1, 3)
    assert (out.idempotency_key, out.idempotent_replayed) == ("k1", False)


def test_null_event_attributes_are_no_attributes(stack: Stack, http: TestClient) -> None:
    """Trophy's SDK sends `"attributes": null` for `attributes=None`: the event is tracked
    with no attributes; a user's null attributes are still refused (Trophy has no null)."""
    stack.waiter.hand(progress("ev-1"))
    body = {"user": {"id": "u1"}, "value": 3, "attributes": None}
    resp = http.post(EVENT, json=body)
    assert resp.status_code == 201, resp.text
    [cmd] = stack.publisher.published
    assert isinstance(cmd, MetricTracked) and dict(cmd.attributes) == {}
    refused = http.post(EVENT, json={"user": {"id": "u1", "attributes": None}, "value": 3})
    assert refused.status_code == 422 and "attributes" in refused.json()["error"]
    assert len(stack.publisher.published) == 1


def test_a_replayed_event_answers_202_and_says_so(stack: Stack, http: TestClient) -> None:
    stack.waiter.hand(progress("ev-1", total=Decimal(5), replayed=True, idempotency_key="k1"))
    resp = http.post(
        EVENT, json={"user": {"id": "u1"}, "value": 5}, headers={"Idempotency-Key": "k1"}
    )
    assert resp.status_code == 202, resp.text
    out = resp.json()
    assert (out["total"], out["idempotentReplayed"], out["achievements"]) == (5, True, [])
    assert "pending" not in out


def test_an_event_whose_progress_does_not_come_is_pending(stack: Stack, http: TestClient) -> None:
    """Trophy's 201 (the only success its document lists), marked `pending: true`."""
    resp = http.post(EVENT, json={"user": {"id": "u1"}, "value": 3})
    assert resp.status_code == 201, resp.text
    assert "idempotencyKey" not in resp.json()  # Trophy's string: absent, never null
    out = resp.json()
    assert (out["eventId"], out["pending"], out["total"], out["metricId"]) == (
        "ev-1",
        True,
        0,
        "words-written",
    )
    EventResponse.model_validate(out)
    assert [c.event_id for c in stack.publisher.published] == ["ev-1"]  # it was written
    assert stack.waiter.forgotten == ["ev-1"]  # and the wait given up


def test_a_gateway_that_does_not_wait_never_expects(rules: Rules) -> None:
    stack = Stack(rules, wait_s=0)
    with stack.client() as http:
        resp = http.post(EVENT, json={"user": {"id": "u1"}, "value": 3})
    assert resp.status_code == 201 and resp.json()["pending"] is True
    assert stack.waiter.expected == [] and len(stack.publisher.published) == 1


def test_an_unreachable_broker_is_503_and_nothing_is_promised(
    stack: Stack, http: TestClient
) -> None:
    stack.publisher.fail = True
    resp = http.post(EVENT, json={"user": {"id": "u1"}, "value": 3})
    assert resp.status_code == 503
    assert resp.headers["Retry-After"] == "1"
    message = resp.json()["error"]
    assert "not reachable" in message and "not recorded" in message and "retry" in message
    assert stack.publisher.published == []
    assert stack.waiter.forgotten == ["ev-1"]


def test_a_broker_that_does_not_acknowledge_is_503(stack: Stack, http: TestClient) -> None:
    stack.publisher.time_out = True
    resp = http.post(EVENT, json={"user": {"id": "u1"}, "value": 3})
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "1"
    assert "did not acknowledge" in resp.json()["error"]
    assert stack.publisher.published == [] and stack.waiter.forgotten == ["ev-1"]


# --- POST /metrics/events -------------------------------------------------------------------


def test_a_batch_is_published_in_order_without_waiting(stack: Stack, http: TestClient) -> None:
    events = [
        {"key": "words-written", "user": {"id": "a"}, "value": 1},
        {"key": "chapters-finished", "user": {"id": "b"}, "value": 2, "idempotencyKey": "x"},
        {"key": "words-written", "user": {"id": "a"}, "value": 0.5},
    ]
    resp = http.post("/metrics/events", json={"events": events})
    assert resp.status_code == 202 and resp.json() == {"accepted": 3}
    got = [
        (c.event_id, c.time_ms, c.user.id, c.metric, c.value, c.idempotency_key)
        for c in stack.publisher.published
        if isinstance(c, MetricTracked)
    ]
    assert got == [
        ("ev-1", NOW_MS, "a", "words-written", Decimal(1), None),
        ("ev-2", NOW_MS, "b", "chapters-finished", Decimal(2), "x"),
        ("ev-3", NOW_MS, "a", "words-written", Decimal("0.5"), None),
    ]
    assert stack.publisher.calls == 1 and stack.waiter.expected == []


def test_a_batch_the_broker_refuses_is_503(stack: Stack, http: TestClient) -> None:
    stack.publisher.fail = True
    events = [{"key": "words-written", "user": {"id": "a"}, "value": 1}]
    resp = http.post("/metrics/events", json={"events": events})
    assert resp.status_code == 503 and "not recorded" in resp.json()["error"]


# --- POST /achievements/{key}/complete ------------------------------------------------------


def test_completing_an_api_achievement(stack: Stack, http: TestClient) -> None:
    done = AchievementCompleted(
        id="u1:published",
        user_id="u1",
        achievement="published",
        achieved_at_ms=NOW_MS,
        trigger="api",
        event_id="ev-1",
    )
    stack.waiter.hand(progress("ev-1", command="achievement", metric=None, achievements=(done,)))
    resp = http.post("/achievements/published/complete", json={"user": {"id": "u1"}})
    assert resp.status_code == 201, resp.text
    [cmd] = stack.publisher.published
    assert isinstance(cmd, AchievementAwarded)
    assert (cmd.event_id, cmd.user.id, cmd.achievement) == ("ev-1", "u1", "published")
    assert resp.json() == {
        "completionId": "ev-1",
        "achievement": {
            "id": "published",
            "key": "published",
            "name": "Published",
            "trigger": "api",
            "description": "Published a book",
            "badgeUrl": None,
            "userAttributes": [],
            "achievedAt": NOW_ISO,
        },
        "points": {},
        "leaderboards": {},  # none moved (the rules have no boards)
    }


def test_completing_again_answers_200_with_the_first_completion(
    stack: Stack, http: TestClient
) -> None:
    stack.views.put(view("u1", achievements={"published": EARLIER_MS}))
    stack.waiter.hand(progress("ev-1", command="achievement", metric=None))  # nothing new
    resp = http.post("/achievements/published/complete", json={"user": {"id": "u1"}})
    assert resp.status_code == 201, resp.text  # Trophy lists no other success
    assert resp.json()["achievement"]["achievedAt"] == "2025-11-29T23:59:59.999Z"


def test_a_completion_not_yet_processed_is_201(stack: Stack, http: TestClient) -> None:
    resp = http.post("/achievements/published/complete", json={"user": {"id": "u1"}})
    assert resp.status_code == 201, resp.text
    assert resp.json()["achievement"]["achievedAt"] == NOW_ISO  # its own time, for now


# --- POST /users, PUT and PATCH /users/{id} -------------------------------------------------


def test_identify_answers_the_projected_user(stack: Stack, http: TestClient) -> None:
    stack.waiter.hand(progress("ev-1", command="user", metric=None))
    stack.views.put(
        view("u7", name="Ann", email="ann@example.com", updatedMs=NOW_MS, recent=["ev-1"])
    )
    resp = http.post("/users", json={"id": "u7", "name": "Ann", "email": "ann@example.com"})
    assert resp.status_code == 201, resp.text
    [cmd] = stack.publisher.published
    assert isinstance(cmd, UserIdentified)
    assert (cmd.user.id, cmd.user.name, cmd.user.email) == ("u7", "Ann", "ann@example.com")
    user = SdkUser.model_validate(resp.json())
    assert (user.id, user.name, user.email) == ("u7", "Ann", "ann@example.com")
    assert resp.json()["created"] == "2025-11-29T23:59:59.999Z"
    assert resp.json()["updated"] == NOW_ISO


def test_identify_before_the_projector_merges_into_the_known_view(
    stack: Stack, http: TestClient
) -> None:
    """No Progress: Trophy's 200 with the stored view and the request's fields laid over it."""
    stack.views.put(view("u7", name="Ann", attributes={"plan": "free", "team": "a"}))
    resp = http.put("/users/u7", json={"tz": "Asia/Tokyo", "attributes": {"plan": "pro"}})
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert (out["id"], out["name"], out["tz"]) == ("u7", "Ann", "Asia/Tokyo")
    assert out["attributes"] == {"plan": "pro", "team": "a"}
    assert (out["created"], out["updated"]) == ("2025-11-29T23:59:59.999Z", NOW_ISO)


def test_patch_of_a_known_user_is_200_once_projected(stack: Stack, http: TestClient) -> None:
    stack.views.put(view("u7", name="Old"))
    stack.waiter.hand(progress("ev-1", command="user", metric=None))
    stack.views.docs["u7"] = view("u7", name="New", recent=["ev-0", "ev-1"])  # as projected
    resp = http.patch("/users/u7", json={"name": "New"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["name"] == "New"
