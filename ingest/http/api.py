"""The HTTP API's wire shapes (Trophy's, see the `trophy` SDK's `types/`): request validation
and response rendering. Pure: the gateway (`ingest.app`) parses with these and renders with
these; no Kafka, no Redis, no clock (times are passed in).

Request parsing lives in `ingest.http.requests` (msgspec structs) and is re-exported here; every
validation failure raises `ApiError(status, message)` naming the field that is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from msgspec import UNSET, UnsetType

from ingest.http.answer_parts import KeyValue
from ingest.http.answers import (
    AchievementWithStats,
    EventResponse,
    EventStreak,
    Metric,
    Notifications,
    Preferences,
    SummaryPoint,
    User,
    UserAchievement,
    UserAchievementWithStats,
    UserStreak,
)
from ingest.http.render import history_json, streak_fields
from ingest.http.requests import (
    DEFAULT_HISTORY_PERIODS,
    MAX_ATTRIBUTE_LENGTH,
    MAX_ATTRIBUTES,
    MAX_BATCH,
    MAX_DEVICE_TOKENS,
    MAX_HISTORY_PERIODS,
    MAX_ID,
    MAX_IDEMPOTENCY_KEY,
    MAX_STREAK_USERS,
    MAX_TENANT,
    MAX_USER_STRING,
    NOTIFICATION_TYPES,
    ApiError,
    EventRequest,
    bad,
    idempotency_key,
    parse_batch,
    parse_complete,
    parse_event,
    parse_preferences,
    parse_user,
    tenant_id,
    user_id_param,
)
from processors.core.summaries import AGGREGATIONS
from schemas.records import Progress
from schemas.rules import Achievement, Rules
from schemas.views import UserView

__all__ = [
    "DEFAULT_HISTORY_PERIODS",
    "MAX_ATTRIBUTES",
    "MAX_ATTRIBUTE_LENGTH",
    "MAX_BATCH",
    "MAX_DEVICE_TOKENS",
    "MAX_HISTORY_PERIODS",
    "MAX_ID",
    "MAX_IDEMPOTENCY_KEY",
    "MAX_STREAK_USERS",
    "MAX_TENANT",
    "MAX_USER_STRING",
    "NOTIFICATION_TYPES",
    "ApiError",
    "EventRequest",
    "bad",
    "idempotency_key",
    "parse_batch",
    "parse_complete",
    "parse_event",
    "parse_preferences",
    "parse_user",
    "tenant_id",
    "user_id_param",
]


# --- responses -----------------------------------------------------------------------------


def number(value: Decimal | str | None) -> int | float:
    """A decimal as a JSON number: an integer when whole, else the nearest float."""
    if value is None:
        return 0
    dec = Decimal(value)
    return int(dec) if dec == dec.to_integral_value() else float(dec)


def timestamp(ms: int) -> str:
    """ISO 8601 UTC with milliseconds: '2026-11-26T12:00:00.000Z'."""
    at = datetime.fromtimestamp(ms / 1000, UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _achievement_fields(ach: Achievement, rules: Rules) -> dict[str, Any]:
    """Trophy's `AchievementResponse` fields (ids are the rules' keys), by Struct field."""
    out: dict[str, Any] = {
        "id": ach.key,
        "name": ach.name,
        "trigger": ach.trigger,
        "description": ach.description,
        "badge_url": ach.badge_url,
        "user_attributes": _pairs(ach.user_attributes),
    }
    if ach.trigger == "api":
        out["key"] = ach.key
    elif ach.trigger == "streak":
        out["streak_length"] = ach.streak_length
    elif ach.trigger == "anniversary":
        out["anniversary_years"] = ach.anniversary_years
    elif ach.trigger == "achievement":
        out["achievement_ids"] = list(ach.achievement_keys)
    elif ach.trigger == "metric" and ach.metric is not None:
        out["metric_id"] = ach.metric
        out["metric_value"] = number(ach.metric_value)
        out["metric_name"] = rules.metrics[ach.metric].name
        out["event_attributes"] = _pairs(ach.event_attributes)
    return out


def _pairs(attributes: Mapping[str, str]) -> list[KeyValue]:
    return [KeyValue(k, v) for k, v in attributes.items()]


def _achieved(ms: int | None) -> str | None:
    return None if ms is None else timestamp(ms)


def achievement_json(ach: Achievement, rules: Rules, achieved_at_ms: int | None) -> UserAchievement:
    """Trophy's `UserAchievementResponse`."""
    return UserAchievement(**_achievement_fields(ach, rules), achieved_at=_achieved(achieved_at_ms))


