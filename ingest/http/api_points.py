"""The HTTP API's points shapes (Trophy's `PointsResponse`, `PointsTrigger`, `PointsLevel`,
`PointsBoost`, `PointsAward`, the event summary and the two histograms; see the `trophy` SDK's
`types/`). Pure: no Redis, no clock (`now_ms` is passed in).

Ids are the rules' keys (a system's, a trigger's, a level's, a boost's); an award's id is
`schemas.records.award_id`. Podium's systems live in the rules file, so every trigger is
`active` and a trigger's `created`/`updated` are the epoch (Podium keeps no such times).

A user's points in a view document are a `schemas.views.Points`: the total, the level, the
kept awards and the kept days (local dates in the user's zone), oldest first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from msgspec import UNSET

from ingest.http import answers_points as out
from ingest.http.answer_parts import KeyValue
from ingest.http.answers_points import BoostStatus
from ingest.http.api import attributes_param, int_param, number, timestamp
from ingest.http.requests import ApiError
from processors.core.summaries import AGGREGATIONS
from schemas.records import PointsChanged, award_id
from schemas.rules import PointsBoost, PointsLevel, PointsSystem, PointsTrigger, Rules
from schemas.views import Points, PointsDay

DEFAULT_AWARDS = 10
MAX_AWARDS = 100
MAX_SUMMARY_DAYS = 400
SUMMARY_BUCKETS = 10  # after the [0, 0] bucket: Trophy's eleven ranges
EPOCH = timestamp(0)


def _pairs(attrs: Mapping[str, str]) -> list[KeyValue]:
    return [KeyValue(k, v) for k, v in attrs.items()]


def system_base(system: PointsSystem) -> dict[str, Any]:
    """Trophy's `PointsResponse` fields of a system, by `out.PointsResponse` field."""
    return {
        "id": system.key,
        "key": system.key,
        "name": system.name,
        "description": system.description,
        "badge_url": system.badge_url,
        "max_points": system.max_points,
    }


def trigger_json(trigger: PointsTrigger, rules: Rules) -> out.PointsTrigger:
    """Trophy's `PointsTrigger`."""
    fields: dict[str, Any] = {}
    if trigger.type == "metric" and trigger.metric is not None:
        fields["metric_id"] = trigger.metric
        fields["metric_name"] = rules.metrics[trigger.metric].name
        fields["metric_threshold"] = number(trigger.threshold)
        fields["event_attributes"] = _pairs(trigger.event_attributes)
        if trigger.event_attributes:
            fields["event_attribute"] = _pairs(trigger.event_attributes)[0]
    elif trigger.type == "achievement" and trigger.achievement is not None:
        fields["achievement_id"] = trigger.achievement
        fields["achievement_name"] = rules.achievements[trigger.achievement].name
    elif trigger.type == "streak":
        fields["streak_length_threshold"] = trigger.streak_length
    elif trigger.type == "time":
        fields["time_unit"] = trigger.time_unit
        fields["time_interval"] = trigger.time_interval
    return out.PointsTrigger(
        id=trigger.key,
        type=trigger.type,
        points=trigger.points,
        status="active",
        user_attributes=_pairs(trigger.user_attributes),
        created=EPOCH,
        updated=EPOCH,
        **fields,
    )


def system_json(system: PointsSystem, rules: Rules) -> out.PointsSystem:
    """Trophy's `PointsSystemResponse`: the system and its (active) triggers."""
    base = system_base(system)
    base.pop("key")
    return out.PointsSystem(**base, triggers=[trigger_json(t, rules) for t in system.triggers])


def level_json(level: PointsLevel) -> out.PointsLevel:
    """Trophy's `PointsLevel` (its description is a string: empty when the rules give none)."""
    return out.PointsLevel(
        id=level.key,
        key=level.key,
        name=level.name,
        description=level.description or "",
        badge_url=level.badge_url,
        points=level.points,
    )


def boost_status(boost: PointsBoost, now_ms: int) -> BoostStatus:
    if now_ms < boost.start_ms:
        return "scheduled"
    if boost.end_ms is not None and now_ms >= boost.end_ms:
        return "finished"
    return "active"


def boost_json(boost: PointsBoost, now_ms: int) -> out.PointsBoost:
    """Trophy's `PointsBoost` (start and end as ISO 8601 instants; `end` null: open)."""
    return out.PointsBoost(
        id=boost.key,
        name=boost.name,
        status=boost_status(boost, now_ms),
        start=timestamp(boost.start_ms),
        end=None if boost.end_ms is None else timestamp(boost.end_ms),
        multiplier=float(boost.multiplier),
        rounding=boost.rounding,
    )


