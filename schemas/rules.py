"""The rules file model: metrics, achievements, the streak, limits (TOML, see
deploy/rules.example.toml). `load_rules` / `parse_rules` validate strictly: unknown keys are
errors, references are checked, and every error names the file, the path inside it
(`achievements[3].metric`) and what is wrong.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Literal

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
FREQUENCIES = ("daily", "weekly", "monthly")
TRIGGERS = ("metric", "streak", "api", "achievement")
MAX_FREEZES = 100


class RulesError(ValueError):
    """An invalid rules file; the message names the file, the path inside it and the fault."""


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    name: str
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class Achievement:
    key: str
    name: str
    trigger: Literal["metric", "streak", "api", "achievement"]
    description: str | None = None
    badge_url: str | None = None
    metric: str | None = None  # trigger "metric"
    metric_value: Decimal | None = None  # trigger "metric": total >= metric_value
    streak_length: int | None = None  # trigger "streak": length >= streak_length
    achievement_keys: tuple[str, ...] = ()  # trigger "achievement" (composite): all complete
    user_attributes: Mapping[str, str] = field(default_factory=dict)
    event_attributes: Mapping[str, str] = field(default_factory=dict)  # metric trigger only


@dataclass(frozen=True, slots=True)
class DeclaredAttributes:
    """The `[attributes]` section: the user and event attribute keys requests may carry."""

    user: frozenset[str] = frozenset()
    event: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Threshold:
    metric: str
    value: Decimal


@dataclass(frozen=True, slots=True)
class Freezes:
    initial: int = 0
    max: int = 0
    auto_earn_amount: int = 0
    auto_earn_interval_days: int = 0  # 0 = no auto-earn


@dataclass(frozen=True, slots=True)
class Streak:
    frequency: Literal["daily", "weekly", "monthly"]
    thresholds: tuple[Threshold, ...]
    combine: Literal["all", "any"] = "all"
    freezes: Freezes | None = None
    history_periods: int = 30


@dataclass(frozen=True, slots=True)
class Limits:
    idempotency_keys_per_metric: int = 0  # 0 = keep forever
    recent_event_ids: int = 8  # 0 = remember none


@dataclass(frozen=True, slots=True)
class Rules:
    metrics: Mapping[str, Metric]
    achievements: Mapping[str, Achievement]  # in file order
    streak: Streak | None = None
    week_start: int = 0  # 0 = Monday ... 6 = Sunday
    limits: Limits = field(default_factory=Limits)
    source: str = "<rules>"
    attributes: DeclaredAttributes | None = None  # None (no section): any key is accepted
    # derived indexes, built by `Rules.build`
    by_metric: Mapping[str, tuple[Achievement, ...]] = field(default_factory=dict)
    streak_achievements: tuple[Achievement, ...] = ()  # shortest streak_length first
    composites: tuple[Achievement, ...] = ()  # dependencies before dependants
    composite_parts: Mapping[str, frozenset[str]] = field(default_factory=dict)
    streak_metrics: frozenset[str] = frozenset()

    @staticmethod
    def build(
        metrics: Mapping[str, Metric],
        achievements: Mapping[str, Achievement],
        streak: Streak | None = None,
        week_start: int = 0,
        limits: Limits | None = None,
        source: str = "<rules>",
    ) -> Rules:
        """Rules with their indexes (assumes references were validated)."""
        by_metric: dict[str, list[Achievement]] = {}
        for ach in achievements.values():
            if ach.trigger == "metric" and ach.metric is not None:
                by_metric.setdefault(ach.metric, []).append(ach)
        return Rules(
            metrics=dict(metrics),
            achievements=dict(achievements),
            streak=streak,
            week_start=week_start,
            limits=limits or Limits(),
            source=source,
            by_metric={k: tuple(v) for k, v in by_metric.items()},
            streak_achievements=tuple(
                sorted(
                    (a for a in achievements.values() if a.trigger == "streak"),
                    key=lambda a: a.streak_length or 0,
                )
            ),
            composites=_composite_order(achievements),
            composite_parts={
                a.key: frozenset(a.achievement_keys)
                for a in achievements.values()
                if a.trigger == "achievement"
            },
            streak_metrics=frozenset(t.metric for t in streak.thresholds)
            if streak
            else frozenset(),
        )


def _composite_order(achievements: Mapping[str, Achievement]) -> tuple[Achievement, ...]:
    order: list[Achievement] = []
    seen: set[str] = set()

    def visit(key: str) -> None:
        if key in seen:
            return
        seen.add(key)
        ach = achievements[key]
        for dep in ach.achievement_keys:
            visit(dep)
        if ach.trigger == "achievement":
            order.append(ach)

    for key in achievements:
        visit(key)
    return tuple(order)


def parse_rules(text: str, source: str = "<rules>") -> Rules:
    """Parse and validate a rules document; raises `RulesError`."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{source}: not valid TOML: {exc}") from None
    from schemas.rules_parse import parse_document  # it imports this module

    return parse_document(doc, source)


def load_rules(path: str | Path) -> Rules:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_rules(text, source=str(path))
