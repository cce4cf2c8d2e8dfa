"""The rest of the application API end to end through Trophy's own Python SDK, against the
real stack (broker, worker, projector, gateway): preferences, metric event summaries, an
anniversary achievement, `subscribeToEmails`'s default and declared attributes. Expected
values come from what the test sent and the rules file read with tomllib (not
`schemas.rules`): today's date in each user's zone, sums of the values sent, the sign-up date
plus the anniversary's years.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from trophy import NotificationPreferences
from trophy.errors import UnprocessableEntityError

from tests.integration.gateway.conftest import Podium, eventually, start_podium
from tests.rules import WRITING_PATH

pytestmark = pytest.mark.integration
DECLARED = '\n[attributes]\nuser = ["plan"]\nevent = ["genre"]\n'
RULES = tomllib.loads(WRITING_PATH.read_text() + DECLARED)
TYPES = ("achievement_completed", "recap", "reactivation", "streak_reminder")
CAT: dict[str, Any] = {"id": "cat", "tz": "Pacific/Auckland", "attributes": {"plan": "pro"}}
DAN: dict[str, Any] = {"id": "dan", "tz": "America/Los_Angeles"}
WORDS = {"cat": [120, 35, 400], "dan": [7]}


def today(user: dict[str, Any]) -> date:
    return datetime.now(ZoneInfo(user["tz"])).date()


def a_year_before(day: date) -> date:
    """The same day a year earlier (28 February for a 29th)."""
    return day.replace(year=day.year - 1, day=min(day.day, 28 if day.month == 2 else 31))


@pytest.fixture(scope="module")
def podium(
    kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Podium]:
    with ExitStack() as stack:
        home = tmp_path_factory.mktemp("podium-app-api")
        rules = Path(home / "rules.toml")
        rules.write_text(WRITING_PATH.read_text() + DECLARED)
        pod = start_podium(kafka_bootstrap, redis_url, home, rules=rules)
        stack.callback(pod.stop)
        yield pod
        pod.check_alive()


@pytest.fixture(scope="module")
def played(podium: Podium) -> dict[str, Any]:
    """Cat signed up exactly one year ago (her local date), Dan half a year ago; both write."""
    trophy, answers = podium.trophy(), dict[str, list[Any]]()
    for user, years_ago in ((CAT, 1), (DAN, 0)):
        day = today(user)
        signed_up = a_year_before(day) if years_ago else day - timedelta(days=180)
        user = {**user, "signUpDate": signed_up.isoformat()}
        for value in WORDS[user["id"]]:
            out = trophy.metrics.event(key="words-written", user=user, value=value)
            answers.setdefault(user["id"], []).append(out)
    return answers


def test_an_anniversary_completes_on_the_day_and_not_before(
    podium: Podium, played: dict[str, Any]
) -> None:
    [anniversary] = [a for a in RULES["achievements"] if a["trigger"] == "anniversary"]
    assert anniversary["anniversary_years"] == 1
    first = played["cat"][0]
    completed = {a.id: a for a in first.achievements}
    assert completed[anniversary["key"]].anniversary_years == 1
    assert completed[anniversary["key"]].trigger == "anniversary"
    later = {a.id for out in played["cat"][1:] for a in out.achievements}
    assert anniversary["key"] not in later  # once
    assert anniversary["key"] not in {a.id for out in played["dan"] for a in out.achievements}
    trophy = podium.trophy()

    def listed() -> None:
        done = {a.id: a for a in trophy.users.achievements(id="cat")}
        assert done[anniversary["key"]].anniversary_years == 1
        pending = {a.id: a for a in trophy.users.achievements(id="dan", include_incomplete="true")}
        assert pending[anniversary["key"]].achieved_at is None

    eventually(listed, within=20)


def test_subscribe_to_emails_defaults_to_true_and_sign_up_date_is_kept(
    podium: Podium, played: dict[str, Any]
) -> None:
    trophy = podium.trophy()

    def kept() -> None:
        cat = trophy.users.get("cat")
        assert cat.subscribe_to_emails is True  # never set
        day = today(CAT)
        assert str(cat.sign_up_date)[:10] == a_year_before(day).isoformat()

    eventually(kept, within=20)
    trophy.users.update("dan", subscribe_to_emails=False)
    eventually(lambda: _equal(trophy.users.get("dan").subscribe_to_emails, False), within=20)


def test_preferences_round_trip_with_trophys_models(podium: Podium, played: dict[str, Any]) -> None:
    trophy = podium.trophy()
    before = trophy.users.get_preferences("cat").notifications
    assert before is not None
    assert all(sorted(getattr(before, t)) == ["email", "push"] for t in TYPES)  # never asked
    wanted = NotificationPreferences(recap=["push"], streak_reminder=[])
    after = trophy.users.update_preferences("cat", notifications=wanted).notifications
    assert after is not None
    assert (after.recap, after.streak_reminder) == (["push"], [])
    assert sorted(after.achievement_completed or []) == ["email", "push"]  # not given: kept

    def read_back() -> None:
        got = trophy.users.get_preferences("cat").notifications
        assert got is not None and (got.recap, got.streak_reminder) == (["push"], [])

    eventually(read_back, within=20)


def test_the_event_summary_adds_up_the_values_sent(podium: Podium, played: dict[str, Any]) -> None:
    trophy, day = podium.trophy(), today(CAT)
    start = day - timedelta(days=2)

    def daily() -> None:
        rows = trophy.users.metric_event_summary(
            "cat",
            "words-written",
            aggregation="daily",
            start_date=start.isoformat(),
            end_date=day.isoformat(),
        )
        total = sum(WORDS["cat"])
        assert [(r.date, r.total, r.change) for r in rows] == [
            (start.isoformat(), 0, 0),
            ((start + timedelta(days=1)).isoformat(), 0, 0),
            (day.isoformat(), total, total),
        ]

    eventually(daily, within=20)
    month = trophy.users.metric_event_summary(
        "cat",
        "words-written",
        aggregation="monthly",
        start_date=day.replace(day=1).isoformat(),
        end_date=day.isoformat(),
    )
    assert [(r.date, r.total, r.change) for r in month] == [
        (day.replace(day=1).isoformat(), sum(WORDS["cat"]), sum(WORDS["cat"]))
    ]
    with pytest.raises(UnprocessableEntityError):
        trophy.users.metric_event_summary(
            "cat",
            "words-written",
            aggregation="daily",
            start_date=(day - timedelta(days=401)).isoformat(),
            end_date=day.isoformat(),
        )


def test_an_undeclared_attribute_is_refused_naming_it(
    podium: Podium, played: dict[str, Any]
) -> None:
    trophy = podium.trophy()
    with pytest.raises(UnprocessableEntityError) as err:
        trophy.users.identify("cat", attributes={"plan": "pro", "colour": "red"})
    assert "Invalid attribute keys: colour" in str(err.value.body)
    with pytest.raises(UnprocessableEntityError) as err:
        trophy.metrics.event(key="words-written", user=CAT, value=1, attributes={"mood": "x"})
    assert "Invalid attribute keys: mood" in str(err.value.body)
    ok = trophy.metrics.event(
        key="words-written", user=CAT, value=1, attributes={"genre": "poetry"}
    )
    assert ok.total == sum(WORDS["cat"]) + 1


def _equal(got: object, want: object) -> None:
    assert got == want
