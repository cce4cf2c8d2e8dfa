"""Trophy's answers as msgspec Structs: one declaration gives the JSON the gateway sends
(`msgspec.json.encode`, camelCase names) and the component schemas of its OpenAPI document
(`ingest.openapi_types`). A field that Trophy leaves out when it does not apply defaults to
`UNSET` (never encoded); a field Trophy always sends, null or not, has no default."""

from __future__ import annotations

from typing import Literal

from msgspec import UNSET, Struct, UnsetType

from ingest.http.answer_parts import Answer, Day, KeyValue, Timestamp
from ingest.http.answers_leaderboards import EventLeaderboard
from ingest.http.answers_points import PointsChange
from ingest.http.requests import NotificationChannel
from schemas.records import AchievementTrigger, Frequency

EventLeaderboards = dict[str, EventLeaderboard]  # the boards a write moved, by key
EventPoints = dict[str, PointsChange]  # the systems a write changed, by key


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


class Error(Struct):
    """Every answer other than a success: what is wrong."""

    error: str


class Accepted(Struct):
    """A batch of events durably written (202): how many."""

    accepted: int


class User(Answer):
    """Trophy's `User`; `signUpDate` is there once given."""

    id: str
    email: str | None
    name: str | None
    tz: str | None
    device_tokens: list[str] | None
    subscribe_to_emails: bool
    attributes: dict[str, str]
    control: bool
    created: Timestamp
    updated: Timestamp
    sign_up_date: Day | UnsetType = UNSET


class Metric(Answer):
    """Trophy's `MetricResponse`: `status` (required by Trophy's Node SDK, `archived` or
    `active`) is always `active`, since a metric the rules file no longer has is not served."""

    id: str
    key: str
    name: str
    status: Literal["active"]
    current: float
    achievements: list[UserAchievement]


class Streak(Answer):
    """Trophy's `BaseStreakResponse`; the freeze figures only when the rules give freezes."""

    length: int
    frequency: Frequency
    started: Day | None
    period_start: Day | None
    period_end: Day | None
    expires: Day | None
    freezes: int | UnsetType = UNSET
    max_freezes: int | UnsetType = UNSET
    freeze_auto_earn_interval: int | UnsetType = UNSET
    freeze_auto_earn_amount: int | UnsetType = UNSET


class EventStreak(Streak, kw_only=True):
    """Trophy's `MetricEventStreakResponse`: whether this event extended the streak."""

    extended: bool


class StreakPeriod(Answer):
    """One kept streak period (Trophy's `streakHistory` item)."""

    period_start: Day
    period_end: Day
    length: int
    used_freeze: bool
    used_pause: bool


class StreakPause(Answer):
    """Trophy's streak pause (never any: Podium's days off are answered as paused periods)."""

    id: str
    start: Day
    end: Day


class UserStreak(Streak, kw_only=True):
    """Trophy's `StreakResponse`: `extended` is when the streak was last extended (null when
    it is not active)."""

    extended: Timestamp | None
    streak_history: list[StreakPeriod]
    pauses: list[StreakPause]


class StreakLength(Answer):
    """An item of GET /streaks: a user's current streak length."""

    user_id: str
    streak_length: int
    extended: Timestamp | None


class StreakRankingUser(Answer):
    """Trophy's `StreakRankingUser`: `name` is null when the user has none."""

    user_id: str
    name: str | None
    streak_length: int


class EventResponse(Answer, kw_only=True):
    """Trophy's `EventResponse`; `idempotencyKey` only when given; `pending: true` when the
    event is durably written but its progress not yet known (the figures are then empty)."""

    event_id: str
    metric_id: str
    total: float
    achievements: list[UserAchievement]
    current_streak: EventStreak
    points: EventPoints
    leaderboards: EventLeaderboards
    idempotency_key: str | UnsetType = UNSET
    idempotent_replayed: bool
    pending: bool | UnsetType = UNSET


Channels = list[NotificationChannel]


class Notifications(Struct):
    """The channels of every notification type (Trophy's `NotificationPreferences`)."""

    achievement_completed: Channels
    recap: Channels
    reactivation: Channels
    streak_reminder: Channels


class Preferences(Struct):
    """Trophy's `UserPreferencesResponse`."""

    notifications: Notifications


class SummaryPoint(Struct):
    """An item of a metric's event summary: a period's first day, the total at its end."""

    date: Day
    total: float
    change: float


ANSWERS = (
    Error,
    Accepted,
    User,
    Metric,
    Streak,
    EventStreak,
    UserStreak,
    StreakLength,
    StreakRankingUser,
    EventResponse,
    Preferences,
    SummaryPoint,
)
ACHIEVEMENT_ANSWERS = (
    AchievementResponse,
    UserAchievement,
    AchievementWithStats,
    UserAchievementWithStats,
    AchievementCompletion,
)
