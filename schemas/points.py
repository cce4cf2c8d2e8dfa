"""Points values: the awards and `PointsChanged` facts (`podium.points`, inside `Progress`)
and the per-user, per-system state kept in `UserState.points` (`podium.state`).

Ids are deterministic: an award is `{user}:points:{system}:{trigger}:{seq}`, where `seq`
counts the trigger's firings for that user (a metric trigger: thresholds crossed; a time
trigger: intervals elapsed), so the same history gives the same ids. A `PointsChanged` takes
the id of its first award. Wire format as for every record: camelCase, epoch ms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class PointsAward:
    """What one trigger added in one command (one or several firings of it)."""

    id: str
    trigger: str  # the trigger's key in the rules file
    points: int  # added to the total, after boosts and bounds; negative deducts
    time_ms: int  # the command's time; for a time trigger, when its last interval ended
    total: int  # the system's total after this award
    count: int = 1  # firings (one metric event may cross several thresholds)
    boosts: tuple[str, ...] = ()  # keys of the boosts that multiplied it


@dataclass(frozen=True, slots=True)
class PointsChanged:
    """A user's total in one points system changed in one command. id = awards[0].id."""

    id: str
    user_id: str
    system: str
    event_id: str
    time_ms: int
    total: int
    added: int
    awards: tuple[PointsAward, ...]
    previous_level: str | None = None  # level keys; None: below every level (or none set)
    level: str | None = None
    backfilled: bool = False


@dataclass(frozen=True, slots=True)
class PointsDay:
    """One local day (date ordinal in the user's zone) on which the total changed."""

    day: int
    added: int
    total: int  # at the end of that day


@dataclass(frozen=True, slots=True)
class PointsState:
    """One user's standing in one points system."""

    total: int = 0
    level: str | None = None
    awards: tuple[PointsAward, ...] = ()  # the latest `limits.points_awards`, oldest first
    days: tuple[PointsDay, ...] = ()  # the latest `limits.points_days` days, oldest first
    counts: Mapping[str, int] = field(default_factory=dict)  # trigger key -> firings so far
    units: Mapping[str, Decimal] = field(default_factory=dict)  # metric trigger -> units


def award_id(user_id: str, system: str, trigger: str, seq: int) -> str:
    return f"{user_id}:points:{system}:{trigger}:{seq}"


# --- codecs ---------------------------------------------------------------------------------


def award_json(a: PointsAward) -> dict[str, Any]:
    return {
        "id": a.id,
        "trigger": a.trigger,
        "points": a.points,
        "timeMs": a.time_ms,
        "total": a.total,
        "count": a.count,
        "boosts": list(a.boosts),
    }


def award_of(obj: Mapping[str, Any]) -> PointsAward:
    return PointsAward(
        id=obj["id"],
        trigger=obj["trigger"],
        points=obj["points"],
        time_ms=obj["timeMs"],
        total=obj["total"],
        count=obj.get("count", 1),
        boosts=tuple(obj.get("boosts") or ()),
    )


def changed_json(c: PointsChanged) -> dict[str, Any]:
    return {
        "id": c.id,
        "userId": c.user_id,
        "system": c.system,
        "eventId": c.event_id,
        "timeMs": c.time_ms,
        "total": c.total,
        "added": c.added,
        "awards": [award_json(a) for a in c.awards],
        "previousLevel": c.previous_level,
        "level": c.level,
        "backfilled": c.backfilled,
    }


def changed_of(obj: Mapping[str, Any]) -> PointsChanged:
    return PointsChanged(
        id=obj["id"],
        user_id=obj["userId"],
        system=obj["system"],
        event_id=obj["eventId"],
        time_ms=obj["timeMs"],
        total=obj["total"],
        added=obj["added"],
        awards=tuple(award_of(a) for a in obj["awards"]),
        previous_level=obj.get("previousLevel"),
        level=obj.get("level"),
        backfilled=bool(obj.get("backfilled", False)),
    )


def state_json(p: PointsState) -> dict[str, Any]:
    """Compact: an award as [trigger, seq, points, timeMs, total, count, boosts] (its id is
    rebuilt from the user, the system and these), a day as [day, added, total]."""
    return {
        "total": p.total,
        "level": p.level,
        "awards": [
            [a.trigger, _seq(a.id), a.points, a.time_ms, a.total, a.count, list(a.boosts)]
            for a in p.awards
        ],
        "days": [[d.day, d.added, d.total] for d in p.days],
        "counts": dict(p.counts),
        "units": {k: str(v) for k, v in p.units.items()},
    }


def state_of(obj: Mapping[str, Any], user_id: str, system: str) -> PointsState:
    return PointsState(
        total=obj["total"],
        level=obj["level"],
        awards=tuple(
            PointsAward(
                id=award_id(user_id, system, trigger, seq),
                trigger=trigger,
                points=points,
                time_ms=time_ms,
                total=total,
                count=count,
                boosts=tuple(boosts),
            )
            for trigger, seq, points, time_ms, total, count, boosts in obj["awards"]
        ),
        days=tuple(PointsDay(day=d, added=a, total=t) for d, a, t in obj["days"]),
        counts=dict(obj["counts"]),
        units={k: Decimal(v) for k, v in obj["units"].items()},
    )


def _seq(award_id: str) -> int:
    return int(award_id.rsplit(":", 1)[1])
