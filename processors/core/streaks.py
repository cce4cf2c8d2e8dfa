"""Streak rules: one streak per user, kept by meeting the period's metric thresholds.

Pure functions over the frozen `schemas.state.StreakState`: the fold calls `advance` for every
command (settling missed periods, crediting auto-earned freezes, counting the command's
metric) and `snapshot` for the `Progress` record. Facts go out as `StreakChanged`
(`podium.streaks`). Calendar arithmetic is `processors.core.periods`'. See docs/semantics.md for
the choices where Trophy is silent.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from processors.core.metrics import exact_add, remember
from processors.core.moment import Moment
from processors.core.periods import (
    iso,
    js_weekday,
    period_bounds,
    period_index,
    period_iso,
)
from processors.core.snapshots import snapshot
from schemas.records import StreakChanged, StreakChangeKind
from schemas.rules import Freezes, Rules, Streak
from schemas.state import HistoryEntry, Paused, StreakState, pauses
from schemas.values import replace

__all__ = ["advance", "initial_streak", "snapshot"]
ZERO = Decimal(0)


class _Step(NamedTuple):
    """What one command brings besides the state: the rule, the command, where facts go."""

    rule: Streak
    week_start: int
    moment: Moment
    out: list[StreakChanged]

    def emit(self, kind: StreakChangeKind, period: int, s: StreakState, tag: str = "") -> None:
        """Record a fact about period `period`, showing the streak `s`."""
        rule, moment = self.rule, self.moment
        start, end = period_iso(period, rule.frequency, self.week_start)
        fact = StreakChanged(
            id=f"{moment.user_id}:streak:{kind}:{tag or start}",
            kind=kind,
            user_id=moment.user_id,
            event_id=moment.event_id,
            time_ms=moment.time_ms,
            length=s.length,
            longest=s.longest,
            frequency=rule.frequency,
            started=None if s.started is None else iso(s.started),
            period_start=start,
            period_end=end,
            freezes=None if rule.freezes is None else s.freezes,
        )
        self.out.append(fact)


def initial_streak(rules: Rules) -> StreakState:
    fz = rules.streak.freezes if rules.streak else None
    return StreakState(freezes=fz.initial if fz else 0)


def advance(
    s: StreakState, rules: Rules, moment: Moment, metric: str | None, value: Decimal
) -> tuple[StreakState, bool, list[StreakChanged]]:
    """Settle the streak at the moment and count `metric` (None: settle only).

    Returns the new state (`s` itself when nothing changed), whether this command extended
    the streak, and the facts. The period is never earlier than the latest one seen (time
    does not run backwards for a streak, whatever the event times or zone changes).
    """
    rule = rules.streak
    out: list[StreakChanged] = []
    if rule is None:
        return s, False, out
    day = moment.day
    period = period_index(day, rule.frequency, rules.week_start)
    if s.period is not None and period < s.period:
        period = s.period
    step = None
    if _unsettled(s, rule.freezes, day, period):
        step = _Step(rule, rules.week_start, moment, out)
        s = _settle(s, step, day, period)
    progress = s.progress if period == s.period else {}
    if metric is not None and s.covered != period and metric in rules.streak_metrics:
        progress = {**progress, metric: exact_add(progress.get(metric, ZERO), value)}
        if _met(rule, progress):
            step = step or _Step(rule, rules.week_start, moment, out)
            return _extend(s, step, period, progress, day), True, out
    if progress is s.progress:
        return s, False, out
    return replace(s, period=period, progress=progress), False, out


def _unsettled(s: StreakState, fz: Freezes | None, day: int, period: int) -> bool:
    """Whether settling has work: the first day, a missed period, or a freeze earn due."""
    if s.freeze_anchor is None or (s.covered is not None and period > s.covered + 1):
        return True
    every = 0 if fz is None else fz.auto_earn_interval_days
    return every > 0 and (day - s.freeze_anchor) // every > s.freeze_earned


def _settle(s: StreakState, step: _Step, day: int, period: int) -> StreakState:
    """Close the periods before `period`, in order: a missed day off pauses the streak, a
    freeze keeps each other missed one, else the streak is lost. Freezes earned by the day
    after a missed period count for it."""
    if s.freeze_anchor is None:
        s = replace(s, freeze_anchor=day)  # the user's first day: auto-earn counts from it
    if s.covered is not None:
        off = step.rule.days_off  # daily streaks only: a period is a date ordinal
        for missed in range(s.covered + 1, period):
            s = _earn(s, step, period_bounds(missed, step.rule.frequency, step.week_start)[1] + 1)
            if off and js_weekday(missed) in off:
                s = _pause(s, step, missed)
            elif s.freezes > 0:
                s = _freeze(s, step, missed)
            else:
                step.emit("lost", missed, s)  # the fact shows the length that was lost
                s = replace(s, length=0, started=None, covered=None)
                break
    return _earn(s, step, day)


def _pause(s: StreakState, step: _Step, missed: int) -> StreakState:
    """A missed day off keeps the streak paused: the length stays, no freeze is used, the
    period joins the history as paused. No fact: length, freezes and start are unchanged."""
    history = remember(
        s.history, _entry(missed, s.length, used_freeze=False), step.rule.history_periods
    )
    paused = _kept_pauses((*s.paused_periods, missed), history)
    return replace(s, covered=missed, history=history, paused=paused)


def _kept_pauses(periods: tuple[int, ...], history: tuple[HistoryEntry, ...]) -> Paused:
    """The paused periods `history` still keeps (it drops its oldest beyond the bound)."""
    oldest = history[0].period if history else 0
    if periods and periods[0] < oldest:
        periods = tuple(p for p in periods if p >= oldest)
    return pauses(periods)


def _freeze(s: StreakState, step: _Step, missed: int) -> StreakState:
    """A freeze keeps the missed period: the length stays, the period joins the history."""
    entry = _entry(missed, s.length, used_freeze=True)
    history = remember(s.history, entry, step.rule.history_periods)
    s = replace(
        s,
        freezes=s.freezes - 1,
        covered=missed,
        history=history,
        paused=_kept_pauses(s.paused_periods, history),
    )
    step.emit("freeze_consumed", missed, s)
    return s


def _earn(s: StreakState, step: _Step, upto: int) -> StreakState:
    """Credit the auto-earned freezes dated on or before `upto`, one fact each."""
    fz = step.rule.freezes
    anchor = s.freeze_anchor
    if fz is None or not fz.auto_earn_interval_days or anchor is None:
        return s
    every = fz.auto_earn_interval_days
    due = (upto - anchor) // every
    while s.freeze_earned < due:
        if s.freezes >= fz.max:
            return replace(s, freeze_earned=due)  # capped: the rest of this stretch is lost
        earned = s.freeze_earned + 1
        s = replace(s, freezes=min(fz.max, s.freezes + fz.auto_earn_amount), freeze_earned=earned)
        on = anchor + earned * every
        step.emit(
            "freeze_earned", period_index(on, step.rule.frequency, step.week_start), s, iso(on)
        )
    return s


def _extend(
    s: StreakState, step: _Step, period: int, progress: dict[str, Decimal], day: int
) -> StreakState:
    """The period's thresholds are met: the streak grows by one (or starts, on `day`)."""
    kind: StreakChangeKind
    started: int | None
    if s.covered is None:
        kind, length, started = "started", 1, day
    else:
        kind, length, started = "extended", s.length + 1, s.started
    entry = _entry(period, length, used_freeze=False)
    history = remember(s.history, entry, step.rule.history_periods)
    grown = StreakState(
        length=length,
        longest=max(s.longest, length),
        started=started,
        covered=period,
        period=period,
        progress=progress,
        extended_ms=step.moment.time_ms,
        freezes=s.freezes,
        freeze_anchor=s.freeze_anchor,
        freeze_earned=s.freeze_earned,
        history=history,
        paused=_kept_pauses(s.paused_periods, history),
    )
    step.emit(kind, period, grown)
    return grown


def _met(rule: Streak, progress: dict[str, Decimal]) -> bool:
    need_all = rule.combine == "all"
    for t in rule.thresholds:
        if (progress.get(t.metric, ZERO) >= t.value) != need_all:
            return not need_all  # "any": one met is enough; "all": one unmet fails
    return need_all


_entries: dict[tuple[int, int, bool], HistoryEntry] = {}


def _entry(period: int, length: int, used_freeze: bool) -> HistoryEntry:
    """A history entry, shared: entries are immutable and repeat across users, and sharing
    keeps the histories of many users small and in cache."""
    key = (period, length, used_freeze)
    hit = _entries.get(key)
    if hit is None:
        if len(_entries) >= 100_000:
            _entries.clear()
        hit = _entries[key] = HistoryEntry(period=period, length=length, used_freeze=used_freeze)
    return hit