def system_boosts(
    system: PointsSystem, now_ms: int, include_finished: bool
) -> list[out.PointsBoost]:
    """GET /points/{key}/boosts: the system's boosts, finished ones only when asked."""
    return [
        boost_json(b, now_ms)
        for b in system.boosts
        if include_finished or boost_status(b, now_ms) != "finished"
    ]


def user_boosts(
    system: PointsSystem, attributes: Mapping[str, str], now_ms: int
) -> list[out.PointsBoost]:
    """GET /users/{id}/points/{key}/boosts: the active boosts this user is eligible for."""
    return [
        boost_json(b, now_ms)
        for b in system.boosts
        if boost_status(b, now_ms) == "active"
        and all(attributes.get(k) == v for k, v in b.user_attributes.items())
    ]


def award_json(
    system: PointsSystem,
    rules: Rules,
    now_ms: int,
    award_id_: str,
    trigger: str,
    points: int,
    time_ms: int,
    total: int,
    boosts: Sequence[str],
) -> out.PointsAward:
    """Trophy's `PointsAward` (a trigger or boost no longer in the rules is left out)."""
    triggers = {t.key: t for t in system.triggers}
    by_key = {b.key: b for b in system.boosts}
    return out.PointsAward(
        id=award_id_,
        awarded=points,
        date=timestamp(time_ms),
        total=total,
        trigger=trigger_json(triggers[trigger], rules) if trigger in triggers else None,
        boosts=[boost_json(by_key[k], now_ms) for k in boosts if k in by_key],
    )


def level_of(system: PointsSystem, key: str | None) -> out.PointsLevel | None:
    level = next((lv for lv in system.levels if lv.key == key), None)
    return None if level is None else level_json(level)


def event_points(
    changes: Sequence[PointsChanged], rules: Rules, now_ms: int
) -> dict[str, out.PointsChange]:
    """`EventResponse.points` (and the completion answer's): the systems this command changed,
    each with `added`, `total`, `awards`, and `level` only when the level changed."""
    changed: dict[str, out.PointsChange] = {}
    for c in changes:
        system = rules.points.get(c.system)
        if system is None:
            continue
        awards = [
            award_json(
                system, rules, now_ms, a.id, a.trigger, a.points, a.time_ms, a.total, a.boosts
            )
            for a in c.awards
        ]
        level = level_of(system, c.level) if c.level != c.previous_level else UNSET
        changed[system.key] = out.PointsChange(
            **system_base(system), total=c.total, added=c.added, awards=awards, level=level
        )
    return changed


def user_points(
    system: PointsSystem,
    rules: Rules,
    user_id: str,
    standing: Points | None,
    awards: int,
    now_ms: int,
) -> out.UserPoints:
    """Trophy's `GetUserPointsResponse`: the total, the level and the latest awards (newest
    first). `standing` is the user's points in the view document (None: never awarded)."""
    standing = standing or Points(total=0)
    return out.UserPoints(
        **system_base(system),
        total=standing.total,
        level=level_of(system, standing.level),
        awards=[
            award_json(
                system,
                rules,
                now_ms,
                award_id(user_id, system.key, a.trigger, a.event_id),
                a.trigger,
                a.points,
                a.time_ms,
                a.total,
                a.boosts,
            )
            for a in reversed(standing.awards[-awards:])
        ],
    )


# --- query parameters (422, the status Trophy's document lists for these operations) -------


def unprocessable(exc: ApiError) -> ApiError:
    return ApiError(422, exc.message, exc.headers)


def awards_param(raw: str | None) -> int:
    try:
        return int_param(raw, "awards", DEFAULT_AWARDS, 1, MAX_AWARDS)
    except ApiError as exc:
        raise unprocessable(exc) from None


def include_finished_param(raw: str | None) -> bool:
    """`includeFinished` of GET /points/{key}/boosts: `true` (any case) includes the finished
    boosts, any other value is the default (left out), never a refusal. Trophy's document
    lists only 200, 401 and 404 (an unknown system) for the operation, and its prose names
    only 'true'; its SDKs send true or false."""
    return raw is not None and raw.lower() == "true"


def user_attributes_param(raw: str | None) -> dict[str, str] | None:
    try:
        return attributes_param(raw)
    except ApiError as exc:
        raise unprocessable(exc) from None


def date_param(raw: str | None, name: str) -> date:
    if raw is None or raw == "":
        raise ApiError(422, f"{name}: missing; expected a date as YYYY-MM-DD")
    try:
        if len(raw) != 10:
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(422, f"{name}: expected a date as YYYY-MM-DD, got {raw[:40]!r}") from None


