"""The view document of one user's state (layout in `schemas.views`). Pure: the projector
calls it for every `podium.state` record it applies."""

from __future__ import annotations

from typing import Any

from processors.core.periods import iso, period_bounds
from processors.core.streaks import snapshot
from schemas.records import StreakSnapshot
from schemas.rules import Rules
from schemas.state import UserState


def snapshot_fields(snap: StreakSnapshot) -> dict[str, Any]:
    """A streak snapshot in camelCase (the view's `streak` adds `longest`)."""
    return {
        "length": snap.length,
        "frequency": snap.frequency,
        "started": snap.started,
        "periodStart": snap.period_start,
        "periodEnd": snap.period_end,
        "expires": snap.expires,
        "freezes": snap.freezes,
        "maxFreezes": snap.max_freezes,
        "freezeAutoEarnInterval": snap.freeze_auto_earn_interval,
        "freezeAutoEarnAmount": snap.freeze_auto_earn_amount,
    }


def _streak(state: UserState, rules: Rules) -> dict[str, Any] | None:
    snap = snapshot(state.streak, rules, extended=False)
    if snap is None:
        return None
    return {**snapshot_fields(snap), "longest": snap.longest}


def _history(state: UserState, rules: Rules) -> list[list[Any]]:
    """[periodStart, periodEnd, length, usedFreeze, usedPause] per period, oldest first; a
    period between two kept ones that the state does not keep had no streak (length 0)."""
    if rules.streak is None:
        return []
    freq, ws = rules.streak.frequency, rules.week_start
    paused = frozenset(state.streak.paused_periods)
    out: list[list[Any]] = []
    previous: int | None = None
    for entry in sorted(state.streak.history, key=lambda h: h.period):
        if previous is not None:
            for gap in range(previous + 1, entry.period):
                first, last = period_bounds(gap, freq, ws)
                out.append([iso(first), iso(last), 0, False, False])
        first, last = period_bounds(entry.period, freq, ws)
        out.append([iso(first), iso(last), entry.length, entry.used_freeze, entry.period in paused])
        previous = entry.period
    return out[-rules.streak.history_periods :] if rules.streak.history_periods else out


def _points(state: UserState) -> dict[str, Any]:
    """Per points system: total, level, the kept awards and days (layout in
    `ingest.http.api_points`)."""
    return {
        key: {
            "total": p.total,
            "level": p.level,
            "awards": [
                [a.trigger, a.event_id, a.points, a.time_ms, a.total, a.count, list(a.boosts)]
                for a in p.awards
            ],
            "days": [[d.day, d.added, d.total] for d in p.days],
        }
        for key, p in state.points.items()
    }


def user_view(state: UserState, rules: Rules) -> dict[str, Any]:
    """The view document of one user's state."""
    return {
        "userId": state.user_id,
        "email": state.email,
        "name": state.name,
        "tz": state.tz,
        "deviceTokens": None if state.device_tokens is None else list(state.device_tokens),
        "subscribeToEmails": state.subscribe_to_emails,
        "attributes": dict(state.attributes),
        "signUpDate": state.sign_up_date,
        "notifications": {k: list(v) for k, v in state.notifications.items()},
        "createdMs": state.created_ms,
        "updatedMs": state.updated_ms,
        "events": state.events,
        "totals": {k: str(v) for k, v in state.totals.items()},
        "achievements": dict(state.achievements),
        "streak": _streak(state, rules),
        "extendedMs": state.streak.extended_ms,
        "history": _history(state, rules),
        "recent": list(state.recent_events),
        "points": _points(state),
        "metricDays": {
            m: [[iso(d.day), str(d.added), str(d.total)] for d in days]
            for m, days in state.metric_days.items()
        },
    }
