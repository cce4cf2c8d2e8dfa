"""A book-writing platform, end to end through Trophy's own Python SDK: two authors in two
time zones write words and finish chapters, cross achievement thresholds, keep a streak, retry
a request with the same Idempotency-Key, and complete an API achievement; then every read
endpoint answers with the values an independent model of the rules file expects.

The model below reads the rules TOML itself (tomllib, not `schemas.rules`) and computes which
thresholds each event crosses; the gateway's answers are checked against it.
"""

from __future__ import annotations

import tomllib
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from trophy.errors import NotFoundError
from trophy.types import (
    AchievementCompletionResponse,
    AchievementWithStatsResponse,
    BatchEventsResponse,
    EventResponse,
    MetricResponse,
    StreakResponse,
    User,
    UserAchievementWithStatsResponse,
)

from tests.integration.gateway.conftest import RULES, Podium, eventually

pytestmark = pytest.mark.integration

ADA: dict[str, Any] = {"id": "ada", "name": "Ada", "tz": "Europe/London"}
BEN: dict[str, Any] = {
    "id": "ben",
    "name": "Ben",
    "tz": "America/New_York",
    "attributes": {"plan": "pro"},
}


class Model:
    """Totals, completions and users, from the rules file read independently."""

    def __init__(self) -> None:
        doc = tomllib.loads(RULES.read_text())
        self.achievements: list[dict[str, Any]] = doc["achievements"]
        self.metric_names = {k: v["name"] for k, v in doc["metrics"].items()}
        self.totals: dict[tuple[str, str], Decimal] = {}
        self.done: dict[str, set[str]] = {}
        self.user_attrs: dict[str, dict[str, str]] = {}
        self.users: set[str] = set()

    def user(self, user: dict[str, Any]) -> None:
        self.users.add(user["id"])
        self.user_attrs.setdefault(user["id"], {}).update(user.get("attributes", {}))

    def event(
        self, user: dict[str, Any], metric: str, value: int, attrs: dict[str, str] | None = None
    ) -> tuple[Decimal, list[str]]:
        self.user(user)
        uid = user["id"]
        total = self.totals.get((uid, metric), Decimal(0)) + value
        self.totals[(uid, metric)] = total
        new = []
        for a in self.achievements:
            if (
                a["trigger"] != "metric"
                or a["metric"] != metric
                or a["key"] in self.done.get(uid, set())
            ):
                continue
            if total < a["value"]:
                continue
            if any(
                self.user_attrs[uid].get(k) != v for k, v in a.get("user_attributes", {}).items()
            ):
                continue
            if any((attrs or {}).get(k) != v for k, v in a.get("event_attributes", {}).items()):
                continue
            new.append(a["key"])
        self.done.setdefault(uid, set()).update(new)
        return total, new

    def rarity(self, key: str) -> tuple[int, float]:
        n = sum(1 for done in self.done.values() if key in done)
        return n, round(100.0 * n / len(self.users), 2)


def _stamped_day(trophy: Any, user: dict[str, Any]) -> str:
    """The scenario's day for `user`: the date, in the user's time zone, of the instant the
    gateway's clock stamped the user's first event (`created`), not the test's own clock,
    which may already be past midnight."""
    seen: list[datetime] = []

    def projected() -> None:
        try:
            seen[:] = [trophy.users.get(id=user["id"]).created]
        except NotFoundError as exc:  # until the projector has applied the first event
            raise AssertionError(f"user {user['id']!r} not projected yet") from exc

    eventually(projected)
    return seen[0].astimezone(ZoneInfo(user["tz"])).date().isoformat()


@pytest.fixture(scope="module")
def played(podium: Podium) -> dict[str, Any]:
    """Play the scenario once; the tests below check the answers and the reads."""
    trophy, model = podium.trophy(), Model()
    answers: dict[str, Any] = {}

    def words(
        name: str, user: dict[str, Any], n: int, key: str | None = None, replay: bool = False
    ) -> None:
        resp = trophy.metrics.event(key="words-written", user=user, value=n, idempotency_key=key)
        expected = (
            (model.totals.get((user["id"], "words-written"), Decimal(0)), [])
            if replay
            else model.event(user, "words-written", n)
        )
        answers[name] = (resp, expected)

    words("ada-1", ADA, 750, key="ada-session-1")
    words("ben-1", BEN, 4200)
    words("ada-retry", ADA, 750, key="ada-session-1", replay=True)
    words("ada-2", ADA, 19_250)
    words("ben-2", BEN, 6000)
    resp = trophy.metrics.event(
        key="chapters-finished", user=ADA, value=1, attributes={"genre": "poetry"}
    )
    answers["ada-chapter"] = (resp, model.event(ADA, "chapters-finished", 1, {"genre": "poetry"}))
    answers["published"] = trophy.achievements.complete(key="published", user=ADA)
    model.done["ada"].add("published")
    answers["model"] = model
    answers["day"] = {u["id"]: _stamped_day(trophy, u) for u in (ADA, BEN)}
    return answers


