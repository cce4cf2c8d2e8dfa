"""Points rules: per user and points system, a total moved by triggers, with levels, boosts
and a cap. Pure; the fold calls `apply` once per command (after metrics, achievements and the
streak), and the ticker calls `due`. Facts go out as `PointsChanged` (`podium.points`).

Within a command the triggers fire in this order: time (the intervals elapsed since the last
command, with the attributes the user had meanwhile), user creation, the command's metric,
the achievements it completed (in record order), the streak extension. See
docs/semantics.md ("Points") for every choice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Context, Decimal

from processors.core.moment import Moment, matches
from processors.core.periods import local_ordinal
from schemas.commands import Command, MetricTracked
from schemas.records import (
    AchievementCompleted,
    PointsAward,
    PointsChanged,
    StreakChanged,
    award_id,
)
from schemas.rules import PointsBoost, PointsSystem, PointsTrigger, Rules
from schemas.state import KeptAward, PointsDay, PointsState, UserState

ZERO = Decimal(0)
EMPTY = PointsState()
_EXACT = Context(prec=120, Emax=999_999, Emin=-999_999)  # as processors.core.metrics: no rounding
_ROUNDING = {"down": ROUND_DOWN, "up": ROUND_UP, "nearest": ROUND_HALF_UP}


def boosted(
    system: PointsSystem, points: int, time_ms: int, attributes: Mapping[str, str]
) -> tuple[int, tuple[str, ...]]:
    """The points of one firing at `time_ms` after the boosts active then for this user,
    and the keys of those boosts. Deductions are never boosted. Boosts apply in file order,
    each rounding its own product to an integer."""
    if points <= 0 or not system.boosts:
        return points, ()
    value, applied = points, []
    for boost in system.boosts:
        if _active(boost, time_ms) and matches(boost.user_attributes, attributes):
            product = _EXACT.multiply(Decimal(value), boost.multiplier)
            value = int(product.to_integral_value(rounding=_ROUNDING[boost.rounding]))
            applied.append(boost.key)
    return value, tuple(applied)


def _active(boost: PointsBoost, time_ms: int) -> bool:
    return boost.start_ms <= time_ms and (boost.end_ms is None or time_ms < boost.end_ms)


def level_of(system: PointsSystem, total: int) -> str | None:
    """The key of the highest level whose threshold the total reaches (None: below all)."""
    reached = None
    for level in system.levels:  # lowest threshold first
        if level.points > total:
            break
        reached = level.key
    return reached


def bounded(total: int, amount: int, cap: int | None) -> int:
    """The total after adding `amount`: never above `cap` (an award stops there) and never
    below zero (a deduction stops there); a bound the total is already past stays past."""
    if amount > 0:
        return max(total, cap) if cap is not None and total + amount > cap else total + amount
    return max(total + amount, min(total, 0))


class _Draft:
    """A mutable working copy of one system's state while a command is applied."""

    __slots__ = ("awards", "before", "counts", "system", "total", "units")

    def __init__(self, system: PointsSystem, before: PointsState) -> None:
        self.system, self.before, self.total = system, before, before.total
        self.counts: dict[str, int] | None = None  # copied on first write
        self.units: dict[str, Decimal] | None = None
        self.awards: list[PointsAward] = []

    def count(self, trigger: PointsTrigger) -> int:
        counts = self.before.counts if self.counts is None else self.counts
        return counts.get(trigger.key, 0)

    def set_count(self, trigger: PointsTrigger, value: int) -> None:
        if self.counts is None:
            self.counts = dict(self.before.counts)
        self.counts[trigger.key] = value

    def add_units(self, trigger: PointsTrigger, value: Decimal) -> Decimal:
        if self.units is None:
            self.units = dict(self.before.units)
        units = self.units[trigger.key] = _EXACT.add(self.units.get(trigger.key, ZERO), value)
        return units

    def move(self, amount: int) -> int:
        """Add `amount` within the bounds; returns what was actually added."""
        total = bounded(self.total, amount, self.system.max_points)
        added, self.total = total - self.total, total
        return added

    def award(
        self,
        trigger: PointsTrigger,
        added: int,
        count: int,
        time_ms: int,
        boosts: tuple[str, ...],
        ledger: Ledger,
    ) -> None:
        """Record what a trigger added in this command (nothing when the bounds left it 0)."""
        if added == 0:
            return
        self.awards.append(
            PointsAward(
                id=award_id(ledger.user_id, self.system.key, trigger.key, ledger.event_id),
                trigger=trigger.key,
                points=added,
                time_ms=time_ms,
                total=self.total,
                count=count,
                boosts=boosts,
            )
        )

    def state(self, ledger: Ledger) -> PointsState:
        before, limits = self.before, ledger.rules.limits
        awards = before.awards
        if self.awards:
            awards = (*before.awards, *(_kept(a, ledger.event_id) for a in self.awards))[
                -limits.points_awards :
            ]
        return PointsState(
            total=self.total,
            level=level_of(self.system, self.total),
            awards=awards,
            days=_days(before.days, self.awards, ledger, limits.points_days),
            counts=before.counts if self.counts is None else self.counts,
            units=before.units if self.units is None else self.units,
        )

    def changed(self) -> bool:
        return bool(self.awards) or self.counts is not None or self.units is not None


