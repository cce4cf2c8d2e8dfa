"""Wrapped end to end through Trophy's own Python SDK: two authors in different zones write
words and finish a chapter; `users.wrapped` for the current year equals what the test works
out from the events sent and the rules file (read with tomllib, not `schemas.rules`): every
event falls on today in the author's zone, so today is the most active day, its week (from
the rules' `week_start`) and its month the most active ones, and the percentiles compare the
two authors' totals. Then the yearly sorted sets are deleted and `podium views rebuild`
restores the same answer.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
from trophy.errors import NotFoundError, UnprocessableEntityError

from tests.integration.gateway.conftest import Podium, eventually, start_podium
from tests.rules import WRITING_PATH

pytestmark = pytest.mark.integration

ANN: dict[str, Any] = {"id": "ann", "tz": "Europe/London"}
BOB: dict[str, Any] = {"id": "bob", "tz": "Asia/Tokyo"}
SENT = {  # user -> (metric, value) in order
    "ann": [("words-written", 250), ("words-written", 30), ("chapters-finished", 1)],
    "bob": [("words-written", 1000)],
}
RULES = tomllib.loads(WRITING_PATH.read_text())
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
ROUNDING = {"down": ROUND_DOWN, "up": ROUND_UP, "nearest": ROUND_HALF_UP}


def boosted(system: dict[str, Any], points: int) -> int:
    """A firing's points with the system's boosts active now (none filter on attributes)."""
    now = datetime.now(UTC)
    for b in system.get("boosts", []):
        if b["start"] <= now < b.get("end", now + timedelta(1)):
            product = Decimal(points) * Decimal(str(b["multiplier"]))
            points = int(product.to_integral_value(ROUNDING[b.get("rounding", "down")]))
    return points


def points_of(uid: str, key: str) -> int:
    """A user's total in a points system after the events sent: once at creation, once per
    whole threshold of a metric passed, clamped to [0, max_points]."""
    system = next(s for s in RULES["points"] if s["key"] == key)
    total, units = 0, dict[str, int]()
    for t in system["triggers"]:
        if t["type"] == "user_creation":
            total += boosted(system, t["points"])
    for metric, value in SENT[uid]:
        for t in system["triggers"]:
            if t["type"] == "metric" and t["metric"] == metric:
                before = units.get(t["key"], 0)
                units[t["key"]] = before + value
                fired = (before + value) // t["threshold"] - before // t["threshold"]
                total = max(0, total + fired * boosted(system, t["points"]))
                total = min(total, system.get("max_points", total))
    return total


def sums(uid: str) -> dict[str, int]:
    out = {m: 0 for m in RULES["metrics"]}
    for metric, value in SENT[uid]:
        out[metric] += value
    return out


def percentile(mine: int, everyone: list[int]) -> float:
    return round(100.0 * sum(1 for v in everyone if v <= mine) / len(everyone), 2)


@pytest.fixture(scope="module")
def podium(
    kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Podium]:
    with ExitStack() as stack:
        home = tmp_path_factory.mktemp("podium-wrapped")
        pod = start_podium(kafka_bootstrap, redis_url, home, rules=WRITING_PATH)
        stack.callback(pod.stop)
        yield pod
        pod.check_alive()


@pytest.fixture(scope="module")
def played(podium: Podium) -> None:
    trophy = podium.trophy()
    for user in (ANN, BOB):
        for metric, value in SENT[user["id"]]:
            trophy.metrics.event(key=metric, user=user, value=value)

    def projected() -> None:
        for user in (ANN, BOB):
            got = {m.key: m.current for m in trophy.users.all_metrics(id=user["id"])}
            assert got == sums(user["id"]), got

    eventually(projected, within=20)


def expected_year(user: dict[str, Any]) -> dict[str, Any]:
    """The entire year's metrics and points, and the activity, worked out from SENT."""
    uid, others = user["id"], [u["id"] for u in (ANN, BOB)]
    metrics = {}
    for key, metric in RULES["metrics"].items():
        mine = sums(uid)[key]
        scored = [sums(o)[key] for o in others if any(m == key for m, _ in SENT[o])]
        entry = {"name": metric["name"], "units": metric["unit"], "currentTotal": mine}
        entry |= {"changeThisPeriod": mine, "percentChange": 100 if mine else 0}
        if mine or any(m == key for m, _ in SENT[uid]):
            entry["percentileThisPeriod"] = percentile(mine, scored)
        metrics[key] = entry | {"byAttribute": {}}
    points = {}
    for system in RULES["points"]:
        mine, all_ = points_of(uid, system["key"]), [points_of(o, system["key"]) for o in others]
        entry = {"name": system["name"], "description": system.get("description")}
        entry |= {"currentTotal": mine, "changeThisPeriod": mine}
        entry |= {
            "percentChange": 100 if mine else 0,
            "percentileThisPeriod": percentile(mine, all_),
        }
        points[system["key"]] = entry
    return {"metrics": metrics, "points": points}


def test_wrapped_equals_the_events_sent(podium: Podium, played: None) -> None:
    trophy = podium.trophy()
    for user in (ANN, BOB):
        today = datetime.now(ZoneInfo(user["tz"])).date()
        body = trophy.users.wrapped(user["id"], year=today.year)
        act = body.dict(by_alias=True)["activity"]
        assert (act["daysActive"], act["weeksActive"], act["monthsActive"]) == (1, 1, 1)
        assert act["mostActiveDay"]["date"] == today.isoformat()
        monday = today - timedelta((today.weekday() - WEEKDAYS.index(RULES["week_start"])) % 7)
        week = act["mostActiveWeek"]
        assert (week["start"], week["end"]) == (monday.isoformat(), str(monday + timedelta(6)))
        assert act["mostActiveMonth"]["month"] == today.month - 1
        year, want = act["entireYear"], expected_year(user)
        assert year["metrics"] == want["metrics"], user
        assert year["points"] == want["points"], user
        assert year["longestStreak"] == {
            "length": 1,  # each wrote over the streak's 100 words today
            "frequency": RULES["streak"]["frequency"],
            "periodStart": today.isoformat(),
            "periodEnd": today.isoformat(),
            "started": today.isoformat(),
        }
        done = {a["id"] for a in year["achievements"]}
        assert done == ({"first-words", "first-chapter"} if user is ANN else {"first-words"})
        for period in ("mostActiveDay", "mostActiveWeek", "mostActiveMonth"):
            assert all("percentileThisPeriod" not in m for m in act[period]["metrics"].values())


def test_bad_year_and_unknown_user(podium: Podium, played: None) -> None:
    trophy = podium.trophy()
    with pytest.raises(UnprocessableEntityError) as err:
        trophy.users.wrapped("ann", year=datetime.now(UTC).year + 2)
    assert "year" in str(err.value.body)
    with pytest.raises(NotFoundError):
        trophy.users.wrapped("nobody", year=2020)


def test_rebuild_restores_the_percentiles(podium: Podium, played: None) -> None:
    trophy = podium.trophy()
    before = trophy.users.wrapped("ann").dict(by_alias=True)
    client = redis.Redis.from_url(podium.redis_url)
    prefix = podium.env["PODIUM_VIEWS_PREFIX"]
    client.delete(*client.keys(f"{prefix}year:*"))
    after_loss = trophy.users.wrapped("ann").dict(by_alias=True)["activity"]["entireYear"]
    assert all("percentileThisPeriod" not in m for m in after_loss["metrics"].values())
    podium.rebuild_views()
    eventually(lambda: _same(trophy.users.wrapped("ann").dict(by_alias=True), before))


def _same(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert got == want