def summary_params(
    aggregation: str | None, start: str | None, end: str | None
) -> tuple[str, date, date]:
    """`aggregation`, `startDate`, `endDate` of an event summary (at most 400 days)."""
    if aggregation not in AGGREGATIONS:
        got = "missing" if aggregation is None else f"got {aggregation[:40]!r}"
        raise ApiError(422, f"aggregation: expected one of {', '.join(AGGREGATIONS)}; {got}")
    first, last = date_param(start, "startDate"), date_param(end, "endDate")
    if last < first:
        raise ApiError(422, f"endDate: {last} is before startDate {first}")
    if (last - first).days > MAX_SUMMARY_DAYS:
        raise ApiError(
            422,
            f"endDate: the range {first} to {last} exceeds {MAX_SUMMARY_DAYS} days",
        )
    return aggregation, first, last


# --- summaries ------------------------------------------------------------------------------


def _period_start(ordinal: int, aggregation: str, week_start: int) -> int:
    if aggregation == "weekly":
        return ordinal - (date.fromordinal(ordinal).weekday() - week_start) % 7
    if aggregation == "monthly":
        return date.fromordinal(ordinal).replace(day=1).toordinal()
    return ordinal


def total_at(days: Sequence[PointsDay], ordinal: int) -> int:
    """The total at the end of a local day, from the kept days (oldest first): the last kept
    day not after it; before the first kept day, that day's start."""
    before = [d for d in days if d.day.toordinal() <= ordinal]
    if before:
        return before[-1].total
    if days:
        return days[0].total - days[0].added
    return 0


def event_summary(
    days: Sequence[PointsDay], aggregation: str, first: date, last: date, week_start: int
) -> list[out.PointsDay]:
    """Trophy's points event summary: per period from `first` to `last` (local dates), the
    period's first date, the total at its end (within the range) and the change in it."""
    added = {d.day.toordinal(): d.added for d in days}
    periods: dict[int, list[int]] = {}
    for ordinal in range(first.toordinal(), last.toordinal() + 1):
        periods.setdefault(_period_start(ordinal, aggregation, week_start), []).append(ordinal)
    return [
        out.PointsDay(  # a week that begins before 0001-01-01 is dated 0001-01-01, its first day
            date=date.fromordinal(max(start, 1)).isoformat(),
            total=total_at(days, inside[-1]),
            change=sum(added.get(o, 0) for o in inside),
        )
        for start, inside in periods.items()
    ]


def summary_ranges(top: int) -> list[tuple[int, int]]:
    """Trophy's eleven ranges: [0, 0], then ten equal ranges from 1 up to the greatest total
    rounded up to a power of ten (at least 10)."""
    bound = 10
    while bound < top:
        bound *= 10
    width = bound // SUMMARY_BUCKETS
    return [(0, 0)] + [(1 + i * width, (i + 1) * width) for i in range(SUMMARY_BUCKETS)]


def count_ranges(totals: Sequence[int], ranges: Sequence[tuple[int, int]]) -> list[int]:
    """Users per range (a total at or below 0 counts in the first)."""
    return [
        sum(1 for t in totals if (t <= hi if i == 0 else lo <= t <= hi))
        for i, (lo, hi) in enumerate(ranges)
    ]


def summary_json(ranges: Sequence[tuple[int, int]], counts: Sequence[int]) -> list[out.PointsRange]:
    """Trophy's `PointsSummaryResponse`."""
    return [out.PointsRange(lo, hi, n) for (lo, hi), n in zip(ranges, counts, strict=True)]


def level_ranges(system: PointsSystem) -> list[tuple[int, int | None]]:
    """[threshold, next threshold - 1] per level, lowest first (None: no upper bound)."""
    points = [lv.points for lv in system.levels]
    return [(p, points[i + 1] - 1 if i + 1 < len(points) else None) for i, p in enumerate(points)]


def count_levels(totals: Sequence[int], system: PointsSystem) -> list[int]:
    return [
        sum(1 for t in totals if lo <= t and (hi is None or t <= hi))
        for lo, hi in level_ranges(system)
    ]


def require_levels(system: PointsSystem) -> None:
    """The level summary of a system without levels is 422, Trophy's answer ("No levels
    configured on the points system")."""
    if not system.levels:
        raise ApiError(422, f"points system {system.key!r} has no levels")


def level_summary_json(system: PointsSystem, counts: Sequence[int]) -> list[out.PointsLevelUsers]:
    """Trophy's `PointsLevelSummaryResponse`: users per level, lowest level first."""
    return [
        out.PointsLevelUsers(level_json(lv), n) for lv, n in zip(system.levels, counts, strict=True)
    ]
