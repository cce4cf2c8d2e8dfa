"""Points end to end through Trophy's own Python SDK: two authors (one on the Pro plan, whose
awards a boost doubles) write words, finish chapters and complete an API achievement; every
event's answer, and then every points endpoint, read with the SDK's models, equal what an
independent model of the rules file computes from the events sent.

The model reads `tests/rules/points.toml` itself (tomllib, not `schemas.rules`): per user and
system it counts each metric trigger's units and firings, fires the once-only triggers, doubles
what the boosts in force at `AT` multiply, and derives the level, the histogram and the level
summary from the totals.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
from trophy.errors import NotFoundError, UnprocessableEntityError
from trophy.types import AchievementCompletionResponse, EventResponse

from schemas.views import Keys
from tests.integration.gateway.conftest import Podium, eventually, start_podium
from tests.rules import POINTS_PATH

pytestmark = pytest.mark.integration

ANN: dict[str, Any] = {"id": "ann", "tz": "Europe/London", "attributes": {"plan": "pro"}}
BOB: dict[str, Any] = {"id": "bob", "tz": "America/New_York"}
ROUNDING = {"down": ROUND_DOWN, "up": ROUND_UP, "nearest": ROUND_HALF_UP}
# The instant the model decides boosts at. The gateway stamps each event with its receive time
# (ingest.stamp.now_ms; Trophy's event has no time field) and decides boosts by it, so the test
# cannot choose the events' instant. points.toml puts every boost boundary in 2020 or 2999:
# the same boosts are in force at any instant between, and test_boosts checks that the
# gateway's own stamps fall in the same interval as this fixed one.
AT = datetime(2026, 1, 1, tzinfo=UTC)


def _instant(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


class Model:
    """Points per user and system, from the rules file and the commands sent."""

    def __init__(self) -> None:
        doc = tomllib.loads(POINTS_PATH.read_text())
        self.systems: dict[str, dict[str, Any]] = {s["key"]: s for s in doc["points"]}
        self.achievements: list[dict[str, Any]] = doc["achievements"]
        self.metric_totals: dict[tuple[str, str], Decimal] = {}
        self.done: set[tuple[str, str]] = set()
        self.seen: set[str] = set()
        self.totals: dict[tuple[str, str], int] = {}
        self.units: dict[tuple[str, str, str], Decimal] = {}
        self.fired: dict[tuple[str, str, str], int] = {}
        self.awards: dict[tuple[str, str], list[tuple[str, int, int]]] = {}

    def boosted(self, system: dict[str, Any], points: int, attrs: dict[str, str]) -> int:
        for b in system.get("boosts", []):
            end = b.get("end")
            if _instant(b["start"]) > AT or (end is not None and _instant(end) <= AT):
                continue
            if any(attrs.get(k) != v for k, v in b.get("user_attributes", {}).items()):
                continue
            product = Decimal(points) * Decimal(str(b["multiplier"]))
            points = int(product.to_integral_value(rounding=ROUNDING[b.get("rounding", "down")]))
        return points

    def level(self, system: str, total: int) -> str | None:
        reached = [lv for lv in self.systems[system].get("levels", []) if lv["points"] <= total]
        return max(reached, key=lambda lv: lv["points"])["key"] if reached else None

    def _fire(self, uid: str, system: str, trigger: str, points: int) -> None:
        cap = self.systems[system].get("max_points")
        before = self.totals.get((uid, system), 0)
        after = min(before + points, cap) if cap is not None else before + points
        self.totals[(uid, system)] = after
        self.awards.setdefault((uid, system), []).append((trigger, after - before, after))

    def _metric(
        self,
        uid: str,
        skey: str,
        t: dict[str, Any],
        value: int,
        event_attrs: dict[str, str],
        attrs: dict[str, str],
    ) -> None:
        """Count the units; fire once per whole threshold newly passed."""
        if any(event_attrs.get(k) != v for k, v in t.get("event_attributes", {}).items()):
            return
        units = self.units.get((uid, skey, t["key"]), Decimal(0)) + value
        self.units[(uid, skey, t["key"])] = units
        reached = int(units // Decimal(str(t["threshold"])))
        done = self.fired.get((uid, skey, t["key"]), 0)
        if reached > done:
            self.fired[(uid, skey, t["key"])] = reached
            points = self.boosted(self.systems[skey], t["points"], attrs) * (reached - done)
            self._fire(uid, skey, t["key"], points)

    def command(
        self,
        user: dict[str, Any],
        metric: str | None = None,
        value: int = 0,
        event_attrs: dict[str, str] | None = None,
        completed: tuple[str, ...] = (),
    ) -> dict[str, tuple[int, int, str | None, str | None]]:
        """Apply one command; per system it changed: (total, added, level before, after)."""
        uid, attrs = user["id"], user.get("attributes", {})
        before = {s: self.totals.get((uid, s), 0) for s in self.systems}
        standing = set(self.totals)  # a user has no level in a system before its first award
        first = uid not in self.seen
        self.seen.add(uid)
        new = list(completed)
        if metric is not None:
            total = self.metric_totals.get((uid, metric), Decimal(0)) + value
            self.metric_totals[(uid, metric)] = total
            new += [
                a["key"]
                for a in self.achievements
                if a["trigger"] == "metric"
                and a["metric"] == metric
                and total >= a["value"]
                and (uid, a["key"]) not in self.done
            ]
        self.done.update((uid, key) for key in new)
        for skey, system in self.systems.items():  # creation, the metric, achievements
            for t in system["triggers"]:
                if t["type"] == "user_creation" and first:
                    self._fire(uid, skey, t["key"], self.boosted(system, t["points"], attrs))
            for t in system["triggers"]:
                if t["type"] == "metric" and t["metric"] == metric:
                    self._metric(uid, skey, t, value, event_attrs or {}, attrs)
            for key in new:
                for t in system["triggers"]:
                    if t["type"] == "achievement" and t["achievement"] == key:
                        self._fire(uid, skey, t["key"], self.boosted(system, t["points"], attrs))
        out = {}
        for s in self.systems:
            after = self.totals.get((uid, s), 0)
            if after != before[s]:
                was = self.level(s, before[s]) if (uid, s) in standing else None
                out[s] = (after, after - before[s], was, self.level(s, after))
        return out


@pytest.fixture(scope="module")
def podium(
    kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Podium]:
    with ExitStack() as stack:
        home = tmp_path_factory.mktemp("podium-points")
        pod = start_podium(kafka_bootstrap, redis_url, home, rules=POINTS_PATH)
        stack.callback(pod.stop)
        yield pod
        pod.check_alive()


@pytest.fixture(scope="module")
def played(podium: Podium) -> dict[str, Any]:
    trophy, model = podium.trophy(), Model()
    out: dict[str, Any] = {"model": model, "answers": []}

    def event(user: dict[str, Any], metric: str, value: int, **attrs: str) -> None:
        resp = trophy.metrics.event(key=metric, user=user, value=value, attributes=attrs or None)
        out["answers"].append((resp, model.command(user, metric, value, attrs)))

    def complete(user: dict[str, Any], key: str) -> None:
        resp = trophy.achievements.complete(key=key, user=user)
        out["answers"].append((resp, model.command(user, completed=(key,))))

    event(ANN, "words-written", 250)
    event(ANN, "words-written", 30)  # no threshold passed: no system changes
    event(ANN, "chapters-finished", 1, genre="poetry")
    event(BOB, "words-written", 1000)
    event(BOB, "chapters-finished", 1)
    complete(BOB, "beta-reader")
    complete(ANN, "beta-reader")

    def projected() -> None:
        for uid in ("ann", "bob"):
            got = trophy.users.points(id=uid, key="xp").total
            assert got == model.totals[(uid, "xp")], (uid, got)

    eventually(projected, within=20)
    return out


def test_each_answer_carries_the_systems_it_changed(played: dict[str, Any]) -> None:
    model: Model = played["model"]
    assert model.totals[("ann", "xp")] == 220 and model.totals[("bob", "xp")] == 165  # sanity
    for resp, changed in played["answers"]:
        assert isinstance(resp, (EventResponse, AchievementCompletionResponse))
        assert set(resp.points) == set(changed), (resp, changed)
        for system, (total, added, before, after) in changed.items():
            got = resp.points[system]
            assert (got.key, got.total, got.added) == (system, total, added)
            assert sum(a.awarded or 0 for a in got.awards) == added
            if before != after:
                assert got.level is not None and got.level.key == after
            else:
                assert got.level is None


def test_user_points_equal_the_model(podium: Podium, played: dict[str, Any]) -> None:
    trophy, model = podium.trophy(), played["model"]
    for uid in ("ann", "bob"):
        for system in model.systems:
            got = trophy.users.points(id=uid, key=system, awards=100)
            total = model.totals.get((uid, system), 0)
            assert got.total == total
            level = model.level(system, total) if (uid, system) in model.totals else None
            assert (got.level.key if got.level else None) == level
            want = list(reversed(model.awards.get((uid, system), [])))
            assert [
                (a.trigger.id if a.trigger else None, a.awarded, a.total) for a in got.awards
            ] == want
    assert len(trophy.users.points(id="ann", key="xp", awards=2).awards) == 2
    with pytest.raises(NotFoundError):
        trophy.users.points(id="ann", key="gold")
    with pytest.raises(UnprocessableEntityError):
        trophy.users.points(id="ann", key="xp", awards=101)


def _today(podium: Podium, user: dict[str, Any]) -> date:
    created = podium.trophy().users.get(id=user["id"]).created
    return created.astimezone(ZoneInfo(user["tz"])).date()


def test_event_summary_adds_up_to_the_total(podium: Podium, played: dict[str, Any]) -> None:
    trophy, model = podium.trophy(), played["model"]
    for user in (ANN, BOB):
        day = _today(podium, user)  # every event was sent within seconds of it
        rows = trophy.users.points_event_summary(
            id=user["id"],
            key="xp",
            aggregation="daily",
            start_date=(day - timedelta(days=1)).isoformat(),
            end_date=(day + timedelta(days=1)).isoformat(),
        )
        total = model.totals[(user["id"], "xp")]
        assert [r.date for r in rows] == [(day + timedelta(days=n)).isoformat() for n in (-1, 0, 1)]
        assert rows[0].total == 0 and rows[-1].total == total
        assert sum(r.change for r in rows) == total
    with pytest.raises(UnprocessableEntityError):
        trophy.users.points_event_summary(
            id="ann", key="xp", aggregation="daily", start_date="2024-01-01", end_date="2025-06-01"
        )


def _boundaries(model: Model) -> list[datetime]:
    """Every boost's start and end: the instants at which the boosts in force change."""
    boosts = [b for system in model.systems.values() for b in system.get("boosts", [])]
    return sorted(_instant(b[edge]) for b in boosts for edge in ("start", "end") if edge in b)


