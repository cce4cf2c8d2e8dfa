"""GET and PATCH /users/{id}/preferences, and `signUpDate`, through the real app over fakes:
what PATCH hands the publisher (a `UserIdentified` carrying only the notification channels
it sets), how it answers projected or not, and that answers parse into the Trophy SDK's
`UserPreferencesResponse` and `User`. Expected values are written out by hand."""

from __future__ import annotations

from starlette.testclient import TestClient
from trophy.types import User as SdkUser
from trophy.types import UserPreferencesResponse

from schemas.commands import UserIdentified
from schemas.records import Progress
from tests.component.fakes import NOW_MS, Stack, view

BOTH = ["email", "push"]


def user_progress(event_id: str) -> Progress:
    return Progress(
        id=f"u7:progress:{event_id}",
        event_id=event_id,
        user_id="u7",
        command="user",
        time_ms=NOW_MS,
    )


def test_a_user_never_asked_gets_every_channel_of_every_type(
    stack: Stack, http: TestClient
) -> None:
    stack.views.put(view("u7"))
    resp = http.get("/users/u7/preferences")
    assert resp.status_code == 200, resp.text
    assert resp.json() == {
        "notifications": {
            "achievement_completed": BOTH,
            "recap": BOTH,
            "reactivation": BOTH,
            "streak_reminder": BOTH,
        }
    }
    UserPreferencesResponse.model_validate(resp.json())


def test_patch_writes_only_the_types_it_gives_and_answers_the_projected_view(
    stack: Stack, http: TestClient
) -> None:
    stack.views.put(view("u7", notifications={"recap": ["push"]}))
    stack.waiter.hand(user_progress("ev-1"))
    projected = {"recap": ["push"], "streak_reminder": []}
    stack.views.docs["u7"] = view("u7", notifications=projected, recent=["ev-1"])
    resp = http.patch("/users/u7/preferences", json={"notifications": {"streak_reminder": []}})
    assert resp.status_code == 200, resp.text
    [cmd] = stack.publisher.published
    assert isinstance(cmd, UserIdentified)
    assert (cmd.user.id, cmd.user.notifications) == ("u7", {"streak_reminder": ()})
    assert (cmd.user.name, cmd.user.attributes, cmd.user.email) == (None, None, None)
    got = UserPreferencesResponse.model_validate(resp.json()).notifications
    assert (got.recap, got.streak_reminder, got.achievement_completed) == (["push"], [], BOTH)


def test_patch_before_the_projector_lays_the_change_over_the_stored_view(
    stack: Stack, http: TestClient
) -> None:
    stack.views.put(view("u7", notifications={"recap": ["push"]}))
    resp = http.patch(
        "/users/u7/preferences",
        json={"notifications": {"achievement_completed": ["email", "email"]}},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["notifications"] == {
        "achievement_completed": ["email"],  # a repeated channel is kept once
        "recap": ["push"],
        "reactivation": BOTH,
        "streak_reminder": BOTH,
    }


def test_preferences_of_an_unknown_user_are_404_and_nothing_is_written(
    stack: Stack, http: TestClient
) -> None:
    assert http.get("/users/nobody/preferences").status_code == 404
    resp = http.patch("/users/nobody/preferences", json={"notifications": {"recap": []}})
    assert resp.status_code == 404 and "nobody" in resp.json()["error"]
    assert stack.publisher.published == []


def test_bad_preferences_are_422_naming_the_field(stack: Stack, http: TestClient) -> None:
    stack.views.put(view("u7"))
    for body, words in (
        ({"notifications": {"recap": ["sms"]}}, "notifications.recap"),
        ({"notifications": {"digest": ["email"]}}, "digest"),
        ({"notifications": {"recap": "email"}}, "notifications.recap"),
        ({"colour": "red"}, "colour"),
    ):
        resp = http.patch("/users/u7/preferences", json=body)
        assert resp.status_code == 422, (body, resp.text)
        assert words in resp.json()["error"], (body, resp.text)
    assert stack.publisher.published == []


def test_per_user_streak_preferences_are_403_as_without_streak_customisation(
    stack: Stack, http: TestClient
) -> None:
    stack.views.put(view("u7"))
    streaks: list[dict[str, object]] = [
        {"enabled": False},
        {"evaluationMode": "AND"},
        {"metrics": []},
    ]
    for streak in streaks:
        resp = http.patch("/users/u7/preferences", json={"streak": streak})
        assert resp.status_code == 403, resp.text
        assert "rules file" in resp.json()["error"]
    resp = http.patch("/users/u7/preferences", json={"streak": {"enabled": True}})
    assert resp.status_code == 200 and stack.publisher.published == []  # nothing to change


def test_sign_up_date_is_written_as_a_calendar_day(stack: Stack, http: TestClient) -> None:
    for given, kept in (
        ("2024-04-02", "2024-04-02"),
        ("2024-04-02T23:30:00-02:00", "2024-04-03"),  # its UTC day
        ("2024-04-02T10:00:00Z", "2024-04-02"),
    ):
        stack.publisher.published.clear()
        resp = http.put("/users/u7", json={"signUpDate": given})
        assert resp.status_code == 200, resp.text
        [cmd] = stack.publisher.published
        assert isinstance(cmd, UserIdentified) and cmd.user.sign_up_date == kept, given
        assert SdkUser.model_validate(resp.json()).sign_up_date == kept
    for bad in ("02/04/2024", "2024-13-01", "2024-04-02T10:00:00"):
        resp = http.put("/users/u7", json={"signUpDate": bad})
        assert resp.status_code == 422 and "signUpDate" in resp.json()["error"], bad
