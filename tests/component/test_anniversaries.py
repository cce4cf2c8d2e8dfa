"""Anniversary achievements on the HTTP surface, read through Trophy's own SDK client (its
models parse every answer): `anniversaryYears` on the achievement lists and on the event
answer that completed one.

Expected figures are written out by hand from `tests/rules/writing.toml` ("first-anniversary":
one year after sign-up) and the view documents below."""

from __future__ import annotations

from decimal import Decimal

from starlette.testclient import TestClient
from trophy import TrophyApi
from trophy.environment import TrophyApiEnvironment

from processors.core.fold import evolve
from schemas.commands import MetricTracked, User
from schemas.records import Progress
from schemas.rules import Rules
from tests.component.fakes import API_KEY, BASE_URL, NOW_MS, Stack, view

NOW_ISO = "2025-12-01T00:00:00.000Z"  # NOW_MS, the fake gateway's clock


def sdk(http: TestClient) -> TrophyApi:
    root = BASE_URL.removesuffix("/v1")
    return TrophyApi(
        api_key=API_KEY,
        environment=TrophyApiEnvironment(api=BASE_URL, admin=root + "/admin/v1"),
        httpx_client=http,
    )


def test_the_achievement_list_carries_anniversary_years(stack: Stack, http: TestClient) -> None:
    stack.views.put(
        view("dee", signUpDate="2024-12-01", achievements={"first-anniversary": NOW_MS})
    )
    stack.views.put(view("eve"))
    every = {a.id: a for a in sdk(http).achievements.all_()}
    cake = every["first-anniversary"]
    assert (cake.trigger, cake.anniversary_years, cake.name) == (
        "anniversary",
        1,
        "A year of writing",
    )
    assert (cake.completions, cake.rarity) == (1, 50.0)  # one of two users
    assert (cake.streak_length, cake.metric_id, cake.achievement_ids) == (None, None, None)
    assert {k for k, a in every.items() if a.anniversary_years is not None} == {"first-anniversary"}


def test_a_users_achievements_carry_anniversary_years(stack: Stack, http: TestClient) -> None:
    stack.views.put(
        view("dee", signUpDate="2024-12-01", achievements={"first-anniversary": NOW_MS})
    )
    stack.views.put(view("eve"))
    client = sdk(http)
    (done,) = client.users.achievements(id="dee")
    assert (done.id, done.trigger, done.anniversary_years) == (
        "first-anniversary",
        "anniversary",
        1,
    )
    assert done.achieved_at is not None and done.achieved_at.year == 2025
    pending = {a.id: a for a in client.users.achievements(id="eve", include_incomplete="true")}
    assert pending["first-anniversary"].anniversary_years == 1
    assert pending["first-anniversary"].achieved_at is None


def test_an_event_on_the_first_anniversary_answers_it(
    stack: Stack, http: TestClient, rules: Rules
) -> None:
    """Signed up on 1 December 2024, the user's event on 1 December 2025 (UTC, no zone)
    completes "first-words" (1 word) and "first-anniversary"."""
    folded = MetricTracked(
        event_id="ev-1",
        time_ms=NOW_MS,
        user=User(id="u1", sign_up_date="2024-12-01"),
        metric="words-written",
        value=Decimal(5),
    )
    _, records = evolve(None, folded, rules)
    assert isinstance(records[0], Progress)
    stack.waiter.hand(records[0])
    out = sdk(http).metrics.event(
        key="words-written", user={"id": "u1", "signUpDate": "2024-12-01"}, value=5
    )
    [sent] = stack.publisher.published
    assert isinstance(sent, MetricTracked) and sent.user.sign_up_date == "2024-12-01"
    assert evolve(None, sent, rules)[1][0] == records[0]  # what was sent folds to the answer
    assert [(a.id, a.trigger, a.anniversary_years) for a in out.achievements] == [
        ("first-words", "metric", None),
        ("first-anniversary", "anniversary", 1),
    ]
