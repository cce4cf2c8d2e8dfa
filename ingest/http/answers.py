"""Trophy's answers as msgspec Structs: one declaration gives the JSON the gateway sends
(`msgspec.json.encode`, camelCase names) and the component schemas of its OpenAPI document
(`ingest.openapi_types`). A field that Trophy leaves out when it does not apply defaults to
`UNSET` (never encoded); a field Trophy always sends, null or not, has no default."""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import UNSET, Meta, Struct, UnsetType

from schemas.records import AchievementTrigger

Timestamp = Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
Day = Annotated[str, Meta(extra_json_schema={"format": "date"})]

# Answer parts still built as dicts, their schemas written by hand (`ingest.openapi_points`,
# `ingest.openapi_leaderboards`): the points a write changed, the boards it moved.
EventPoints = Annotated[
    dict[str, Any],
    Meta(extra_json_schema={"allOf": [{"$ref": "#/components/schemas/EventPoints"}]}),
]
EventLeaderboards = Annotated[
    dict[str, Any],
    Meta(
        extra_json_schema={
            "additionalProperties": {"$ref": "#/components/schemas/EventLeaderboard"}
        }
    ),
]


class Answer(Struct, rename="camel", kw_only=True):
    """The camelCase base of every answer."""


class KeyValue(Struct):
    key: str
    value: str


class AchievementResponse(Answer):
    """Trophy's `AchievementResponse`: ids are the rules' keys; the trigger's own fields
    are there only for that trigger."""

    id: str
    name: str
    trigger: AchievementTrigger
    description: str | None
    badge_url: str | None
    user_attributes: list[KeyValue]
    key: str | UnsetType = UNSET  # trigger "api"
    streak_length: int | UnsetType = UNSET  # trigger "streak"
    anniversary_years: int | UnsetType = UNSET  # trigger "anniversary"
    achievement_ids: list[str] | UnsetType = UNSET  # trigger "achievement"
    metric_id: str | UnsetType = UNSET  # trigger "metric", with the three below
    metric_value: float | UnsetType = UNSET
    metric_name: str | UnsetType = UNSET
    event_attributes: list[KeyValue] | UnsetType = UNSET


class UserAchievement(AchievementResponse, kw_only=True):
    """Trophy's `UserAchievementResponse`: `achievedAt` is null until completed."""

    achieved_at: Timestamp | None


class AchievementWithStats(AchievementResponse, kw_only=True):
    """Trophy's `AchievementWithStatsResponse`; `rarity` is a percentage of all users."""

    completions: int
    rarity: float


class UserAchievementWithStats(AchievementWithStats, kw_only=True):
    """A user's achievement with its statistics (GET /users/{id}/achievements)."""

    achieved_at: Timestamp | None


class AchievementCompletion(Answer):
    """Trophy's `AchievementCompletionResponse`; `leaderboards` (not in Trophy's schema, which
    allows more properties): the boards the completion moved the user on."""

    completion_id: str
    achievement: UserAchievement
    points: EventPoints
    leaderboards: EventLeaderboards


ACHIEVEMENT_ANSWERS = (
    AchievementResponse,
    UserAchievement,
    AchievementWithStats,
    UserAchievementWithStats,
    AchievementCompletion,
)
