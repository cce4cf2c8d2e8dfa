"""The one camelCase rendering of a streak, shared by the Redis view document
(`processors.core.views`) and the HTTP answers (`ingest.http.api`), and the streak parts of Trophy's
responses read back from a view document (layout in `schemas.views`). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from processors.core.views import snapshot_fields
from schemas.records import StreakSnapshot
from schemas.rules import Rules

BASE_FIELDS = ("length", "frequency", "started", "periodStart", "periodEnd", "expires")
FREEZE_FIELDS = ("freezes", "maxFreezes", "freezeAutoEarnInterval", "freezeAutoEarnAmount")


def snapshot_json(snap: StreakSnapshot | None) -> dict[str, Any] | None:
    return None if snap is None else snapshot_fields(snap)


def streak_json(snap: Mapping[str, Any] | None, rules: Rules) -> dict[str, Any]:
    """Trophy's `BaseStreakResponse` fields from a view's (or snapshot's) camelCase streak."""
    if snap is None:
        freq = rules.streak.frequency if rules.streak else "daily"
        return {"length": 0, "frequency": freq, **dict.fromkeys(BASE_FIELDS[2:])}
    out = {k: snap.get(k) for k in BASE_FIELDS}
    for k in FREEZE_FIELDS:
        if snap.get(k) is not None:
            out[k] = snap[k]
    return out


def history_json(view: Mapping[str, Any], periods: int) -> list[dict[str, Any]]:
    """The last `periods` kept streak periods, oldest first (Trophy's streakHistory). A row
    of a view written before days off has no `usedPause` column: no pause."""
    if not periods:
        return []
    return [
        {
            "periodStart": row[0],
            "periodEnd": row[1],
            "length": row[2],
            "usedFreeze": bool(row[3]),
            "usedPause": len(row) > 4 and bool(row[4]),
        }
        for row in (view.get("history") or [])[-periods:]
    ]
