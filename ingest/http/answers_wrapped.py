"""Trophy's wrapped answer (`WrappedResponse` and its parts) as msgspec Structs, built by
`ingest.http.wrapped` and `ingest.http.api_wrapped`, encoded and turned into OpenAPI component
schemas like `ingest.http.answers`.

Podium keeps no per-attribute totals and no rank history, so `byAttribute` and a period's
`leaderboards` are always `{}` (docs/trophy-conformance.md); `percentileThisPeriod` is only
there when Podium has the distribution: for the entire year."""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import UNSET, Meta, UnsetType

from ingest.http.answer_parts import Answer, Day
from ingest.http.answers import User, UserAchievement
from schemas.records import Frequency


class WrappedMetric(Answer, kw_only=True):
    """Trophy's `WrappedMetric`."""

    name: str
    units: str | None
    current_total: float
    change_this_period: float
    percent_change: float
    percentile_this_period: float | UnsetType = UNSET
    by_attribute: dict[str, dict[str, Any]]


class WrappedPoints(Answer, kw_only=True):
    """Trophy's `WrappedPoints`."""

    name: str
    description: str | None
    current_total: float
    change_this_period: float
    percent_change: float
    percentile_this_period: float | UnsetType = UNSET


class WrappedStreak(Answer):
    """Trophy's `WrappedStreak`: the year's longest streak."""

    length: int
    frequency: Frequency
    period_start: Day | None
    period_end: Day | None
    started: Day | None


class WrappedActivityPeriod(Answer, kw_only=True):
    """Trophy's `WrappedActivityPeriod`: a period's metrics and points by key, and the
    achievements completed in it."""

    metrics: dict[str, WrappedMetric]
    points: dict[str, WrappedPoints]
    achievements: list[UserAchievement]
    leaderboards: dict[str, Any]


class WrappedMostActiveDay(WrappedActivityPeriod, kw_only=True):
    date: Day


class WrappedMostActiveWeek(WrappedActivityPeriod, kw_only=True):
    start: Day
    end: Day


class WrappedMostActiveMonth(WrappedActivityPeriod, kw_only=True):
    """`month` counts from 0 (January), as in Trophy's document."""

    month: Annotated[int, Meta(ge=0, le=11)]


class WrappedEntireYear(WrappedActivityPeriod, kw_only=True):
    longest_streak: WrappedStreak


class WrappedActivity(Answer):
    """Trophy's `WrappedActivity`."""

    days_active: int
    weeks_active: int
    months_active: int
    most_active_day: WrappedMostActiveDay
    most_active_week: WrappedMostActiveWeek
    most_active_month: WrappedMostActiveMonth
    entire_year: WrappedEntireYear


class WrappedResponse(Answer):
    """Trophy's `WrappedResponse`: a user's year in review."""

    user: User
    activity: WrappedActivity


WRAPPED_ANSWERS = (WrappedActivityPeriod, WrappedResponse)