def _kept(a: PointsAward, event_id: str) -> KeptAward:
    return KeptAward(
        trigger=a.trigger,
        event_id=event_id,
        points=a.points,
        time_ms=a.time_ms,
        total=a.total,
        count=a.count,
        boosts=a.boosts,
    )


def _days(
    days: tuple[PointsDay, ...], awards: Sequence[PointsAward], ledger: Ledger, keep: int
) -> tuple[PointsDay, ...]:
    """The day history with these awards counted on their local days. Days run forward: an
    award dated before the latest kept day (an out-of-order time) counts on that day."""
    if not awards:
        return days
    out = list(days)
    for award in awards:
        day = local_ordinal(award.time_ms, ledger.tz)
        if out and day <= out[-1].day:
            last = out[-1]
            out[-1] = PointsDay(day=last.day, added=last.added + award.points, total=award.total)
        else:
            out.append(PointsDay(day=day, added=award.points, total=award.total))
    return tuple(out[-keep:])


class Ledger:
    """The points systems of one user while one command is applied."""

    __slots__ = ("drafts", "event_id", "rules", "stored", "time_ms", "tz", "user_id")

    def __init__(self, held: Mapping[str, PointsState], rules: Rules, moment: Moment) -> None:
        self.stored, self.rules = held, rules
        self.user_id, self.event_id = moment.user_id, moment.event_id
        self.time_ms, self.tz = moment.time_ms, moment.tz
        self.drafts: dict[str, _Draft] = {}

    def draft(self, system: PointsSystem) -> _Draft:
        d = self.drafts.get(system.key)
        if d is None:
            d = self.drafts[system.key] = _Draft(system, self.stored.get(system.key, EMPTY))
        return d

    def once(self, system: PointsSystem, trigger: PointsTrigger, attrs: Mapping[str, str]) -> None:
        """An achievement or user-creation trigger: fires at most once per user."""
        d = self.draft(system)
        if d.count(trigger) or not matches(trigger.user_attributes, attrs):
            return
        d.set_count(trigger, 1)
        points, boosts = boosted(system, trigger.points, self.time_ms, attrs)
        d.award(trigger, d.move(points), 1, self.time_ms, boosts, self)

    def metric(
        self,
        system: PointsSystem,
        trigger: PointsTrigger,
        value: Decimal,
        event_attrs: Mapping[str, str],
        attrs: Mapping[str, str],
    ) -> None:
        """Count the event's value when it passes the filters; fire once per whole threshold
        the counted units have newly passed (the highest ever reached: no second firing
        when units go down and up again)."""
        if not matches(trigger.event_attributes, event_attrs):
            return
        if not matches(trigger.user_attributes, attrs):
            return
        d = self.draft(system)
        units = d.add_units(trigger, value)
        reached = int(_EXACT.divide_int(units, trigger.threshold or 1))  # towards zero
        done = d.count(trigger)
        if reached <= done:
            return
        d.set_count(trigger, reached)
        points, boosts = boosted(system, trigger.points, self.time_ms, attrs)
        n = reached - done
        d.award(trigger, d.move(points * n), n, self.time_ms, boosts, self)

    def streak(
        self, system: PointsSystem, trigger: PointsTrigger, length: int, attrs: Mapping[str, str]
    ) -> None:
        """The streak was extended to `length`: fire at every multiple of `streak_length`."""
        if length % trigger.streak_length or not matches(trigger.user_attributes, attrs):  # type: ignore[operator]
            return
        d = self.draft(system)
        d.set_count(trigger, d.count(trigger) + 1)
        points, boosts = boosted(system, trigger.points, self.time_ms, attrs)
        d.award(trigger, d.move(points), 1, self.time_ms, boosts, self)

    def settle(
        self,
        pairs: Iterable[tuple[PointsSystem, PointsTrigger]],
        created_ms: int,
        attrs: Mapping[str, str],
    ) -> None:
        """Time triggers: fire once per interval of the user's existence ended by now, each
        firing boosted as at its own end time. Triggers settle in file order."""
        for system, trigger in pairs:
            interval = trigger.interval_ms
            due = (self.time_ms - created_ms) // interval if self.time_ms > created_ms else 0
            d = self.drafts.get(system.key)
            stored = self.stored.get(system.key, EMPTY).counts if d is None else None
            done = d.count(trigger) if stored is None else stored.get(trigger.key, 0)  # type: ignore[union-attr]
            if due <= done:
                continue  # the common case: no interval ended since the last command
            d = self.draft(system)
            d.set_count(trigger, due)
            if not matches(trigger.user_attributes, attrs):
                continue  # the intervals passed all the same
            # Between two boost cuts every firing is worth the same, and within such a run the
            # total moves one way, so bounding the run's sum equals bounding each firing.
            cuts = {c for b in system.boosts for c in _cuts(b, created_ms, interval)}
            lo, added = done + 1, 0
            applied: tuple[str, ...] = ()
            for end in sorted({c for c in cuts if lo < c <= due} | {due + 1}):
                points, boosts = boosted(system, trigger.points, created_ms + lo * interval, attrs)
                added += d.move(points * (end - lo))
                applied += tuple(b for b in boosts if b not in applied)
                lo = end
            last = created_ms + due * interval
            d.award(trigger, added, due - done, last, applied, self)

    def result(self) -> tuple[dict[str, PointsState] | None, list[PointsChanged]]:
        """The user's new points map (None: unchanged) and the facts, in file order."""
        changed = [d for d in self.drafts.values() if d.changed()]
        if not changed:
            return None, []
        points = dict(self.stored)
        facts = []
        for system in self.rules.points.values():
            d = self.drafts.get(system.key)
            if d is None or not d.changed():
                continue
            new = points[system.key] = d.state(self)
            if d.awards:
                facts.append(
                    PointsChanged(
                        id=d.awards[0].id,
                        user_id=self.user_id,
                        system=system.key,
                        event_id=self.event_id,
                        time_ms=self.time_ms,
                        total=new.total,
                        added=new.total - d.before.total,
                        awards=tuple(d.awards),
                        previous_level=d.before.level,
                        level=new.level,
                    )
                )
        return points, facts


