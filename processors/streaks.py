"""Streak rules: one streak per user, kept by meeting the period's metric thresholds.

Pure functions over `schemas.state.StreakState`; the fold calls `advance` for every command
(settling missed periods, crediting auto-earned freezes, counting the command's metric) and
`snapshot` for the `Progress` record. Facts go out as `StreakChanged` (`podium.streaks`).
See docs/semantics.md for the choices where Trophy is silent.
"""

from __future__ import annotations

from decimal import Decimal

from processors.metrics import exact_add
from processors.periods import iso, local_ordinal, period_bounds, period_index, period_iso
from processors.snapshots import snapshot
from schemas.records import StreakChanged, StreakChangeKind
from schemas.rules import Rules, Streak
from schemas.state import HistoryEntry, StreakState

__all__ = ["advance", "initial_streak", "snapshot"]
ZERO = Decimal(0)


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


class _Draft:
    """A mutable working copy of one StreakState while a command is applied."""

    __slots__ = (
        "anchor",
        "covered",
        "earned",
        "event_id",
        "extended_ms",
        "freezes",
        "history",
        "length",
        "longest",
        "out",
        "period",
        "progress",
        "rule",
        "started",
        "time_ms",
        "user_id",
        "week_start",
    )

    def __init__(
        self,
        s: StreakState,
        rule: Streak,
        week_start: int,
        user_id: str,
        event_id: str,
        time_ms: int,
        out: list[StreakChanged],
    ) -> None:
        self.length, self.longest, self.started = s.length, s.longest, s.started
        self.covered, self.period, self.progress = s.covered, s.period, s.progress
        self.extended_ms, self.freezes, self.anchor = s.extended_ms, s.freezes, s.freeze_anchor
        self.earned, self.history = s.freeze_earned, s.history
        self.rule, self.week_start, self.out = rule, week_start, out
        self.user_id, self.event_id, self.time_ms = user_id, event_id, time_ms

    def state(self) -> StreakState:
        return StreakState(
            length=self.length,
            longest=self.longest,
            started=self.started,
            covered=self.covered,
            period=self.period,
            progress=self.progress,
            extended_ms=self.extended_ms,
            freezes=self.freezes,
            freeze_anchor=self.anchor,
            freeze_earned=self.earned,
            history=self.history,
        )

    def emit(self, kind: StreakChangeKind, period: int, tag: str | None = None) -> None:
        self.out.append(
            _change(
                kind,
                period,
                tag,
                self.rule,
                self.week_start,
                self.user_id,
                self.event_id,
                self.time_ms,
                self.length,
                self.longest,
                self.started,
                self.freezes,
            )
        )

    def remember(self, period: int, used_freeze: bool) -> None:
        entry = _entry(period, self.length, used_freeze)
        self.history = _appended(self.history, entry, self.rule.history_periods)

    def earn(self, upto: int) -> None:
        """Credit auto-earned freezes whose earn date is on or before `upto`."""
        fz = self.rule.freezes
        if fz is None or fz.auto_earn_interval_days == 0 or self.anchor is None:
            return
        due = (upto - self.anchor) // fz.auto_earn_interval_days
        while self.earned < due:
            self.earned += 1
            if self.freezes >= fz.max:
                self.earned = due  # capped: the rest of this stretch is lost
                return
            self.freezes = min(fz.max, self.freezes + fz.auto_earn_amount)
            on = self.anchor + self.earned * fz.auto_earn_interval_days
            period = period_index(on, self.rule.frequency, self.week_start)
            self.emit("freeze_earned", period, tag=iso(on))

    def settle(self, day: int, period: int) -> None:
        """Close the periods before `period`: use freezes for missed ones, or lose."""
        if self.anchor is None:
            self.anchor = day
        covered = self.covered
        if covered is not None and period > covered + 1:
            for missed in range(covered + 1, period):
                self.earn(period_bounds(missed, self.rule.frequency, self.week_start)[1] + 1)
                if self.freezes > 0:
                    self.freezes -= 1
                    self.covered = missed
                    self.remember(missed, used_freeze=True)
                    self.emit("freeze_consumed", missed)
                else:
                    self.emit("lost", missed)
                    self.length, self.started, self.covered = 0, None, None
                    break
        self.earn(day)
        if self.period != period:
            self.period, self.progress = period, {}

    def count(self, metric: str, value: Decimal, day: int) -> bool:
        """Add the metric to the period's progress; True when this extended the streak."""
        progress = dict(self.progress)
        progress[metric] = exact_add(progress.get(metric, ZERO), value)
        self.progress = progress
        if self.period is None or self.covered == self.period or not _met(self.rule, progress):
            return False
        self.extend(day)
        return True

    def extend(self, day: int) -> None:
        """The current period's thresholds are met: the streak grows (or starts)."""
        period = self.period
        assert period is not None
        if self.covered is None:
            self.length, self.started = 1, day
            kind: StreakChangeKind = "started"
        else:
            self.length += 1
            kind = "extended"
        self.covered, self.extended_ms = period, self.time_ms
        self.longest = max(self.longest, self.length)
        self.remember(period, used_freeze=False)
        self.emit(kind, period)


