"""Trophy's webhook payloads as msgspec Structs (the `webhooks` section of Trophy's OpenAPI
document): each a flat object, `type`, `user` and the type's own fields, built from the
answers the gateway already sends (`User`, `UserAchievement`, `Streak`, the points and
leaderboard answers). `ingest.webhooks.payloads` builds them from Podium's facts."""

from __future__ import annotations

from ingest.http.answer_parts import Answer
from ingest.http.answers import Streak, User, UserAchievement
from ingest.http.answers_leaderboards import Leaderboard
from ingest.http.answers_points import PointsChange, PointsLevel, PointsResponse


class Webhook(Answer, kw_only=True):
    """What every user webhook carries first: its type and the user."""

    type: str
    user: User


class AchievementCompletedHook(Webhook, kw_only=True):
    """`achievement.completed`."""

    achievement: UserAchievement


class StreakHook(Webhook, kw_only=True):
    """`streak.started` and `streak.extended`: the streak after the change."""

    streak: Streak


class StreakLostHook(Webhook, kw_only=True):
    """`streak.lost`: the length that was lost."""

    length: int


class FreezeConsumedHook(Webhook, kw_only=True):
    """`streak.freeze_consumed`: freezes used, and those left."""

    consumed: int
    freezes: int


class FreezeEarnedHook(Webhook, kw_only=True):
    """`streak.freeze_earned`: freezes earned, and those held after."""

    earned: int
    freezes: int


class PointsChangedHook(Webhook, kw_only=True):
    """`points.changed`: Trophy's `MetricEventPointsResponse` of the system."""

    points: PointsChange


class PointsTotal(PointsResponse, kw_only=True):
    """The system of a level change, with the user's total in it."""

    total: int


class LevelChangedHook(Webhook, kw_only=True):
    """`points.level_changed`: null levels are "below every level"."""

    points: PointsTotal
    previous_level: PointsLevel | None
    new_level: PointsLevel | None


class BoardRankChange(Leaderboard, kw_only=True):
    """Trophy's `WebhookUserLeaderboardResponse`: the board, the user's rank and value after
    and before (null: not on the board)."""

    rank: int | None
    value: int | None
    previous_rank: int | None
    previous_value: int | None


class RankChangedHook(Webhook, kw_only=True):
    """`leaderboard.rank_changed`."""

    leaderboard: BoardRankChange


WEBHOOK_PAYLOADS = (
    AchievementCompletedHook,
    StreakHook,
    StreakLostHook,
    FreezeConsumedHook,
    FreezeEarnedHook,
    PointsChangedHook,
    LevelChangedHook,
    RankChangedHook,
)