def test_boosts(podium: Podium, played: dict[str, Any]) -> None:
    trophy, model = podium.trophy(), played["model"]
    for user in (ANN, BOB):  # the gateway decided at its stamps: the same boosts as at AT
        stamped = trophy.users.get(id=user["id"]).created
        assert not [t for t in _boundaries(model) if min(AT, stamped) < t <= max(AT, stamped)]
    boosts = model.systems["xp"]["boosts"]
    ended = {b["key"] for b in boosts if "end" in b and _instant(b["end"]) <= AT}
    active = {b["key"] for b in boosts if _instant(b["start"]) <= AT and b["key"] not in ended}
    assert {b.id for b in trophy.points.boosts(key="xp")} == {b["key"] for b in boosts} - ended
    assert {b.id for b in trophy.points.boosts(key="xp", include_finished=True)} == {
        b["key"] for b in boosts
    }
    pro = {
        b["key"]
        for b in boosts
        if b["key"] in active and b.get("user_attributes") == {"plan": "pro"}
    }
    assert {b.id for b in trophy.users.points_boosts(id="ann", key="xp")} == active
    assert {b.id for b in trophy.users.points_boosts(id="bob", key="xp")} == active - pro


def test_system_and_levels(podium: Podium, played: dict[str, Any]) -> None:
    trophy, model = podium.trophy(), played["model"]
    xp = model.systems["xp"]
    system = trophy.points.system(key="xp")
    assert (system.id, system.name) == ("xp", xp["name"])
    assert [(t.id, t.type, t.points) for t in system.triggers] == [
        (t["key"], t["type"], t["points"]) for t in xp["triggers"]
    ]
    levels = trophy.points.levels(key="xp")
    assert [(lv.key, lv.points) for lv in levels] == [
        (lv["key"], lv["points"]) for lv in xp["levels"]
    ]


