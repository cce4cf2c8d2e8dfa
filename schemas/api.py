"""The HTTP API's wire shapes (Trophy's, see the `trophy` SDK's `types/`): request validation
and response rendering. Pure: the gateway (`ingest.app`) parses with these and renders with
these; no Kafka, no Redis, no clock (times are passed in).

Every validation failure raises `ApiError(status, message)`; the message names the field
(`user.tz`, `events[3].value`), the metric or the attribute that is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from schemas.commands import InvalidRecord, User, decode_user, parse_value
from schemas.records import Progress
from schemas.render import history_json, snapshot_json, streak_json
from schemas.rules import Achievement, Rules

MAX_ID = 255
MAX_ATTRIBUTES = 50
MAX_ATTRIBUTE_LENGTH = 255
MAX_IDEMPOTENCY_KEY = 255
MAX_USER_STRING = 255  # email, name, tz, each device token
MAX_DEVICE_TOKENS = 100
MAX_BATCH = 1000
MAX_STREAK_USERS = 100
MAX_HISTORY_PERIODS = 100
DEFAULT_HISTORY_PERIODS = 7
USER_FIELDS = frozenset(
    ("id", "email", "name", "tz", "signUpDate", "deviceTokens", "subscribeToEmails", "attributes")
)


class ApiError(Exception):
    """An answer other than success: HTTP `status` and the `{"error": message}` body."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def bad(message: str) -> ApiError:
    return ApiError(400, message)


# --- requests ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventRequest:
    metric: str
    user: User
    value: Decimal
    attributes: Mapping[str, str]
    idempotency_key: str | None = None


def _object(raw: object, where: str) -> dict[str, Any]:
    if type(raw) is not dict:
        what = "missing" if raw is None else f"expected a JSON object, got {_kind(raw)}"
        raise bad(f"{where}: {what}" if where else f"request body: {what}")
    return raw


def _kind(raw: object) -> str:
    if isinstance(raw, bool):
        return "a boolean"
    if isinstance(raw, int | float):
        return "a number"
    kinds: dict[type, str] = {str: "a string", list: "an array", dict: "an object"}
    return kinds.get(type(raw), "null")