@pytest.mark.parametrize("name", ["ada-1", "ben-1", "ada-2", "ben-2", "ada-chapter"])
def test_each_event_answers_its_total_and_what_it_unlocked(
    played: dict[str, Any], name: str
) -> None:
    resp, (total, unlocked) = played[name]
    assert isinstance(resp, EventResponse)
    assert resp.total == float(total)
    assert [a.id for a in resp.achievements] == unlocked
    assert len(resp.event_id) == 32
    assert resp.metric_id in ("words-written", "chapters-finished")
    assert resp.idempotent_replayed is False
    assert resp.leaderboards == {}
    # the points the rules' systems gave (checked figure by figure in test_points_sdk.py)
    systems = {p["key"] for p in tomllib.loads(RULES.read_text()).get("points", [])}
    assert set(resp.points) <= systems
    for got in resp.points.values():
        assert got.added == sum(a.awarded or 0 for a in got.awards) != 0
    for ach in resp.achievements:
        assert ach.achieved_at is not None
        assert ach.trigger == "metric" and ach.metric_id == resp.metric_id


def test_first_event_of_the_day_starts_the_streak(played: dict[str, Any]) -> None:
    ada_first, _ = played["ada-1"]
    ben_first, _ = played["ben-1"]
    ada_later, _ = played["ada-2"]
    for resp, uid in ((ada_first, "ada"), (ben_first, "ben")):
        streak = resp.current_streak
        assert (streak.length, streak.extended, streak.frequency) == (1, True, "daily")
        day = played["day"][uid]
        assert streak.started == streak.period_start == streak.period_end == day
        assert streak.freezes == 1 and streak.max_freezes == 3  # rules: initial 1, max 3
    assert (ada_later.current_streak.length, ada_later.current_streak.extended) == (1, False)


def test_idempotent_retry_changes_nothing_and_says_so(
    podium: Podium, played: dict[str, Any]
) -> None:
    first, _ = played["ada-1"]
    retry, (total, _) = played["ada-retry"]
    assert retry.idempotent_replayed is True
    assert retry.idempotency_key == first.idempotency_key == "ada-session-1"
    assert retry.total == float(total) == 750
    assert retry.achievements == []
    assert retry.event_id != first.event_id
    with podium.http() as http:  # Trophy's status for a replay is 202
        again = http.post(
            "/metrics/words-written/event",
            json={"user": ADA, "value": 750},
            headers={"Idempotency-Key": "ada-session-1"},
        )
    assert again.status_code == 202 and again.json()["idempotentReplayed"] is True
    assert again.json()["total"] == 20_000  # the current state, not the first answer's


def test_api_achievement_completes(played: dict[str, Any]) -> None:
    done = played["published"]
    assert isinstance(done, AchievementCompletionResponse)
    assert done.achievement.id == done.achievement.key == "published"
    assert done.achievement.name == "Published" and done.achievement.trigger == "api"
    assert done.achievement.achieved_at is not None
    assert done.points == {}


def test_user_metrics(podium: Podium, played: dict[str, Any]) -> None:
    model: Model = played["model"]
    trophy = podium.trophy()

    def check() -> None:
        metrics = trophy.users.all_metrics(id="ada")
        assert all(isinstance(m, MetricResponse) for m in metrics)
        got = {m.key: m.current for m in metrics}
        assert got == {
            "words-written": float(model.totals[("ada", "words-written")]),
            "chapters-finished": float(model.totals[("ada", "chapters-finished")]),
        }

    eventually(check)
    ben = trophy.users.single_metric(id="ben", key="words-written")
    assert ben.current == float(model.totals[("ben", "words-written")]) == 10_200
    assert ben.name == model.metric_names["words-written"]
    achieved = {a.id: a.achieved_at is not None for a in ben.achievements}
    expected = {
        a["key"]: a["key"] in model.done["ben"]
        for a in model.achievements
        if a["trigger"] == "metric" and a["metric"] == "words-written"
    }
    assert achieved == expected


