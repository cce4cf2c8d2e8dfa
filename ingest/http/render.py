"""The streak parts of Trophy's answers (`ingest.http.answers`), read from a view document's
camelCase streak (layout in `schemas.views`) or a `Progress`'s snapshot. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ingest.http.answers import StreakPeriod
from processors.core.views import snapshot_fields
from schemas.records import StreakSnapshot
from schemas.rules import Rules

# the view's camelCase name of each `Streak` field
BASE_FIELDS = {
    "length": "length",
    "frequency": "frequency",
    "started": "started",
    "periodStart": "period_start",
    "periodEnd": "period_end",
    "expires": "expires",
}
FREEZE_FIELDS = {
    "freezes": "freezes",
    "maxFreezes": "max_freezes",
    "freezeAutoEarnInterval": "freeze_auto_earn_interval",
    "freezeAutoEarnAmount": "freeze_auto_earn_amount",
}


def snapshot_json(snap: StreakSnapshot | None) -> dict[str, Any] | None:
    return None if snap is None else snapshot_fields(snap)


def streak_fields(snap: Mapping[str, Any] | None, rules: Rules) -> dict[str, Any]:
    """Trophy's `BaseStreakResponse` fields, by `Streak` field name, from a view's (or
    snapshot's) camelCase streak; no streak: length 0 in the rules' frequency."""
    if snap is None:
        freq = rules.streak.frequency if rules.streak else "daily"
        return {"length": 0, "frequency": freq, **dict.fromkeys(list(BASE_FIELDS.values())[2:])}
    out = {name: snap.get(camel) for camel, name in BASE_FIELDS.items()}
    for camel, name in FREEZE_FIELDS.items():
        if snap.get(camel) is not None:
            out[name] = snap[camel]
    return out


def history_json(view: Mapping[str, Any], periods: int) -> list[StreakPeriod]:
    """The last `periods` kept streak periods, oldest first (Trophy's streakHistory). A row
    of a view written before days off has no `usedPause` column: no pause."""
    if not periods:
        return []
    return [
        StreakPeriod(
            period_start=row[0],
            period_end=row[1],
            length=row[2],
            used_freeze=bool(row[3]),
            used_pause=len(row) > 4 and bool(row[4]),
        )
        for row in (view.get("history") or [])[-periods:]
    ]