def _no_unknown(obj: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(obj) - allowed)
    if unknown:
        place = f"{where}: " if where else ""
        raise bad(
            f"{place}unknown field(s) {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )


def _attributes(raw: object, where: str) -> dict[str, str]:
    if raw is None:
        return {}
    if type(raw) is not dict:
        raise bad(f"{where}: expected an object of string values, got {_kind(raw)}")
    if len(raw) > MAX_ATTRIBUTES:
        raise bad(f"{where}: at most {MAX_ATTRIBUTES} attributes, got {len(raw)}")
    for key, value in raw.items():
        if not key or len(key) > MAX_ATTRIBUTE_LENGTH:
            raise bad(f"{where}: attribute names must have 1 to {MAX_ATTRIBUTE_LENGTH} chars")
        if type(value) is not str:
            raise bad(f"{where}.{key}: expected a string, got {_kind(value)}")
        if len(value) > MAX_ATTRIBUTE_LENGTH:
            raise bad(f"{where}.{key}: longer than {MAX_ATTRIBUTE_LENGTH} characters")
    return raw


def parse_user(raw: object, where: str = "user", user_id: str | None = None) -> User:
    """A Trophy user object (`UpsertedUser`); with `user_id`, the id comes from the path."""
    obj = _object(raw, where)
    _no_unknown(obj, USER_FIELDS, where)
    if user_id is not None:
        if "id" in obj and obj["id"] != user_id:
            raise bad(f"{where}.id: {obj['id']!r} differs from the user id in the path")
        obj = {**obj, "id": user_id}
    obj = {k: v for k, v in obj.items() if v is not None and k != "signUpDate"}
    if "attributes" in obj:
        _attributes(obj["attributes"], f"{where}.attributes")
    for name in ("email", "name", "tz"):
        if type(obj.get(name)) is str and len(obj[name]) > MAX_USER_STRING:
            raise bad(f"{where}.{name}: longer than {MAX_USER_STRING} characters")
    tokens = obj.get("deviceTokens")
    if type(tokens) is list and (
        len(tokens) > MAX_DEVICE_TOKENS
        or any(type(t) is str and len(t) > MAX_USER_STRING for t in tokens)
    ):
        raise bad(
            f"{where}.deviceTokens: at most {MAX_DEVICE_TOKENS} tokens of at most "
            f"{MAX_USER_STRING} characters"
        )
    try:
        user = decode_user(obj, where)
    except InvalidRecord as exc:
        raise bad(exc.reason) from None
    if len(user.id) > MAX_ID:
        raise bad(f"{where}.id: longer than {MAX_ID} characters")
    return user


def _metric(rules: Rules, key: str) -> str:
    if key not in rules.metrics:
        raise ApiError(
            404,
            f"metric {key!r} not found; known metrics: "
            f"{', '.join(sorted(rules.metrics)) or 'none'}",
        )
    return key


def idempotency_key(raw: object, where: str = "Idempotency-Key") -> str | None:
    if raw is None:
        return None
    if type(raw) is not str or not raw or len(raw) > MAX_IDEMPOTENCY_KEY:
        raise bad(f"{where}: expected a string of 1 to {MAX_IDEMPOTENCY_KEY} characters")
    return raw


def parse_event(raw: object, metric: str, rules: Rules, key: str | None) -> EventRequest:
    """The body of `POST /metrics/{key}/event`."""
    _metric(rules, metric)
    obj = _object(raw, "")
    _no_unknown(obj, frozenset(("user", "value", "attributes")), "")
    if "value" not in obj or obj["value"] is None:
        raise bad("value: missing")
    if type(obj["value"]) is not int and type(obj["value"]) is not float:
        raise bad(f"value: expected a number, got {_kind(obj['value'])}")
    try:
        value = parse_value(obj["value"])
    except InvalidRecord as exc:
        raise bad(exc.reason) from None
    return EventRequest(
        metric,
        parse_user(obj.get("user")),
        value,
        _attributes(obj.get("attributes"), "attributes"),
        idempotency_key(key),
    )


def parse_batch(raw: object, rules: Rules) -> list[EventRequest]:
    """The body of `POST /metrics/events`: `{"events": [...]}` (or a bare array)."""
    if type(raw) is dict:
        _no_unknown(raw, frozenset(("events",)), "")
        raw = raw.get("events")
    if type(raw) is not list:
        raise bad(f"events: expected an array of events, got {_kind(raw)}")
    if not raw:
        raise bad("events: empty; send 1 to 1000 events")
    if len(raw) > MAX_BATCH:
        raise bad(f"events: at most {MAX_BATCH} events per batch, got {len(raw)}")
    out: list[EventRequest] = []
    for i, item in enumerate(raw):
        where = f"events[{i}]"
        obj = _object(item, where)
        _no_unknown(obj, frozenset(("key", "user", "value", "attributes", "idempotencyKey")), where)
        metric = obj.get("key")
        if type(metric) is not str or not metric:
            raise bad(f"{where}.key: expected the metric key, got {_kind(metric)}")
        try:
            parsed = parse_event(
                {k: obj.get(k) for k in ("user", "value", "attributes") if k in obj},
                metric,
                rules,
                idempotency_key(obj.get("idempotencyKey"), f"{where}.idempotencyKey"),
            )
        except ApiError as exc:
            raise ApiError(exc.status, f"{where}.{exc.message}") from None
        out.append(parsed)
    return out


def parse_complete(raw: object, key: str, rules: Rules) -> User:
    """The body of `POST /achievements/{key}/complete`."""
    ach = rules.achievements.get(key)
    if ach is None:
        raise ApiError(404, f"achievement {key!r} not found")
    if ach.trigger != "api":
        raise bad(
            f"achievement {key!r} is completed by its {ach.trigger} trigger, not through the API"
        )
    obj = _object(raw, "")
    _no_unknown(obj, frozenset(("user",)), "")
    return parse_user(obj.get("user"))


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


def achievement_json(ach: Achievement, rules: Rules, achieved_at_ms: int | None) -> dict[str, Any]:
    """Trophy's `UserAchievementResponse` (ids are the rules' keys)."""
    out: dict[str, Any] = {
        "id": ach.key,
        "name": ach.name,
        "trigger": ach.trigger,
        "description": ach.description,
        "badgeUrl": ach.badge_url,
        "userAttributes": [{"key": k, "value": v} for k, v in ach.user_attributes.items()],
        "achievedAt": None if achieved_at_ms is None else timestamp(achieved_at_ms),
    }
    if ach.trigger == "api":
        out["key"] = ach.key
    elif ach.trigger == "streak":
        out["streakLength"] = ach.streak_length
    elif ach.trigger == "achievement":
        out["achievementIds"] = list(ach.achievement_keys)
    elif ach.trigger == "metric" and ach.metric is not None:
        out["metricId"] = ach.metric
        out["metricValue"] = number(ach.metric_value)
        out["metricName"] = rules.metrics[ach.metric].name
        out["eventAttributes"] = [{"key": k, "value": v} for k, v in ach.event_attributes.items()]
    return out


def event_response(progress: Progress, rules: Rules) -> dict[str, Any]:
    """Trophy's `EventResponse` for the `Progress` of a metric event."""
    streak = streak_json(snapshot_json(progress.streak), rules)
    streak["extended"] = bool(progress.streak and progress.streak.extended)
    return {
        "eventId": progress.event_id,
        "metricId": progress.metric,
        "total": number(progress.total),
        "achievements": [
            achievement_json(rules.achievements[a.achievement], rules, a.achieved_at_ms)
            for a in progress.achievements
            if a.achievement in rules.achievements
        ],
        "currentStreak": streak,
        "points": {},
        "leaderboards": {},
        "idempotencyKey": progress.idempotency_key,
        "idempotentReplayed": progress.replayed,
    }


def pending_response(event_id: str, req: EventRequest, rules: Rules) -> dict[str, Any]:
    """The 202 answer when the event is durably written but its progress is not known (the
    wait timed out, or the gateway is configured not to wait): `pending: true`, and the
    state figures are not filled in (`total` 0, an empty streak, no achievements); read them
    later from GET /users/{id}/metrics/{key}."""
    streak = streak_json(None, rules)
    streak["extended"] = False
    return {
        "eventId": event_id,
        "metricId": req.metric,
        "total": 0,
        "achievements": [],
        "currentStreak": streak,
        "points": {},
        "leaderboards": {},
        "idempotencyKey": req.idempotency_key,
        "idempotentReplayed": False,
        "pending": True,
    }


def user_json(view: Mapping[str, Any]) -> dict[str, Any]:
    """Trophy's `User` from a view document."""
    return {
        "id": view["userId"],
        "email": view.get("email"),
        "name": view.get("name"),
        "tz": view.get("tz"),
        "deviceTokens": view.get("deviceTokens"),
        "subscribeToEmails": bool(view.get("subscribeToEmails") or False),
        "attributes": dict(view.get("attributes") or {}),
        "control": False,
        "created": timestamp(view.get("createdMs") or 0),
        "updated": timestamp(view.get("updatedMs") or 0),
    }


def metric_json(metric: str, view: Mapping[str, Any], rules: Rules) -> dict[str, Any]:
    """Trophy's `MetricResponse`: the user's total and the metric's achievements."""
    done = view.get("achievements") or {}
    return {
        "id": metric,
        "key": metric,
        "name": rules.metrics[metric].name,
        "current": number(view["totals"].get(metric)),
        "achievements": [
            achievement_json(a, rules, done.get(a.key)) for a in rules.by_metric.get(metric, ())
        ],
    }


def with_stats(
    ach: Achievement,
    rules: Rules,
    completions: int,
    users: int,
    achieved_at_ms: int | None = None,
    user: bool = False,
) -> dict[str, Any]:
    """Trophy's `AchievementWithStatsResponse` (and the user variant with `achievedAt`)."""
    out = achievement_json(ach, rules, achieved_at_ms)
    if not user:
        out.pop("achievedAt")
    out["completions"] = completions
    out["rarity"] = round(100.0 * completions / users, 2) if users else 0.0
    return out


def streak_response(view: Mapping[str, Any], rules: Rules, periods: int) -> dict[str, Any]:
    """Trophy's `StreakResponse`."""
    out = streak_json(view.get("streak"), rules)
    ext = view.get("extendedMs")
    out["extended"] = timestamp(ext) if ext is not None and out["length"] else None
    out["streakHistory"] = history_json(view, periods)
    out["pauses"] = []
    return out


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
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad(f"{name}: expected an integer from {low} to {high}, got {raw[:40]!r}") from None
    if not low <= value <= high:
        raise bad(f"{name}: expected an integer from {low} to {high}, got {value}")
    return value


def bool_param(raw: str | None, name: str) -> bool:
    if raw is None or raw == "":
        return False
    lowered = raw.lower()
    if lowered not in ("true", "false"):
        raise bad(f"{name}: expected true or false, got {raw[:40]!r}")
    return lowered == "true"
