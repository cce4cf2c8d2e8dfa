"""The rules file model: metrics, achievements, the streak, points, limits (TOML, see
deploy/rules.example.toml), frozen values only. `schemas.rules_parse.load_rules` /
`parse_rules` build it and validate strictly: unknown keys are errors, references are checked,
and every error names the file, the path inside it (`achievements[3].metric`) and what is
wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, get_args

from schemas.records import AchievementTrigger, Frequency

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
FREQUENCIES: tuple[Frequency, ...] = get_args(Frequency)
TRIGGERS: tuple[AchievementTrigger, ...] = get_args(AchievementTrigger)
MAX_ANNIVERSARY_YEARS = 1000
MAX_FREEZES = 100
PointsTriggerType = Literal["metric", "achievement", "streak", "user_creation", "time"]
POINTS_TRIGGERS: tuple[PointsTriggerType, ...] = get_args(PointsTriggerType)
TimeUnit = Literal["hour", "day"]
Rounding = Literal["down", "up", "nearest"]
ROUNDINGS: tuple[Rounding, ...] = get_args(Rounding)
# time trigger unit -> milliseconds
TIME_UNITS: dict[TimeUnit, int] = {"hour": 3_600_000, "day": 86_400_000}


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    name: str
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class Achievement:
    key: str
    name: str
    trigger: AchievementTrigger
    description: str | None = None
    badge_url: str | None = None
    metric: str | None = None  # trigger "metric"
    metric_value: Decimal | None = None  # trigger "metric": total >= metric_value
    streak_length: int | None = None  # trigger "streak": length >= streak_length
    achievement_keys: tuple[str, ...] = ()  # trigger "achievement" (composite): all complete
    anniversary_years: int | None = None  # trigger "anniversary": sign-up date + N years
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
    frequency: Frequency
    thresholds: tuple[Threshold, ...]
    combine: Literal["all", "any"] = "all"
    freezes: Freezes | None = None
    history_periods: int = 30
    # daily only: local weekdays (JavaScript's getDay(), 0 = Sunday ... 6 = Saturday) that
    # do not count: a missed one pauses the streak instead of losing it
    days_off: frozenset[int] = frozenset()
    # a tick settles the periods that ended this long before its own time: an event stamped
    # just before a period's end and logged just after the tick still counts for its period
    tick_grace_seconds: int = 300

    @property
    def tick_grace_ms(self) -> int:
        return self.tick_grace_seconds * 1000


IDEMPOTENCY_WINDOW = 1_000
"""Idempotency keys kept per user and metric by default (Trophy documents no window)."""
MAX_IDEMPOTENCY_WINDOW = 100_000
MAX_RECENT_EVENT_IDS = 10_000
MAX_KEPT_DAYS = 5_000  # limits.points_days, limits.metric_days


@dataclass(frozen=True, slots=True)
class Limits:
    idempotency_keys_per_metric: int = IDEMPOTENCY_WINDOW  # the newest N per user and metric
    recent_event_ids: int = 8  # 0 = remember none
    points_awards: int = 100  # recent awards kept per user and points system
    points_days: int = 400  # days with a points change kept per user and system
    metric_days: int = 400  # days with a change kept per user and metric (event summaries)


@dataclass(frozen=True, slots=True)
class PointsTrigger:
    """One way to earn (or, with negative `points`, lose) points in a system."""

    key: str  # stable: award ids contain it, so a renamed trigger is a new trigger
    type: PointsTriggerType
    points: int  # per firing; never 0
    metric: str | None = None  # type "metric"
    threshold: Decimal | None = None  # type "metric": fires once per `threshold` units
    achievement: str | None = None  # type "achievement"
    streak_length: int | None = None  # type "streak": fires at every multiple of it
    time_unit: TimeUnit | None = None  # type "time"
    time_interval: int | None = None  # type "time": fires every `time_interval` units
    user_attributes: Mapping[str, str] = field(default_factory=dict)
    event_attributes: Mapping[str, str] = field(default_factory=dict)  # metric only

    @property
    def interval_ms(self) -> int:
        """Type "time": the milliseconds between two firings (0 for other types)."""
        if self.time_unit is None or self.time_interval is None:
            return 0
        return TIME_UNITS[self.time_unit] * self.time_interval


@dataclass(frozen=True, slots=True)
class PointsLevel:
    key: str
    name: str
    points: int  # the total at which the level is reached
    description: str | None = None
    badge_url: str | None = None


@dataclass(frozen=True, slots=True)
class PointsBoost:
    """A multiplier on a system's positive awards while `start_ms <= time < end_ms`."""

    key: str
    name: str
    multiplier: Decimal  # > 0, != 1, < 100
    start_ms: int
    end_ms: int | None = None  # None: open-ended
    rounding: Rounding = "down"
    user_attributes: Mapping[str, str] = field(default_factory=dict)  # empty: every user


@dataclass(frozen=True, slots=True)
class PointsSystem:
    key: str
    name: str
    description: str | None = None
    badge_url: str | None = None
    max_points: int | None = None  # the total never exceeds it
    triggers: tuple[PointsTrigger, ...] = ()
    levels: tuple[PointsLevel, ...] = ()  # lowest threshold first
    boosts: tuple[PointsBoost, ...] = ()  # in file order (the order they are applied)