def _cuts(boost: PointsBoost, created_ms: int, interval: int) -> tuple[int, ...]:
    """The firing indexes (firing i ends at created + i * interval) at which the boost turns
    on and off: the first index at or after its start, and at or after its end."""
    first = -((created_ms - boost.start_ms) // interval)  # ceiling division
    if boost.end_ms is None:
        return (first,)
    return first, -((created_ms - boost.end_ms) // interval)


def apply(
    before: UserState | None,
    held: Mapping[str, PointsState],
    moment: Moment,
    command: Command,
    facts: Sequence[object],
    rules: Rules,
) -> tuple[dict[str, PointsState] | None, list[PointsChanged]]:
    """The points a non-replayed command changed: `before` is the user's state before it
    (None: first seen), `held` the user's points systems, `moment` the command as the fold
    saw it (the user's zone and attributes after it), `facts` its other records.
    Returns the new `UserState.points` (None when nothing changed) and the facts."""
    index = rules.points_index
    ledger = Ledger(held, rules, moment)
    if index.time and before is not None:
        ledger.settle(index.time, before.created_ms, before.attributes)
    attrs = moment.attributes
    if before is None:
        for system, trigger in index.user_creation:
            ledger.once(system, trigger, attrs)
    if isinstance(command, MetricTracked):
        for system, trigger in index.by_metric.get(command.metric, ()):
            ledger.metric(system, trigger, command.value, command.attributes, attrs)
    for fact in facts:
        if isinstance(fact, AchievementCompleted):
            for system, trigger in index.by_achievement.get(fact.achievement, ()):
                ledger.once(system, trigger, attrs)
        elif isinstance(fact, StreakChanged) and fact.kind in ("started", "extended"):
            for system, trigger in index.streak:
                ledger.streak(system, trigger, fact.length, attrs)
    return ledger.result()


def due(state: UserState, at_ms: int, rules: Rules) -> bool:
    """Whether a tick at `at_ms` would settle a time trigger interval for this user."""
    for system, trigger in rules.points_index.time:
        elapsed = (
            (at_ms - state.created_ms) // trigger.interval_ms if at_ms > state.created_ms else 0
        )
        counts = state.points.get(system.key, EMPTY).counts
        if elapsed > counts.get(trigger.key, 0):
            return True
    return False
