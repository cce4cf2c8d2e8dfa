"""The streak as `Progress` records (and Trophy's `currentStreak`) show it. Pure.

Split from `processors.core.streaks` (which re-exports `snapshot`): building the snapshot is
separate from advancing the streak, and it is memoised.
"""

from __future__ import annotations

from processors.core.periods import iso, js_weekday, next_period, period_iso
from schemas.records import StreakSnapshot
from schemas.rules import Rules, Streak
from schemas.state import StreakState

# Snapshots are immutable values that many users share on the same day (the same dates,
# length and freezes), so one object per distinct snapshot serves every Progress record: a
# dict lookup is cheaper than computing dates and building a 12-field object per command.
_snapshots: dict[tuple[object, ...], StreakSnapshot] = {}
_snapshots_rule: list[Streak | None] = [None]  # the rule the cached snapshots were made for
_CACHE_LIMIT = 100_000


def snapshot(s: StreakState, rules: Rules, extended: bool) -> StreakSnapshot | None:
    """The streak as the `Progress` record (and Trophy's response) shows it."""
    rule = rules.streak
    if rule is None:
        return None
    key = (
        s.period,
        s.covered,
        s.started,
        s.length,
        s.longest,
        s.freezes,
        extended,
        rules.week_start,
    )
    if _snapshots_rule[0] is rule:
        hit = _snapshots.get(key)
        if hit is not None:
            return hit
    else:
        _snapshots.clear()
        _snapshots_rule[0] = rule
    if len(_snapshots) >= _CACHE_LIMIT:
        _snapshots.clear()
    made = _snapshots[key] = _snapshot(s, rule, rules.week_start, extended)
    return made


def _next_counted(period: int, rule: Streak) -> int:
    """The first period after `period` that counts: a missed day off only pauses the streak,
    so it expires at the end of the first day after the kept one that is not a day off."""
    following = next_period(period)
    while rule.days_off and js_weekday(following) in rule.days_off:
        following = next_period(following)  # ends: the rules keep at least one day counting
    return following


def _snapshot(s: StreakState, rule: Streak, ws: int, extended: bool) -> StreakSnapshot:
    frequency = rule.frequency
    start, end = (None, None) if s.period is None else period_iso(s.period, frequency, ws)
    expires = None
    if s.covered is not None and s.length:
        expires = period_iso(_next_counted(s.covered, rule), frequency, ws)[1]
    started = None if s.started is None else iso(s.started)
    fz = rule.freezes
    interval = (fz.auto_earn_interval_days or None) if fz else None
    return StreakSnapshot(
        length=s.length,
        frequency=frequency,
        started=started,
        period_start=start,
        period_end=end,
        expires=expires,
        extended=extended,
        longest=s.longest,
        freezes=None if fz is None else s.freezes,
        max_freezes=None if fz is None else fz.max,
        freeze_auto_earn_interval=interval,
        freeze_auto_earn_amount=fz.auto_earn_amount if fz and interval else None,
    )
