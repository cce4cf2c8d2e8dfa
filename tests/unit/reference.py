"""An independent, deliberately simple and slow model of Podium's semantics.

Written from docs/semantics.md, not from processors/: it walks streak periods one by one with
`datetime` objects (period identity = its first date), evaluates composites to a fixpoint,
keeps every event id and idempotency key in plain sets; points are modelled one firing at a
time in `reference_points`. It imports only schemas (the input types), the standard library
and that module. The property tests compare the fold with it.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from schemas.commands import AchievementAwarded, ClockTicked, Command, MetricTracked
from schemas.rules import Rules
from tests.unit.reference_points import PointsModel, RefChange, RefSystem

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def local_date(time_ms: int, tz: str | None) -> date:
    instant = EPOCH + timedelta(milliseconds=time_ms)
    return instant.astimezone(ZoneInfo(tz or "UTC")).date()


def period_start(d: date, frequency: str, week_start: int) -> date:
    if frequency == "daily":
        return d
    if frequency == "weekly":
        back = (d.weekday() - week_start) % 7
        return d - timedelta(days=back)
    return date(d.year, d.month, 1)


def next_period(start: date, frequency: str) -> date:
    if frequency == "daily":
        return start + timedelta(days=1)
    if frequency == "weekly":
        return start + timedelta(days=7)
    days = calendar.monthrange(start.year, start.month)[1]
    return start + timedelta(days=days)


@dataclass
class RefUser:
    attributes: dict[str, str] = field(default_factory=dict)
    tz: str | None = None
    totals: dict[str, Decimal] = field(default_factory=dict)
    keys: set[tuple[str, str]] = field(default_factory=set)
    seen: set[str] = field(default_factory=set)
    done: dict[str, int] = field(default_factory=dict)
    # streak
    length: int = 0
    longest: int = 0
    period: date | None = None  # start of the latest period seen
    kept: bool = False  # the latest period seen is kept (extended or frozen)
    progress: dict[str, Decimal] = field(default_factory=dict)
    freezes: int = 0
    anchor: date | None = None
    credited: int = 0
    facts: list[tuple[str, str]] = field(default_factory=list)  # (kind, date) per command
    # every kept period: (its first date, the length at its end, frozen, paused), oldest first
    kept_periods: list[tuple[date, int, bool, bool]] = field(default_factory=list)
    created_ms: int = 0
    points: dict[str, RefSystem] = field(default_factory=dict)
    sign_up: str | None = None  # YYYY-MM-DD, as the user object last gave it


@dataclass
class RefResult:
    replayed: bool
    total: Decimal | None
    completed: set[str]
    extended: bool
    facts: list[tuple[str, str]]
    points: dict[str, RefChange] = field(default_factory=dict)


class Reference:
    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.users: dict[str, RefUser] = {}
        self.points = PointsModel(rules)

    def user(self, user_id: str) -> RefUser:
        if user_id not in self.users:
            fz = self.rules.streak.freezes if self.rules.streak else None
            self.users[user_id] = RefUser(freezes=fz.initial if fz else 0)
        return self.users[user_id]

    # --- streak ---------------------------------------------------------------------------

    def _credit(self, u: RefUser, upto: date) -> None:
        fz = self.rules.streak.freezes if self.rules.streak else None
        if fz is None or fz.auto_earn_interval_days == 0 or u.anchor is None:
            return
        k = u.credited + 1
        while u.anchor + timedelta(days=k * fz.auto_earn_interval_days) <= upto:
            on = u.anchor + timedelta(days=k * fz.auto_earn_interval_days)
            if u.freezes < fz.max:
                u.freezes = min(fz.max, u.freezes + fz.auto_earn_amount)
                u.facts.append(("freeze_earned", on.isoformat()))
            u.credited = k
            k += 1

    def _advance(self, u: RefUser, time_ms: int) -> None:
        rule = self.rules.streak
        if rule is None:
            return
        today = local_date(time_ms, u.tz)
        if u.anchor is None:
            u.anchor = today
        target = period_start(today, rule.frequency, self.rules.week_start)
        if u.period is None:
            u.period = target
        while u.period < target:  # close the period u.period
            following = next_period(u.period, rule.frequency)
            self._credit(u, following)
            if u.length > 0 and not u.kept:
                if self._is_day_off(u.period):
                    u.kept_periods.append((u.period, u.length, False, True))  # paused, no fact
                elif u.freezes > 0:
                    u.freezes -= 1
                    u.facts.append(("freeze_consumed", u.period.isoformat()))
                    u.kept_periods.append((u.period, u.length, True, False))
                else:
                    u.facts.append(("lost", u.period.isoformat()))
                    u.length = 0
            u.period, u.kept, u.progress = following, False, {}
        self._credit(u, today)

    def _is_day_off(self, day: date) -> bool:
        """A weekday the rules' `days_off` lists, numbered as JavaScript's getDay() does
        (Sunday 0, Monday 1 ... Saturday 6); only daily streaks have days off."""
        rule = self.rules.streak
        return rule is not None and (day.weekday() + 1) % 7 in rule.days_off

    def _count(self, u: RefUser, metric: str, value: Decimal, time_ms: int) -> bool:
        rule = self.rules.streak
        if rule is None or metric not in {t.metric for t in rule.thresholds}:
            return False
        u.progress[metric] = u.progress.get(metric, Decimal(0)) + value
        met = [u.progress.get(t.metric, Decimal(0)) >= t.value for t in rule.thresholds]
        if u.kept or not (all(met) if rule.combine == "all" else any(met)):
            return False
        assert u.period is not None
        u.facts.append(("started" if u.length == 0 else "extended", u.period.isoformat()))
        u.length += 1
        u.longest = max(u.longest, u.length)
        u.kept = True
        u.kept_periods.append((u.period, u.length, False, False))
        return True

    # --- achievements ---------------------------------------------------------------------

    def _complete(self, u: RefUser, key: str, at: int, new: set[str]) -> None:
        ach = self.rules.achievements[key]
        if key in u.done:
            return
        if any(u.attributes.get(k) != v for k, v in ach.user_attributes.items()):
            return
        u.done[key] = at
        new.add(key)

    def _composites(self, u: RefUser, at: int, new: set[str]) -> None:
        changed = True
        while changed:
            changed = False
            for ach in self.rules.achievements.values():
                if (
                    ach.trigger == "achievement"
                    and ach.key not in u.done
                    and all(k in u.done for k in ach.achievement_keys)
                ):
                    before = len(new)
                    self._complete(u, ach.key, at, new)
                    changed = changed or len(new) > before

    def _metric_achievements(
        self, u: RefUser, metric: str, at: int, new: set[str], event_attrs: dict[str, str] | None
    ) -> None:
        for ach in self.rules.achievements.values():
            if ach.trigger != "metric" or ach.metric != metric:
                continue
            if ach.event_attributes and (
                event_attrs is None
                or any(event_attrs.get(k) != v for k, v in ach.event_attributes.items())
            ):
                continue
            target = ach.metric_value
            if target is not None and u.totals.get(metric, Decimal(0)) >= target:
                self._complete(u, ach.key, at, new)

    def _streak_achievements(self, u: RefUser, at: int, new: set[str]) -> None:
        for ach in self.rules.achievements.values():
            if (
                ach.trigger == "streak"
                and ach.streak_length is not None
                and u.length >= ach.streak_length
            ):
                self._complete(u, ach.key, at, new)

    def _anniversary_achievements(self, u: RefUser, at: int, new: set[str]) -> None:
        """Complete when the user's local date has reached the sign-up date + N years (29
        February: the 28th when that year has none); never without a sign-up date."""
        if u.sign_up is None:
            return
        signed = date.fromisoformat(u.sign_up)
        today = local_date(at, u.tz)
        for ach in self.rules.achievements.values():
            if ach.trigger != "anniversary" or ach.anniversary_years is None:
                continue
            year = signed.year + ach.anniversary_years
            try:
                day = date(year, signed.month, signed.day)
            except ValueError:  # 29 February in a common year
                day = date(year, 2, 28)
            if today >= day:
                self._complete(u, ach.key, at, new)

    # --- commands -------------------------------------------------------------------------

    def apply(self, cmd: Command) -> RefResult:
        user_id = cmd.user_id if isinstance(cmd, ClockTicked) else cmd.user.id
        first = user_id not in self.users
        u = self.user(user_id)
        if first:
            u.created_ms = cmd.time_ms
        metric = cmd.metric if isinstance(cmd, MetricTracked) else None
        if self._is_duplicate(u, cmd):
            total = None if metric is None else u.totals.get(metric, Decimal(0))
            return RefResult(True, total, set(), False, [])
        u.seen.add(cmd.event_id)
        u.facts = []
        attrs_before = dict(u.attributes)
        if not isinstance(cmd, ClockTicked):
            self._upsert(u, cmd)
        new: set[str] = set()
        self._advance(u, self._settles_at(cmd))
        extended = self._fold_command(u, cmd, new)
        self._anniversary_achievements(u, cmd.time_ms, new)
        self._composites(u, cmd.time_ms, new)
        total = None if metric is None else u.totals[metric]
        changes = self.points.apply(
            u.points,
            first=first,
            created_ms=u.created_ms,
            time_ms=cmd.time_ms,
            attrs_before=attrs_before,
            attrs=u.attributes,
            metric=(cmd.metric, cmd.value, cmd.attributes)
            if isinstance(cmd, MetricTracked)
            else None,
            completed=self._in_record_order(new),
            streak_length=u.length if extended else None,
        )
        return RefResult(False, total, new, extended, list(u.facts), changes)

    def _settles_at(self, cmd: Command) -> int:
        """A tick settles the streak as of `tick_grace_seconds` before its time; any other
        command as of its own time."""
        rule = self.rules.streak
        if rule is None or not isinstance(cmd, ClockTicked):
            return cmd.time_ms
        return cmd.time_ms - rule.tick_grace_seconds * 1000

    @staticmethod
    def _is_duplicate(u: RefUser, cmd: Command) -> bool:
        """Seen before: the same event id, or a metric event repeating an idempotency key."""
        return cmd.event_id in u.seen or (
            isinstance(cmd, MetricTracked)
            and cmd.idempotency_key is not None
            and (cmd.metric, cmd.idempotency_key) in u.keys
        )

    def _fold_command(self, u: RefUser, cmd: Command, new: set[str]) -> bool:
        """Apply what this kind of command does to totals, streaks and achievements; adds
        completions to `new` and says whether the streak was extended."""
        extended = False
        if isinstance(cmd, MetricTracked):
            if cmd.idempotency_key is not None:
                u.keys.add((cmd.metric, cmd.idempotency_key))
            u.totals[cmd.metric] = u.totals.get(cmd.metric, Decimal(0)) + cmd.value
            extended = self._count(u, cmd.metric, cmd.value, cmd.time_ms)
            self._metric_achievements(u, cmd.metric, cmd.time_ms, new, dict(cmd.attributes))
            if extended:
                self._streak_achievements(u, cmd.time_ms, new)
        elif isinstance(cmd, AchievementAwarded):
            ach = self.rules.achievements.get(cmd.achievement)
            if ach is not None and ach.trigger == "api":
                self._complete(u, cmd.achievement, cmd.time_ms, new)
        elif not isinstance(cmd, ClockTicked):  # UserIdentified
            for m in list(u.totals):
                self._metric_achievements(u, m, cmd.time_ms, new, None)
            self._streak_achievements(u, cmd.time_ms, new)
        return extended

    def _in_record_order(self, keys: set[str]) -> list[str]:
        """Completions in the documented record order: metric (and API) ones by metric and
        file order, then streak ones shortest first, then anniversary ones fewest years
        first, then composites."""
        index = {k: i for i, k in enumerate(self.rules.achievements)}
        rank = {"metric": 0, "api": 0, "streak": 1, "anniversary": 2, "achievement": 3}

        def key(k: str) -> tuple[int, str, int, int]:
            a = self.rules.achievements[k]
            length = a.streak_length or a.anniversary_years or 0
            return rank[a.trigger], a.metric or "", length, index[k]

        return sorted(keys, key=key)

    def _upsert(self, u: RefUser, cmd: Command) -> None:
        user = cmd.user  # type: ignore[union-attr]
        if user.tz is not None:
            u.tz = user.tz
        if user.attributes:
            u.attributes.update(user.attributes)
        if user.sign_up_date is not None:
            u.sign_up = user.sign_up_date
