"""An independent, deliberately plain model of the points semantics (docs/semantics.md,
"Points"), for `tests.unit.reference`: every firing is taken one at a time (no runs, no
merging), boosts are recomputed for each firing, bounds are applied after each firing.
It imports only the input types (schemas) and the standard library.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, ROUND_UP, Decimal

from schemas.rules import PointsSystem, PointsTrigger, Rules

ROUND = {"down": ROUND_DOWN, "up": ROUND_UP, "nearest": ROUND_HALF_UP}
HOUR_MS = 3_600_000


@dataclass
class RefSystem:
    total: int = 0
    level: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    units: dict[str, Decimal] = field(default_factory=dict)


@dataclass
class RefChange:
    """What one command did to one system: (trigger, points, firings) per awarding trigger."""

    added: int
    total: int
    previous_level: str | None
    level: str | None
    awards: list[tuple[str, int, int]]


def _matches(required: Mapping[str, str], actual: Mapping[str, str]) -> bool:
    return all(actual.get(k) == v for k, v in required.items())


class PointsModel:
    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self._fired: dict[
            str, dict[str, list[int]]
        ] = {}  # per command: system -> trigger -> [pts, n]

    def _worth(self, system: PointsSystem, points: int, at: int, attrs: Mapping[str, str]) -> int:
        if points < 0:
            return points
        value = Decimal(points)
        for b in system.boosts:
            in_window = b.start_ms <= at and (b.end_ms is None or at < b.end_ms)
            if in_window and _matches(b.user_attributes, attrs):
                value = (value * b.multiplier).quantize(Decimal(1), rounding=ROUND[b.rounding])
        return int(value)

    def _fire(
        self,
        systems: dict[str, RefSystem],
        system: PointsSystem,
        trigger: PointsTrigger,
        at: int,
        attrs: Mapping[str, str],
    ) -> None:
        s = systems.setdefault(system.key, RefSystem())
        worth = self._worth(system, trigger.points, at, attrs)
        new = s.total + worth
        if worth > 0 and system.max_points is not None and new > system.max_points:
            new = max(s.total, system.max_points)
        if worth < 0 and new < 0:
            new = 0
        got = self._fired.setdefault(system.key, {}).setdefault(trigger.key, [0, 0])
        got[0] += new - s.total
        got[1] += 1
        s.total = new

    def _count(self, systems: dict[str, RefSystem], system: PointsSystem, key: str) -> int:
        return systems.setdefault(system.key, RefSystem()).counts.get(key, 0)

    def _set(self, systems: dict[str, RefSystem], system: PointsSystem, key: str, n: int) -> None:
        systems.setdefault(system.key, RefSystem()).counts[key] = n

    def _pairs(self, kind: str) -> Iterable[tuple[PointsSystem, PointsTrigger]]:
        for system in self.rules.points.values():
            for trigger in system.triggers:
                if trigger.type == kind:
                    yield system, trigger

    def apply(
        self,
        systems: dict[str, RefSystem],
        *,
        first: bool,
        created_ms: int,
        time_ms: int,
        attrs_before: Mapping[str, str],
        attrs: Mapping[str, str],
        metric: tuple[str, Decimal, Mapping[str, str]] | None,
        completed: list[str],
        streak_length: int | None,
    ) -> dict[str, RefChange]:
        self._fired = {}
        before = {k: (s.total, s.level) for k, s in systems.items()}
        if not first:
            self._time(systems, created_ms, time_ms, attrs_before)
        if first:
            for system, trigger in self._pairs("user_creation"):
                self._once(systems, system, trigger, time_ms, attrs)
        if metric is not None:
            self._metric(systems, metric, time_ms, attrs)
        for key in completed:
            for system, trigger in self._pairs("achievement"):
                if trigger.achievement == key:
                    self._once(systems, system, trigger, time_ms, attrs)
        if streak_length is not None:
            for system, trigger in self._pairs("streak"):
                n = trigger.streak_length or 1
                if streak_length % n == 0 and _matches(trigger.user_attributes, attrs):
                    self._set(
                        systems, system, trigger.key, self._count(systems, system, trigger.key) + 1
                    )
                    self._fire(systems, system, trigger, time_ms, attrs)
        return self._changes(systems, before)

    def _once(
        self,
        systems: dict[str, RefSystem],
        system: PointsSystem,
        trigger: PointsTrigger,
        at: int,
        attrs: Mapping[str, str],
    ) -> None:
        if self._count(systems, system, trigger.key) or not _matches(
            trigger.user_attributes, attrs
        ):
            return
        self._set(systems, system, trigger.key, 1)
        self._fire(systems, system, trigger, at, attrs)

    def _time(
        self, systems: dict[str, RefSystem], created: int, now: int, attrs: Mapping[str, str]
    ) -> None:
        for system, trigger in self._pairs("time"):
            step = (trigger.time_interval or 1) * (
                HOUR_MS if trigger.time_unit == "hour" else 24 * HOUR_MS
            )
            i = self._count(systems, system, trigger.key) + 1
            while created + i * step <= now:
                if _matches(trigger.user_attributes, attrs):
                    self._fire(systems, system, trigger, created + i * step, attrs)
                self._set(systems, system, trigger.key, i)
                i += 1

    def _metric(
        self,
        systems: dict[str, RefSystem],
        metric: tuple[str, Decimal, Mapping[str, str]],
        at: int,
        attrs: Mapping[str, str],
    ) -> None:
        name, value, event_attrs = metric
        for system, trigger in self._pairs("metric"):
            if trigger.metric != name or not _matches(trigger.event_attributes, event_attrs):
                continue
            if not _matches(trigger.user_attributes, attrs):
                continue
            s = systems.setdefault(system.key, RefSystem())
            s.units[trigger.key] = s.units.get(trigger.key, Decimal(0)) + value
            assert trigger.threshold is not None
            highest = int((s.units[trigger.key] / trigger.threshold).to_integral_value(ROUND_FLOOR))
            while s.counts.get(trigger.key, 0) < highest:
                s.counts[trigger.key] = s.counts.get(trigger.key, 0) + 1
                self._fire(systems, system, trigger, at, attrs)

    def _changes(
        self, systems: dict[str, RefSystem], before: dict[str, tuple[int, str | None]]
    ) -> dict[str, RefChange]:
        out = {}
        for key, fired in self._fired.items():
            s = systems[key]
            system = self.rules.points[key]
            s.level = None
            for step in system.levels:
                if step.points <= s.total:
                    s.level = step.key
            awards = [(t, pts, n) for t, (pts, n) in fired.items() if pts != 0]
            if not awards:
                continue
            total, previous = before.get(key, (0, None))
            out[key] = RefChange(s.total - total, s.total, previous, s.level, awards)
        return out