def test_user_achievements_complete_and_incomplete(podium: Podium, played: dict[str, Any]) -> None:
    model: Model = played["model"]
    trophy = podium.trophy()

    def check() -> None:
        done = trophy.users.achievements(id="ada")
        assert all(isinstance(a, UserAchievementWithStatsResponse) for a in done)
        assert {a.id for a in done} == model.done["ada"]
        assert all(a.achieved_at is not None for a in done)

    eventually(check)
    every = trophy.users.achievements(id="ada", include_incomplete=True)
    assert [a.id for a in every][: len(model.done["ada"])] != []
    assert {a.id for a in every} == {a["key"] for a in model.achievements}
    assert {a.id for a in every if a.achieved_at is None} == (
        {a["key"] for a in model.achievements} - model.done["ada"]
    )


def test_achievement_stats(podium: Podium, played: dict[str, Any]) -> None:
    model: Model = played["model"]
    trophy = podium.trophy()

    def check() -> None:
        stats = trophy.achievements.all_()
        assert all(isinstance(a, AchievementWithStatsResponse) for a in stats)
        got = {a.id: (a.completions, a.rarity) for a in stats}
        assert got == {a["key"]: model.rarity(a["key"]) for a in model.achievements}

    eventually(check)
    free = {a.id for a in trophy.achievements.all_(user_attributes="plan:free")}
    pro = {a.id for a in trophy.achievements.all_(user_attributes="plan:pro")}
    filtered = {a["key"] for a in model.achievements if a.get("user_attributes")}
    assert filtered == {"pro-wordsmith"}  # the rules file's only user-attribute filter
    assert pro == {a["key"] for a in model.achievements}
    assert free == pro - filtered


def test_streak_reads(podium: Podium, played: dict[str, Any]) -> None:
    trophy = podium.trophy()
    streak = trophy.users.streak(id="ada", history_periods=3)
    assert isinstance(streak, StreakResponse)
    day = played["day"]["ada"]
    assert streak.length == 1 and streak.started == day
    assert streak.extended is not None
    assert [(h.period_start, h.length) for h in streak.streak_history] == [(day, 1)]
    bulk = trophy.streaks.list(user_ids=["ada", "ben", "nobody"])
    assert [(s.user_id, s.streak_length) for s in bulk][2] == ("nobody", 0)
    assert {(s.user_id, s.streak_length) for s in bulk[:2]} == {("ada", 1), ("ben", 1)}


def test_users_create_identify_update_get(podium: Podium, played: dict[str, Any]) -> None:
    trophy = podium.trophy()
    created = trophy.users.create(
        id="carol", name="Carol", tz="Asia/Tokyo", attributes={"plan": "free"}
    )
    assert isinstance(created, User)
    assert (created.id, created.name, created.tz, created.attributes) == (
        "carol",
        "Carol",
        "Asia/Tokyo",
        {"plan": "free"},
    )
    put = trophy.users.identify(id="carol", email="carol@example.com")
    assert (put.email, put.name) == ("carol@example.com", "Carol")
    patched = trophy.users.update(id="carol", name="Caroline", attributes={"plan": "pro"})
    assert (patched.name, patched.email, patched.attributes) == (
        "Caroline",
        "carol@example.com",
        {"plan": "pro"},
    )
    with podium.http() as http:  # Trophy's success codes
        assert http.post("/users", json={"id": "dan", "name": "Dan"}).status_code == 201
        assert http.put("/users/dan", json={"tz": "UTC"}).status_code == 200
        patched = http.patch("/users/dan", json={"name": "Daniel"})
        assert (patched.status_code, patched.json()["name"]) == (200, "Daniel")
    got = trophy.users.get(id="carol")
    assert (got.name, got.email, got.tz, got.attributes) == (
        "Caroline",
        "carol@example.com",
        "Asia/Tokyo",
        {"plan": "pro"},
    )
    assert got.created <= got.updated


def test_batch_is_accepted_and_processed(podium: Podium) -> None:
    events = [{"key": "words-written", "user": {"id": "dave"}, "value": v} for v in (120, 80, 300)]
    events.append(
        {
            "key": "chapters-finished",
            "user": {"id": "dave"},
            "value": 2,
            "idempotencyKey": "dave-ch",
        }
    )
    with podium.http() as http:
        resp = http.post("/metrics/events", json={"events": events})
        assert resp.status_code == 202
        assert BatchEventsResponse.model_validate(resp.json()).accepted == 4
        again = http.post("/metrics/events", json={"events": events[3:]})  # replayed key
        assert again.status_code == 202
    trophy = podium.trophy()

    def check() -> None:
        got = {m.key: m.current for m in trophy.users.all_metrics(id="dave")}
        assert got == {"words-written": 500, "chapters-finished": 2}

    eventually(check)