def event_response(
    progress: Progress,
    rules: Rules,
    points: Mapping[str, Any] | None = None,
    leaderboards: Mapping[str, Any] | None = None,
) -> EventResponse:
    """Trophy's `EventResponse` for the `Progress` of a metric event; `points` is its
    rendering of `progress.points` (`ingest.http.api_points.event_points`), `leaderboards` that
    of the rank changes it caused (`ingest.http.api_leaderboards.event_leaderboards`)."""
    extended = bool(progress.streak and progress.streak.extended)
    return EventResponse(
        event_id=progress.event_id,
        metric_id=progress.metric or "",  # a metric event's progress names its metric
        total=number(progress.total),
        achievements=[
            achievement_json(rules.achievements[a.achievement], rules, a.achieved_at_ms)
            for a in progress.achievements
            if a.achievement in rules.achievements
        ],
        current_streak=EventStreak(**streak_fields(progress.streak, rules), extended=extended),
        points=dict(points or {}),
        leaderboards=dict(leaderboards or {}),
        idempotency_key=_given(progress.idempotency_key),
        idempotent_replayed=progress.replayed,
    )


def _given(key: str | None) -> str | UnsetType:
    """Trophy's `idempotencyKey` is a string when given: absent (never null) when not."""
    return UNSET if key is None else key


def pending_response(event_id: str, req: EventRequest, rules: Rules) -> EventResponse:
    """The answer when the event is durably written but its progress is not known (the
    wait timed out, or the gateway is configured not to wait): `pending: true`, and the
    state figures are not filled in (`total` 0, an empty streak, no achievements); read them
    later from GET /users/{id}/metrics/{key}."""
    return EventResponse(
        event_id=event_id,
        metric_id=req.metric,
        total=0,
        achievements=[],
        current_streak=EventStreak(**streak_fields(None, rules), extended=False),
        points={},
        leaderboards={},
        idempotency_key=_given(req.idempotency_key),
        idempotent_replayed=False,
        pending=True,
    )


def user_json(view: UserView) -> User:
    """Trophy's `User` from a view document; `subscribeToEmails` is true until set (Trophy's
    default), `signUpDate` is there once given."""
    subscribed = view.subscribe_to_emails
    signed_up = view.sign_up_date
    return User(
        id=view.user_id,
        email=view.email,
        name=view.name,
        tz=view.tz,
        device_tokens=None if view.device_tokens is None else list(view.device_tokens),
        subscribe_to_emails=True if subscribed is None else subscribed,
        attributes=dict(view.attributes),
        control=False,
        created=timestamp(view.created_ms),
        updated=timestamp(view.updated_ms),
        sign_up_date=UNSET if signed_up is None else signed_up.isoformat(),
    )


DEFAULT_CHANNELS = ("email", "push")  # a notification type never set: every channel


def preferences_json(stored: Mapping[str, Sequence[str]]) -> Preferences:
    """Trophy's `UserPreferencesResponse`: the channels of every notification type, from a
    view's `notifications`."""
    channels: dict[str, Any] = {
        kind: list(stored.get(kind, DEFAULT_CHANNELS)) for kind in NOTIFICATION_TYPES
    }
    return Preferences(Notifications(**channels))


def metric_json(metric: str, view: UserView, rules: Rules) -> Metric:
    """Trophy's `MetricResponse`: the user's total and the metric's achievements."""
    done = view.achievements
    return Metric(
        id=metric,
        key=metric,
        name=rules.metrics[metric].name,
        status="active",
        current=number(view.totals.get(metric)),
        achievements=[
            achievement_json(a, rules, done.get(a.key)) for a in rules.by_metric.get(metric, ())
        ],
    )


def with_stats(
    ach: Achievement, rules: Rules, completions: int, users: int
) -> AchievementWithStats:
    """Trophy's `AchievementWithStatsResponse`."""
    return AchievementWithStats(**_achievement_fields(ach, rules), **_stats(completions, users))


def user_with_stats(
    ach: Achievement, rules: Rules, completions: int, users: int, achieved_at_ms: int | None
) -> UserAchievementWithStats:
    """A user's achievement with its statistics and `achievedAt`."""
    return UserAchievementWithStats(
        **_achievement_fields(ach, rules),
        **_stats(completions, users),
        achieved_at=_achieved(achieved_at_ms),
    )


def _stats(completions: int, users: int) -> dict[str, Any]:
    rarity = round(100.0 * completions / users, 2) if users else 0.0
    return {"completions": completions, "rarity": rarity}


