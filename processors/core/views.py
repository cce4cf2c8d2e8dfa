"""The `UserView` of one user's state (`schemas.views`). Pure: the projector calls it for
every `podium.state` record it applies."""

from __future__ import annotations

from datetime import date

from processors.core.periods import period_bounds
from processors.core.streaks import snapshot
from schemas.rules import Rules
from schemas.state import UserState
from schemas.views import MetricDay, Points, PointsDay, Streak, StreakPeriod, UserView


def _day(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def _streak(state: UserState, rules: Rules) -> Streak | None:
    snap = snapshot(state.streak, rules, extended=False)
    if snap is None:
        return None
    return Streak(
        length=snap.length,
        longest=snap.longest,
        frequency=snap.frequency,
        started=_day(snap.started),
        period_start=_day(snap.period_start),
        period_end=_day(snap.period_end),
        expires=_day(snap.expires),
        freezes=snap.freezes,
        max_freezes=snap.max_freezes,
        freeze_auto_earn_interval=snap.freeze_auto_earn_interval,
        freeze_auto_earn_amount=snap.freeze_auto_earn_amount,
    )


def _period(index: int, rules: Rules, length: int, freeze: bool, pause: bool) -> StreakPeriod:
    assert rules.streak is not None
    first, last = period_bounds(index, rules.streak.frequency, rules.week_start)
    return StreakPeriod(date.fromordinal(first), date.fromordinal(last), length, freeze, pause)


def _history(state: UserState, rules: Rules) -> tuple[StreakPeriod, ...]:
    """The kept periods, oldest first; a period between two kept ones that the state does
    not keep had no streak (length 0)."""
    if rules.streak is None:
        return ()
    paused = frozenset(state.streak.paused_periods)
    out: list[StreakPeriod] = []
    previous: int | None = None
    for entry in sorted(state.streak.history, key=lambda h: h.period):
        if previous is not None:
            out.extend(
                _period(gap, rules, 0, False, False) for gap in range(previous + 1, entry.period)
            )
        out.append(
            _period(entry.period, rules, entry.length, entry.used_freeze, entry.period in paused)
        )
        previous = entry.period
    kept = rules.streak.history_periods
    return tuple(out[-kept:] if kept else out)


def _points(state: UserState) -> dict[str, Points]:
    """Per points system: total, level, the kept awards and days."""
    return {
        key: Points(
            total=p.total,
            level=p.level,
            awards=p.awards,
            days=tuple(PointsDay(date.fromordinal(d.day), d.added, d.total) for d in p.days),
        )
        for key, p in state.points.items()
    }


def user_view(state: UserState, rules: Rules) -> UserView:
    """The view document of one user's state."""
    return UserView(
        user_id=state.user_id,
        email=state.email,
        name=state.name,
        tz=state.tz,
        device_tokens=state.device_tokens,
        subscribe_to_emails=state.subscribe_to_emails,
        attributes=dict(state.attributes),
        sign_up_date=_day(state.sign_up_date),
        notifications=dict(state.notifications),
        created_ms=state.created_ms,
        updated_ms=state.updated_ms,
        events=state.events,
        totals=dict(state.totals),
        achievements=dict(state.achievements),
        streak=_streak(state, rules),
        extended_ms=state.streak.extended_ms,
        history=_history(state, rules),
        recent=state.recent_events,
        points=_points(state),
        metric_days={
            m: tuple(MetricDay(date.fromordinal(d.day), d.added, d.total) for d in days)
            for m, days in state.metric_days.items()
        },
    )
