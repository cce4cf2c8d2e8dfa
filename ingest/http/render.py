"""The streak parts of Trophy's answers (`ingest.http.answers`), read from a view document's
streak (`schemas.views.Streak`) or a `Progress`'s snapshot. Pure.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ingest.http.answers import StreakPeriod
from schemas.records import StreakSnapshot
from schemas.rules import Rules
from schemas.views import Streak, UserView

FREEZE_FIELDS = ("freezes", "max_freezes", "freeze_auto_earn_interval", "freeze_auto_earn_amount")


def _iso(day: date | str | None) -> str | None:
    """A view's day (a date) or a snapshot's (already ISO) as the answer prints it."""
    return day.isoformat() if isinstance(day, date) else day


def streak_fields(snap: Streak | StreakSnapshot | None, rules: Rules) -> dict[str, Any]:
    """Trophy's `BaseStreakResponse` fields, by `Streak` field name, from a view's (or a
    snapshot's) streak; no streak: length 0 in the rules' frequency. The freeze fields are
    there when the streak has them."""
    if snap is None:
        freq = rules.streak.frequency if rules.streak else "daily"
        none = dict.fromkeys(("started", "period_start", "period_end", "expires"))
        return {"length": 0, "frequency": freq, **none}
    out: dict[str, Any] = {
        "length": snap.length,
        "frequency": snap.frequency,
        "started": _iso(snap.started),
        "period_start": _iso(snap.period_start),
        "period_end": _iso(snap.period_end),
        "expires": _iso(snap.expires),
    }
    for name in FREEZE_FIELDS:
        if getattr(snap, name) is not None:
            out[name] = getattr(snap, name)
    return out


def history_json(view: UserView, periods: int) -> list[StreakPeriod]:
    """The last `periods` kept streak periods, oldest first (Trophy's streakHistory)."""
    if not periods:
        return []
    return [
        StreakPeriod(
            period_start=row.period_start.isoformat(),
            period_end=row.period_end.isoformat(),
            length=row.length,
            used_freeze=row.used_freeze,
            used_pause=row.used_pause,
        )
        for row in view.history[-periods:]
    ]