@dataclass(frozen=True, slots=True)
class PointsIndex:
    """Where each kind of points trigger is found: (system, trigger) pairs in file order."""

    by_metric: Mapping[str, tuple[tuple[PointsSystem, PointsTrigger], ...]] = field(
        default_factory=dict
    )
    by_achievement: Mapping[str, tuple[tuple[PointsSystem, PointsTrigger], ...]] = field(
        default_factory=dict
    )
    streak: tuple[tuple[PointsSystem, PointsTrigger], ...] = ()
    user_creation: tuple[tuple[PointsSystem, PointsTrigger], ...] = ()
    time: tuple[tuple[PointsSystem, PointsTrigger], ...] = ()

    @staticmethod
    def build(systems: Mapping[str, PointsSystem]) -> PointsIndex:
        pairs = [(s, t) for s in systems.values() for t in s.triggers]
        by_metric: dict[str, list[tuple[PointsSystem, PointsTrigger]]] = {}
        by_achievement: dict[str, list[tuple[PointsSystem, PointsTrigger]]] = {}
        for s, t in pairs:
            if t.type == "metric" and t.metric is not None:
                by_metric.setdefault(t.metric, []).append((s, t))
            elif t.type == "achievement" and t.achievement is not None:
                by_achievement.setdefault(t.achievement, []).append((s, t))
        return PointsIndex(
            by_metric={k: tuple(v) for k, v in by_metric.items()},
            by_achievement={k: tuple(v) for k, v in by_achievement.items()},
            streak=tuple(p for p in pairs if p[1].type == "streak"),
            user_creation=tuple(p for p in pairs if p[1].type == "user_creation"),
            time=tuple(p for p in pairs if p[1].type == "time"),
        )


@dataclass(frozen=True, slots=True)
class Rules:
    metrics: Mapping[str, Metric]
    achievements: Mapping[str, Achievement]  # in file order
    streak: Streak | None = None
    week_start: int = 0  # 0 = Monday ... 6 = Sunday
    limits: Limits = field(default_factory=Limits)
    source: str = "<rules>"
    points: Mapping[str, PointsSystem] = field(default_factory=dict)  # in file order
    attributes: DeclaredAttributes | None = None  # None (no section): any key is accepted
    # derived indexes, built by `Rules.build`
    by_metric: Mapping[str, tuple[Achievement, ...]] = field(default_factory=dict)
    streak_achievements: tuple[Achievement, ...] = ()  # shortest streak_length first
    anniversaries: tuple[Achievement, ...] = ()  # fewest anniversary_years first
    composites: tuple[Achievement, ...] = ()  # dependencies before dependants
    composite_parts: Mapping[str, frozenset[str]] = field(default_factory=dict)
    streak_metrics: frozenset[str] = frozenset()
    points_index: PointsIndex = field(default_factory=PointsIndex)
    leaderboards: Mapping[str, Leaderboard] = field(default_factory=dict)  # in file order

    @staticmethod
    def build(
        metrics: Mapping[str, Metric],
        achievements: Mapping[str, Achievement],
        streak: Streak | None = None,
        week_start: int = 0,
        limits: Limits | None = None,
        source: str = "<rules>",
        points: Mapping[str, PointsSystem] | None = None,
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
            points=dict(points or {}),
            by_metric={k: tuple(v) for k, v in by_metric.items()},
            streak_achievements=tuple(
                sorted(
                    (a for a in achievements.values() if a.trigger == "streak"),
                    key=lambda a: a.streak_length or 0,
                )
            ),
            anniversaries=tuple(
                sorted(
                    (a for a in achievements.values() if a.trigger == "anniversary"),
                    key=lambda a: a.anniversary_years or 0,
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
            points_index=PointsIndex.build(points or {}),
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


# --- leaderboards (parsed by schemas.rules_leaderboards) ------------------------------------

RankBy = Literal["metric", "points", "streak"]
RANK_BY: tuple[RankBy, ...] = get_args(RankBy)
RunUnit = Literal["day", "month", "year"]
RUN_UNITS: tuple[RunUnit, ...] = get_args(RunUnit)
MAX_BREAKDOWN_ATTRIBUTES = 10
DEFAULT_KEEP_RUNS = 12  # finished runs of a repeating board kept besides the current one


@dataclass(frozen=True, slots=True)
class Leaderboard:
    """One `[[leaderboards]]` entry. Dates are local date ordinals (`date.toordinal()`) in each
    participant's own time zone; times of day are minutes after local midnight.

    `run_unit` None is a perpetual board (one run). A repeating board's runs are
    `run_interval` units long and count from `anchor`: the start date when one is given,
    otherwise the calendar (days from the configured week start, so 7 days is a week; months
    from January; years from 1 January).
    """

    key: str
    name: str
    rank_by: RankBy
    anchor: int  # the first day of run 0
    description: str | None = None
    metric: str | None = None  # rank_by "metric": the metric's total within the run
    points: str | None = None  # rank_by "points": the points system's total within the run
    run_unit: RunUnit | None = None  # None = perpetual
    run_interval: int = 1
    start: int | None = None  # first day counted (inclusive); before it: scheduled
    end: int | None = None  # last day counted (inclusive); after it: finished
    start_time: int | None = None  # counts activity at or after this local minute of the day
    end_time: int | None = None  # counts activity before this local minute of the day
    breakdown_attributes: tuple[str, ...] = ()  # one ranking per combination of their values
    max_participants: int | None = None  # None = no limit
    # a repeating board's finished runs kept besides the current one; older runs are dropped
    # by the ranking stage (rankings, changelog entries, Redis views): docs/leaderboards.md
    keep_runs: int = DEFAULT_KEEP_RUNS

    @property
    def repeating(self) -> bool:
        return self.run_unit is not None

    @property
    def ranks_whole_total(self) -> bool:
        """Perpetual with no dates and no window: the score is the user's whole total."""
        return (self.run_unit, self.start, self.end, self.start_time, self.end_time) == (
            (None,) * 5
        )
