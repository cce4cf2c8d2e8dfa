"""Trophy's points answers as msgspec Structs (built by `ingest.http.api_points`, encoded and
turned into OpenAPI component schemas like `ingest.http.answers`). Ids are the rules' keys."""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import UNSET, Struct, UnsetType

from ingest.http.answer_parts import Answer, Day, KeyValue, Timestamp
from schemas.rules import PointsTriggerType, Rounding, TimeUnit

BoostStatus = Literal["active", "scheduled", "finished"]


class PointsTrigger(Answer):
    """Trophy's `PointsTrigger`: every trigger of the rules file is `active`, and its
    `created`/`updated` are the epoch (Podium keeps no such times); a type's own fields only
    for that type."""

    id: str
    type: PointsTriggerType
    points: int
    status: Literal["active"]
    user_attributes: list[KeyValue]
    created: Timestamp
    updated: Timestamp
    metric_id: str | UnsetType = UNSET  # type "metric", with the four below
    metric_name: str | UnsetType = UNSET
    metric_threshold: float | UnsetType = UNSET
    event_attributes: list[KeyValue] | UnsetType = UNSET
    event_attribute: KeyValue | UnsetType = UNSET  # the first of them, when any
    achievement_id: str | UnsetType = UNSET  # type "achievement"
    achievement_name: str | UnsetType = UNSET
    streak_length_threshold: int | UnsetType = UNSET  # type "streak"
    time_unit: TimeUnit | UnsetType = UNSET  # type "time"
    time_interval: int | UnsetType = UNSET


class PointsLevel(Answer):
    """Trophy's `PointsLevel` (its description is a string: empty when the rules give none)."""

    id: str
    key: str
    name: str
    description: str
    badge_url: str | None
    points: int


class PointsBoost(Answer):
    """Trophy's `PointsBoost`: `end` null when open-ended."""

    id: str
    name: str
    status: BoostStatus
    start: Timestamp
    end: Timestamp | None
    multiplier: float
    rounding: Rounding


class PointsAward(Answer):
    """Trophy's `PointsAward`; `trigger` null when the rules no longer have it."""

    id: str
    awarded: int
    date: Timestamp
    total: int
    trigger: PointsTrigger | None
    boosts: list[PointsBoost]


class PointsResponse(Answer):
    """Trophy's `PointsResponse` fields of a system."""

    id: str
    key: str
    name: str
    description: str | None
    badge_url: str | None
    max_points: int | None


class UserPoints(PointsResponse, kw_only=True):
    """Trophy's `GetUserPointsResponse`: the total, the level (null: none reached) and the
    latest awards, newest first."""

    total: int
    level: PointsLevel | None
    awards: list[PointsAward]


class PointsChange(PointsResponse, kw_only=True):
    """A system a write changed (`EventResponse.points`): `level` only when it changed."""

    total: int
    added: int
    awards: list[PointsAward]
    level: PointsLevel | UnsetType | None = UNSET


class PointsSystem(Answer):
    """Trophy's `PointsSystemResponse`: the system and its (active) triggers."""

    id: str
    name: str
    description: str | None
    badge_url: str | None
    max_points: int | None
    triggers: list[PointsTrigger]


class PointsRange(Struct):
    """An item of Trophy's `PointsSummaryResponse`: the users whose total is in the range."""

    from_: int = msgspec.field(name="from")
    to: int
    users: int


class PointsLevelUsers(Struct):
    """An item of Trophy's `PointsLevelSummaryResponse`."""

    level: PointsLevel
    users: int


class PointsDay(Struct):
    """An item of a user's points event summary: a period's first day, the total at its end
    and the change in it."""

    date: Day
    total: float
    change: float


POINTS_ANSWERS = (
    PointsResponse,
    UserPoints,
    PointsChange,
    PointsSystem,
    PointsRange,
    PointsLevelUsers,
    PointsDay,
)