def streak_response(view: UserView, rules: Rules, periods: int) -> UserStreak:
    """Trophy's `StreakResponse`."""
    fields = streak_fields(view.streak, rules)
    ext = view.extended_ms
    return UserStreak(
        **fields,
        extended=timestamp(ext) if ext is not None and fields["length"] else None,
        streak_history=history_json(view, periods),
        pauses=[],
    )


def attributes_param(raw: str | None, name: str = "userAttributes") -> dict[str, str] | None:
    """`attribute:value,attribute:value` (Trophy's filter syntax); None when absent."""
    if raw is None or raw == "":
        return None
    out: dict[str, str] = {}
    for pair in raw.split(","):
        key, sep, value = pair.partition(":")
        if not sep or not key:
            raise bad(
                f"{name}: expected attribute:value pairs separated by commas, got {pair[:40]!r}"
            )
        out[key] = value
    return out


def accessible(ach: Achievement, attributes: Mapping[str, str] | None) -> bool:
    """Whether a user with these attributes can complete the achievement (None: no filter)."""
    if attributes is None:
        return True
    return all(attributes.get(k) == v for k, v in ach.user_attributes.items())


def int_param(raw: str | None, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter; absent: `default`; anything else not an integer in range
    (an empty value too) is refused."""
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad(f"{name}: expected an integer from {low} to {high}, got {raw[:40]!r}") from None
    if not low <= value <= high:
        raise bad(f"{name}: expected an integer from {low} to {high}, got {value}")
    return value


MAX_STREAK_RANKING = 100  # Trophy's SDK: `limit` "must be between 1 and 100"
DEFAULT_STREAK_RANKING = 10
STREAK_RANKING_TYPES = ("active", "longest")


def streak_ranking_params(query: Mapping[str, str]) -> tuple[int, str]:
    """`limit` (1 to 100, by default 10) and `type` (`active`, the default, or `longest`) of
    `GET /streaks/rankings`; anything else (an empty value too) is refused."""
    limit = int_param(query.get("limit"), "limit", DEFAULT_STREAK_RANKING, 1, MAX_STREAK_RANKING)
    kind = query.get("type", "active")
    if kind not in STREAK_RANKING_TYPES:
        raise bad(f"type: expected active or longest, got {kind[:40]!r}")
    return limit, kind


def bool_param(raw: str | None, name: str) -> bool:
    """`true` or `false` (any case); absent: false; anything else (empty too) is refused."""
    if raw is None:
        return False
    lowered = raw.lower()
    if lowered not in ("true", "false"):
        raise bad(f"{name}: expected true or false, got {raw[:40]!r}")
    return lowered == "true"


MAX_SUMMARY_DAYS = 400  # Trophy: the date range must not exceed 400 days


def summary_params(query: Mapping[str, str]) -> tuple[str, int, int]:
    """`aggregation`, `startDate`, `endDate` of an event summary: the aggregation and the
    dates as ordinals; 422 naming the parameter otherwise."""
    aggregation = query.get("aggregation")
    if aggregation not in AGGREGATIONS:
        got = "missing" if aggregation is None else f"got {aggregation[:40]!r}"
        raise bad(f"aggregation: expected one of {', '.join(AGGREGATIONS)}, {got}")
    start = _date_param(query.get("startDate"), "startDate")
    end = _date_param(query.get("endDate"), "endDate")
    if end < start:
        raise bad("endDate: before startDate")
    if end - start > MAX_SUMMARY_DAYS:
        raise bad(f"endDate: more than {MAX_SUMMARY_DAYS} days after startDate")
    return aggregation, start, end


def _date_param(raw: str | None, name: str) -> int:
    if raw is None:
        raise bad(f"{name}: missing; expected a date YYYY-MM-DD")
    try:
        if len(raw) != 10:
            raise ValueError(raw)
        return date.fromisoformat(raw).toordinal()
    except ValueError:
        raise bad(f"{name}: expected a date YYYY-MM-DD, got {raw[:40]!r}") from None


def summary_json(points: Sequence[tuple[int, Decimal, Decimal]]) -> list[SummaryPoint]:
    """Trophy's event summary: `date` (a period's first day), `total` at its end, `change`.
    A week that begins before 0001-01-01 is dated 0001-01-01, its first day that exists."""
    return [
        SummaryPoint(date.fromordinal(max(first, 1)).isoformat(), number(total), number(change))
        for first, total, change in points
    ]