def _expected_summary(totals: list[int]) -> list[tuple[int, int, int]]:
    top = max(totals, default=0)
    bound = max(10, 10 ** math.ceil(math.log10(top))) if top > 0 else 10
    width = bound // 10
    edges = [(0, 0)] + [(1 + i * width, (i + 1) * width) for i in range(10)]
    return [(lo, hi, sum(1 for t in totals if lo <= t <= hi)) for lo, hi in edges]


def _expected_levels(model: Model, totals: list[int]) -> list[tuple[str, int]]:
    return [
        (lv["key"], sum(1 for t in totals if model.level("xp", t) == lv["key"]))
        for lv in model.systems["xp"]["levels"]
    ]


def _check_summaries(podium: Podium, model: Model) -> None:
    trophy = podium.trophy()
    totals = [t for (_, system), t in model.totals.items() if system == "xp"]
    ranges = trophy.points.summary(key="xp")
    assert [(r.from_, r.to, r.users) for r in ranges] == _expected_summary(totals)
    pro = trophy.points.summary(key="xp", user_attributes="plan:pro")
    assert [(r.from_, r.to, r.users) for r in pro] == _expected_summary(
        [model.totals[("ann", "xp")]]
    )
    levels = trophy.points.level_summary(key="xp")
    assert [(s.level.key, s.users) for s in levels] == _expected_levels(model, totals)


def test_summary_and_level_summary(podium: Podium, played: dict[str, Any]) -> None:
    _check_summaries(podium, played["model"])


def test_rebuild_restores_the_points_counts(podium: Podium, played: dict[str, Any]) -> None:
    keys = Keys(podium.env["PODIUM_VIEWS_PREFIX"])
    client = redis.Redis.from_url(podium.redis_url)
    for system in played["model"].systems:
        client.delete(keys.points(system))
    assert podium.trophy().points.level_summary(key="xp")[0].users == 0
    podium.rebuild_views()
    _check_summaries(podium, played["model"])
