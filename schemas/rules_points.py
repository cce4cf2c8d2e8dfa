"""Validation of the `[[points]]` systems of a rules document (see `schemas.rules_parse`).

    [[points]]                         key, name, description, badge_url, max_points
    [[points.triggers]]                key, type, points and the type's fields:
                                       metric: metric, threshold, event_attributes
                                       achievement: achievement; streak: streak_length
                                       time: time_unit ("hour" | "day"), time_interval
                                       every type: user_attributes
    [[points.levels]]                  key, name, points, description, badge_url
    [[points.boosts]]                  key, name, multiplier, start, end, rounding,
                                       user_attributes

Errors read `<file>: points[0].triggers[2].metric: unknown metric 'word'`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from schemas.rules import (
    POINTS_TRIGGERS,
    ROUNDINGS,
    TIME_UNITS,
    Achievement,
    Metric,
    PointsBoost,
    PointsLevel,
    PointsSystem,
    PointsTrigger,
    Streak,
)
from schemas.rules_doc import Doc, kind_of

SYSTEM_KEYS = (
    "key",
    "name",
    "description",
    "badge_url",
    "max_points",
    "triggers",
    "levels",
    "boosts",
)
TRIGGER_KEYS = ("key", "type", "points", "user_attributes")
PER_TYPE = {
    "metric": ("metric", "threshold", "event_attributes"),
    "achievement": ("achievement",),
    "streak": ("streak_length",),
    "user_creation": (),
    "time": ("time_unit", "time_interval"),
}
LEVEL_KEYS = ("key", "name", "points", "description", "badge_url")
BOOST_KEYS = ("key", "name", "multiplier", "start", "end", "rounding", "user_attributes")
MAX_AMOUNT = 1_000_000_000  # per firing, either sign
MAX_TOTAL = 10**15
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MS = timedelta(milliseconds=1)


def parse_points(
    d: Doc,
    raw: object,
    metrics: Mapping[str, Metric],
    achievements: Mapping[str, Achievement],
    streak: Streak | None,
) -> dict[str, PointsSystem]:
    if not isinstance(raw, list):
        raise d.error("points", "expected an array of tables ([[points]])")
    out: dict[str, PointsSystem] = {}
    index: dict[str, int] = {}
    for i, item in enumerate(raw):
        system = _system(d, item, f"points[{i}]", metrics, achievements, streak)
        if system.key in out:
            raise d.error(
                f"points[{i}].key",
                f"duplicate key {system.key!r} (first at points[{index[system.key]}])",
            )
        out[system.key] = system
        index[system.key] = i
    return out


def _optional(d: Doc, t: Mapping[str, Any], name: str, path: str) -> str | None:
    return d.string(t[name], f"{path}.{name}") if name in t else None


def _unique(d: Doc, keys: list[str], path: str, what: str) -> None:
    for j, key in enumerate(keys):
        if key in keys[:j]:
            first = keys.index(key)
            raise d.error(
                f"{path}[{j}].key", f"duplicate {what} key {key!r} (first at {path}[{first}])"
            )


def _array(d: Doc, t: Mapping[str, Any], name: str, path: str) -> list[Any]:
    raw = t.get(name, [])
    if not isinstance(raw, list):
        raise d.error(f"{path}.{name}", f"expected an array of tables ([[points.{name}]])")
    return raw


def _system(
    d: Doc,
    raw: object,
    path: str,
    metrics: Mapping[str, Metric],
    achievements: Mapping[str, Achievement],
    streak: Streak | None,
) -> PointsSystem:
    t = d.table(raw, path, SYSTEM_KEYS)
    key = d.string(t.get("key"), f"{path}.key", key=True)
    cap = None
    if "max_points" in t:
        cap = d.integer(t["max_points"], f"{path}.max_points", 1, MAX_TOTAL)
    triggers = [
        _trigger(d, item, f"{path}.triggers[{j}]", metrics, achievements, streak)
        for j, item in enumerate(_array(d, t, "triggers", path))
    ]
    _unique(d, [x.key for x in triggers], f"{path}.triggers", "trigger")
    levels = [
        _level(d, item, f"{path}.levels[{j}]", cap)
        for j, item in enumerate(_array(d, t, "levels", path))
    ]
    _unique(d, [x.key for x in levels], f"{path}.levels", "level")
    for j, level in enumerate(levels):
        for other in levels[:j]:
            if other.points == level.points:
                raise d.error(
                    f"{path}.levels[{j}].points",
                    f"level {other.key!r} has the threshold {level.points} already",
                )
    boosts = [
        _boost(d, item, f"{path}.boosts[{j}]")
        for j, item in enumerate(_array(d, t, "boosts", path))
    ]
    _unique(d, [x.key for x in boosts], f"{path}.boosts", "boost")
    return PointsSystem(
        key=key,
        name=d.string(t.get("name"), f"{path}.name"),
        description=_optional(d, t, "description", path),
        badge_url=_optional(d, t, "badge_url", path),
        max_points=cap,
        triggers=tuple(triggers),
        levels=tuple(sorted(levels, key=lambda level: level.points)),
        boosts=tuple(boosts),
    )


def _trigger(
    d: Doc,
    raw: object,
    path: str,
    metrics: Mapping[str, Metric],
    achievements: Mapping[str, Achievement],
    streak: Streak | None,
) -> PointsTrigger:
    every = TRIGGER_KEYS + tuple(k for keys in PER_TYPE.values() for k in keys)
    t = d.table(raw, path, every)
    key = d.string(t.get("key"), f"{path}.key", key=True)
    kind = t.get("type")
    if kind not in POINTS_TRIGGERS:
        raise d.error(
            f"{path}.type", f"expected one of {', '.join(POINTS_TRIGGERS)}, got {kind_of(kind)}"
        )
    for name in t:
        if name not in TRIGGER_KEYS and name not in PER_TYPE[kind]:
            raise d.error(f"{path}.{name}", f"not allowed for type {kind!r}")
    points = d.integer(t.get("points"), f"{path}.points", -MAX_AMOUNT, MAX_AMOUNT)
    if points == 0:
        raise d.error(f"{path}.points", "must not be 0 (negative deducts)")
    fields: dict[str, Any] = {
        "key": key,
        "type": kind,
        "points": points,
        "user_attributes": d.str_map(t.get("user_attributes", {}), f"{path}.user_attributes"),
    }
    if kind == "metric":
        fields.update(_metric_fields(d, t, path, metrics))
    elif kind == "achievement":
        ach = d.string(t.get("achievement"), f"{path}.achievement")
        if ach not in achievements:
            raise d.error(f"{path}.achievement", f"unknown achievement {ach!r}")
        fields["achievement"] = ach
    elif kind == "streak":
        if streak is None:
            raise d.error(f"{path}.type", "a streak trigger needs a [streak] section")
        fields["streak_length"] = d.integer(
            t.get("streak_length"), f"{path}.streak_length", 1, 100_000
        )
    elif kind == "time":
        unit = t.get("time_unit")
        if unit not in TIME_UNITS:
            raise d.error(f"{path}.time_unit", f"expected 'hour' or 'day', got {kind_of(unit)}")
        fields["time_unit"] = unit
        fields["time_interval"] = d.integer(
            t.get("time_interval"), f"{path}.time_interval", 1, 100_000
        )
    return PointsTrigger(**fields)


def _metric_fields(
    d: Doc, t: Mapping[str, Any], path: str, metrics: Mapping[str, Metric]
) -> dict[str, Any]:
    metric = d.string(t.get("metric"), f"{path}.metric")
    if metric not in metrics:
        raise d.error(f"{path}.metric", f"unknown metric {metric!r}")
    if "threshold" not in t:
        raise d.error(f"{path}.threshold", "missing: the units of the metric per firing")
    threshold = d.number(t["threshold"], f"{path}.threshold")
    if threshold <= 0:
        raise d.error(f"{path}.threshold", f"must be greater than 0, got {threshold}")
    return {
        "metric": metric,
        "threshold": threshold,
        "event_attributes": d.str_map(t.get("event_attributes", {}), f"{path}.event_attributes"),
    }


def _level(d: Doc, raw: object, path: str, cap: int | None) -> PointsLevel:
    t = d.table(raw, path, LEVEL_KEYS)
    key = d.string(t.get("key"), f"{path}.key", key=True)
    points = d.integer(t.get("points"), f"{path}.points", 0, cap or MAX_TOTAL)
    return PointsLevel(
        key=key,
        name=d.string(t.get("name"), f"{path}.name"),
        points=points,
        description=_optional(d, t, "description", path),
        badge_url=_optional(d, t, "badge_url", path),
    )


def _boost(d: Doc, raw: object, path: str) -> PointsBoost:
    t = d.table(raw, path, BOOST_KEYS)
    key = d.string(t.get("key"), f"{path}.key", key=True)
    if "multiplier" not in t:
        raise d.error(f"{path}.multiplier", "missing: the factor on awarded points")
    multiplier = d.number(t["multiplier"], f"{path}.multiplier")
    if not Decimal(0) < multiplier < Decimal(100) or multiplier == 1:
        raise d.error(
            f"{path}.multiplier",
            f"must be greater than 0, less than 100 and not 1, got {multiplier}",
        )
    if "start" not in t:
        raise d.error(f"{path}.start", "missing: when the boost begins (e.g. 2025-01-01T00:00:00Z)")
    start = _instant(d, t["start"], f"{path}.start")
    end = None if "end" not in t else _instant(d, t["end"], f"{path}.end")
    if end is not None and end <= start:
        raise d.error(f"{path}.end", "must be after start")
    rounding = t.get("rounding", "down")
    if rounding not in ROUNDINGS:
        raise d.error(
            f"{path}.rounding", f"expected one of {', '.join(ROUNDINGS)}, got {kind_of(rounding)}"
        )
    return PointsBoost(
        key=key,
        name=d.string(t.get("name"), f"{path}.name"),
        multiplier=multiplier,
        start_ms=start,
        end_ms=end,
        rounding=rounding,
        user_attributes=d.str_map(t.get("user_attributes", {}), f"{path}.user_attributes"),
    )


def _instant(d: Doc, raw: object, path: str) -> int:
    """Epoch ms of a TOML offset date-time, an ISO string with an offset, or a date (00:00
    UTC). A local date-time is refused: the boost window must not depend on a server zone."""
    value = raw
    if isinstance(raw, str):
        try:
            value = datetime.fromisoformat(raw) if "T" in raw else date.fromisoformat(raw)
        except ValueError:
            raise d.error(path, f"not an ISO 8601 date or date-time: {raw!r}") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise d.error(path, "needs a UTC offset (e.g. 2025-01-01T00:00:00Z)")
        return (value - EPOCH) // ONE_MS
    if isinstance(value, date):
        return (datetime(value.year, value.month, value.day, tzinfo=UTC) - EPOCH) // ONE_MS
    raise d.error(path, f"expected a date-time, got {kind_of(raw)}")