def _change(
    kind: StreakChangeKind,
    period: int,
    tag: str | None,
    rule: Streak,
    week_start: int,
    user_id: str,
    event_id: str,
    time_ms: int,
    length: int,
    longest: int,
    started: int | None,
    freezes: int,
) -> StreakChanged:
    start, end = period_iso(period, rule.frequency, week_start)
    return StreakChanged(
        id=f"{user_id}:streak:{kind}:{tag or start}",
        kind=kind,
        user_id=user_id,
        event_id=event_id,
        time_ms=time_ms,
        length=length,
        longest=longest,
        frequency=rule.frequency,
        started=None if started is None else iso(started),
        period_start=start,
        period_end=end,
        freezes=None if rule.freezes is None else freezes,
        backfilled=False,
    )


def _appended(
    history: tuple[HistoryEntry, ...], entry: HistoryEntry, keep: int
) -> tuple[HistoryEntry, ...]:
    if len(history) < keep:
        return (*history, entry)
    return (*history[len(history) - keep + 1 :], entry)


def _met(rule: Streak, progress: dict[str, Decimal]) -> bool:
    need_all = rule.combine == "all"
    for t in rule.thresholds:
        if (progress.get(t.metric, ZERO) >= t.value) != need_all:
            return not need_all  # "any": one met is enough; "all": one unmet fails
    return need_all


def initial_streak(rules: Rules) -> StreakState:
    fz = rules.streak.freezes if rules.streak else None
    return StreakState(
        length=0,
        longest=0,
        started=None,
        covered=None,
        period=None,
        progress={},
        extended_ms=None,
        freezes=fz.initial if fz else 0,
        freeze_anchor=None,
        freeze_earned=0,
        history=(),
    )


def advance(
    s: StreakState,
    rules: Rules,
    tz: str | None,
    time_ms: int,
    user_id: str,
    event_id: str,
    metric: str | None,
    value: Decimal,
    out: list[StreakChanged],
) -> tuple[StreakState, bool]:
    """Settle the streak at `time_ms` and count `metric` (None: settle only).

    Returns the new state and whether this command extended the streak; appends facts to
    `out`. The period is never earlier than the latest one seen (time does not run backwards
    for a streak, whatever the event times or time-zone changes).
    """
    rule = rules.streak
    if rule is None:
        return s, False
    day = local_ordinal(time_ms, tz)
    period = (
        day if rule.frequency == "daily" else period_index(day, rule.frequency, rules.week_start)
    )
    if s.period is not None and period < s.period:
        period = s.period
    counts = metric is not None and metric in rules.streak_metrics
    anchor, fz = s.freeze_anchor, rule.freezes
    quiet = (  # no missed period and no freeze auto-earn due (inline: it runs per command)
        anchor is not None
        and (s.covered is None or period <= s.covered + 1)
        and (
            fz is None
            or not fz.auto_earn_interval_days
            or (day - anchor) // fz.auto_earn_interval_days <= s.freeze_earned
        )
    )
    if quiet:  # nothing to settle: the common case, handled without a draft
        if not counts or metric is None or s.covered == period:
            if period == s.period:
                return s, False
            return _moved(s, period, {}), False
        progress = dict(s.progress) if period == s.period else {}
        progress[metric] = exact_add(progress.get(metric, ZERO), value)
        if not _met(rule, progress):
            return _moved(s, period, progress), False
        return _grown(
            s, rule, rules.week_start, period, progress, day, user_id, event_id, time_ms, out
        ), True
    draft = _Draft(s, rule, rules.week_start, user_id, event_id, time_ms, out)
    draft.settle(day, period)
    extended = counts and draft.count(metric, value, day)  # type: ignore[arg-type]
    return draft.state(), extended


def _grown(
    s: StreakState,
    rule: Streak,
    week_start: int,
    period: int,
    progress: dict[str, Decimal],
    day: int,
    user_id: str,
    event_id: str,
    time_ms: int,
    out: list[StreakChanged],
) -> StreakState:
    """`_Draft.extend` when nothing needed settling, without the draft (the common case)."""
    kind: StreakChangeKind
    started: int | None
    if s.covered is None:
        length, started, kind = 1, day, "started"
    else:
        length, started, kind = s.length + 1, s.started, "extended"
    longest = length if length > s.longest else s.longest
    out.append(
        _change(
            kind,
            period,
            None,
            rule,
            week_start,
            user_id,
            event_id,
            time_ms,
            length,
            longest,
            started,
            s.freezes,
        )
    )
    history = _appended(s.history, _entry(period, length, False), rule.history_periods)
    return StreakState(
        length=length,
        longest=longest,
        started=started,
        covered=period,
        period=period,
        progress=progress,
        extended_ms=time_ms,
        freezes=s.freezes,
        freeze_anchor=s.freeze_anchor,
        freeze_earned=s.freeze_earned,
        history=history,
    )


def _moved(s: StreakState, period: int, progress: dict[str, Decimal]) -> StreakState:
    """The streak with a new current period or progress, nothing else changed."""
    return StreakState(
        length=s.length,
        longest=s.longest,
        started=s.started,
        covered=s.covered,
        period=period,
        progress=progress,
        extended_ms=s.extended_ms,
        freezes=s.freezes,
        freeze_anchor=s.freeze_anchor,
        freeze_earned=s.freeze_earned,
        history=s.history,
    )
