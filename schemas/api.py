"""The HTTP API's wire shapes (Trophy's, see the `trophy` SDK's `types/`): request validation
and response rendering. Pure: the gateway (`ingest.app`) parses with these and renders with
these; no Kafka, no Redis, no clock (times are passed in).

Request bodies are msgspec structs decoded by msgspec from the body's bytes, with the limits
declared on the types; what types cannot say (a known time zone, a metric of the rules, the
user id of the path) is checked after decoding. Every validation failure raises
`ApiError(status, message)`; the message names the field (`user.tz`, `events[3].value`), the
metric or the attribute that is wrong, in the user's terms.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

import msgspec

from schemas.commands import User, known_time_zone, value_problem, value_reason
from schemas.records import Progress, StreakSnapshot
from schemas.rules import Achievement, Rules
from schemas.wire import Problem, Words, generic_words, problem_of, words_for

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


class ApiError(Exception):
    """An answer other than success: HTTP `status` and the `{"error": message}` body."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def bad(message: str) -> ApiError:
    return ApiError(400, message)


# --- request bodies -----------------------------------------------------------------------

UserString = Annotated[str, msgspec.Meta(max_length=MAX_USER_STRING)]
AttributeName = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ATTRIBUTE_LENGTH)]
AttributeValue = Annotated[str, msgspec.Meta(max_length=MAX_ATTRIBUTE_LENGTH)]
Attributes = Annotated[dict[AttributeName, AttributeValue], msgspec.Meta(max_length=MAX_ATTRIBUTES)]
IdempotencyKey = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_IDEMPOTENCY_KEY)]


class _Body(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    pass


class UserBody(_Body, frozen=True, kw_only=True):
    """Trophy's `UpsertedUser`; `id` may come from the path instead."""

    id: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID)] | None = None
    email: UserString | None = None
    name: UserString | None = None
    tz: UserString | None = None
    sign_up_date: str | None = None  # accepted, not kept (Trophy's own bookkeeping)
    device_tokens: (
        Annotated[tuple[UserString, ...], msgspec.Meta(max_length=MAX_DEVICE_TOKENS)] | None
    ) = None
    subscribe_to_emails: bool | None = None
    attributes: Attributes | None = None


class EventBody(_Body, frozen=True, kw_only=True):
    """The body of `POST /metrics/{key}/event`; `value` is read from its JSON text."""

    user: UserBody
    value: msgspec.Raw = msgspec.Raw(b"null")
    attributes: Attributes | None = None


class BatchItem(_Body, frozen=True, kw_only=True):
    key: Annotated[str, msgspec.Meta(min_length=1)]
    user: UserBody
    value: msgspec.Raw = msgspec.Raw(b"null")
    attributes: Attributes | None = None
    idempotency_key: IdempotencyKey | None = None


Events = Annotated[list[BatchItem], msgspec.Meta(min_length=1, max_length=MAX_BATCH)]


class BatchBody(_Body, frozen=True, kw_only=True):
    events: Events


class CompleteBody(_Body, frozen=True, kw_only=True):
    user: UserBody


class EventRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One metric event as the gateway publishes it."""

    metric: str
    user: User
    value: Decimal
    attributes: Mapping[str, str]
    idempotency_key: str | None = None


def _batch_size(p: Problem) -> str:
    if not p.value:
        return f"empty; send 1 to {MAX_BATCH} events"
    return f"at most {MAX_BATCH} events per batch, got {len(p.value)}"


def _user_id(p: Problem) -> str:
    return "missing user id" if not p.value else generic_words(p)


_KEY = f"expected a string of 1 to {MAX_IDEMPOTENCY_KEY} characters, got {{got}}"
WORDS: Words = {
    ("", "type"): "request body: expected a JSON object, got {got}",
    ("events", "type"): "expected an array of events, got {got}",
    ("events", "length"): _batch_size,
    ("events[].key", "type"): "expected the metric key, got {got}",
    ("events[].key", "length"): "expected the metric key, got an empty string",
    ("events[].idempotencyKey", "type"): _KEY,
    ("events[].idempotencyKey", "length"): _KEY,
    ("user.id", "length"): _user_id,
    ("events[].user.id", "length"): _user_id,
    ("body.id", "length"): _user_id,
    ("user.deviceTokens", "length"): f"at most {MAX_DEVICE_TOKENS} tokens of at most "
    f"{MAX_USER_STRING} characters",
    ("attributes", "length"): f"at most {MAX_ATTRIBUTES} attributes, got {{got}}",
    ("user.attributes", "length"): f"at most {MAX_ATTRIBUTES} attributes, got {{got}}",
}


def _decode(raw: bytes | object, kind: Any, where: str = "") -> Any:
    """`raw` (the body's bytes, or an already parsed JSON value) as `kind`; ApiError(400)
    naming the field (under `where`) otherwise."""
    data = raw if isinstance(raw, bytes) else msgspec.json.encode(raw)
    try:
        return msgspec.json.decode(data, type=kind)
    except msgspec.ValidationError as exc:
        problem = problem_of(exc, msgspec.json.decode(data))
    except msgspec.DecodeError as exc:
        raise bad(f"request body: not valid JSON ({exc})") from None
    if where:
        sep = "" if not problem.path or problem.path.startswith("[") else "."
        problem = Problem(
            f"{where}{sep}{problem.path}",
            problem.kind,
            problem.expected,
            problem.got,
            problem.value,
            problem.limit,
        )
    raise bad(words_for(problem, WORDS))


def _user(body: UserBody, where: str, user_id: str | None = None) -> User:
    """The command's `User` of a decoded user object; the id from the path when given."""
    uid = body.id
    if user_id is not None:
        if uid is not None and uid != user_id:
            raise bad(f"{where}.id: {uid!r} differs from the user id in the path")
        uid = user_id
    if uid is None:
        raise bad(f"{where}.id: missing user id")
    if body.tz is not None and not known_time_zone(body.tz):
        raise bad(f"{where}.tz: unknown time zone {body.tz[:64]!r}")
    return User(
        id=uid,
        email=body.email,
        name=body.name,
        tz=body.tz,
        device_tokens=body.device_tokens,
        subscribe_to_emails=body.subscribe_to_emails,
        attributes=body.attributes,
    )


_RAW_KINDS = {ord('"'): "a string", ord("t"): "a boolean", ord("f"): "a boolean"}
_RAW_KINDS.update({ord("["): "an array", ord("{"): "an object"})


def _value(raw: msgspec.Raw, where: str) -> Decimal:
    """A finite, bounded decimal from a JSON number's own text (exact: `0.1` is 0.1)."""
    text = bytes(raw)
    if text == b"null":
        raise bad(f"{where}: missing")
    if text[0] in _RAW_KINDS:
        raise bad(f"{where}: expected a number, got {_RAW_KINDS[text[0]]}")
    value: Decimal = msgspec.json.decode(text, type=Decimal)
    problem = value_problem(value)
    if problem:
        raise bad(value_reason(problem, text.decode(), where))
    return value


def parse_user(raw: bytes | object, where: str = "user", user_id: str | None = None) -> User:
    """A Trophy user object (`UpsertedUser`); with `user_id`, the id comes from the path."""
    return _user(_decode(raw, UserBody, where), where, user_id)


def _metric(rules: Rules, key: str, where: str = "") -> str:
    if key not in rules.metrics:
        place = f"{where}: " if where else ""
        raise ApiError(
            404,
            f"{place}metric {key!r} not found; known metrics: "
            f"{', '.join(sorted(rules.metrics)) or 'none'}",
        )
    return key


def idempotency_key(raw: object, where: str = "Idempotency-Key") -> str | None:
    if raw is None:
        return None
    if type(raw) is not str or not raw or len(raw) > MAX_IDEMPOTENCY_KEY:
        raise bad(f"{where}: expected a string of 1 to {MAX_IDEMPOTENCY_KEY} characters")
    return raw


def parse_event(raw: bytes | object, metric: str, rules: Rules, key: str | None) -> EventRequest:
    """The body of `POST /metrics/{key}/event`."""
    _metric(rules, metric)
    body: EventBody = _decode(raw, EventBody)
    return EventRequest(
        metric=metric,
        user=_user(body.user, "user"),
        value=_value(body.value, "value"),
        attributes=body.attributes or {},
        idempotency_key=idempotency_key(key),
    )


def parse_batch(raw: bytes | object, rules: Rules) -> list[EventRequest]:
    """The body of `POST /metrics/events`: `{"events": [...]}` (or a bare array)."""
    body: BatchBody | list[BatchItem] = _decode(raw, BatchBody | Events, "")
    items = body.events if isinstance(body, BatchBody) else body
    return [
        EventRequest(
            metric=_metric(rules, item.key, f"events[{i}].key"),
            user=_user(item.user, f"events[{i}].user"),
            value=_value(item.value, f"events[{i}].value"),
            attributes=item.attributes or {},
            idempotency_key=item.idempotency_key,
        )
        for i, item in enumerate(items)
    ]


def parse_complete(raw: bytes | object, key: str, rules: Rules) -> User:
    """The body of `POST /achievements/{key}/complete`."""
    ach = rules.achievements.get(key)
    if ach is None:
        raise ApiError(404, f"achievement {key!r} not found")
    if ach.trigger != "api":
        raise bad(
            f"achievement {key!r} is completed by its {ach.trigger} trigger, not through the API"
        )
    body: CompleteBody = _decode(raw, CompleteBody)
    return _user(body.user, "user")


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


def streak_json(snap: Mapping[str, Any] | None, rules: Rules) -> dict[str, Any]:
    """Trophy's `BaseStreakResponse` fields from a view's (or snapshot's) streak."""
    if snap is None:
        freq = rules.streak.frequency if rules.streak else "daily"
        return {
            "length": 0,
            "frequency": freq,
            "started": None,
            "periodStart": None,
            "periodEnd": None,
            "expires": None,
        }
    out = {
        k: snap.get(k)
        for k in ("length", "frequency", "started", "periodStart", "periodEnd", "expires")
    }
    for k in ("freezes", "maxFreezes", "freezeAutoEarnInterval", "freezeAutoEarnAmount"):
        if snap.get(k) is not None:
            out[k] = snap[k]
    return out


def snapshot_json(snap: StreakSnapshot | None) -> dict[str, Any] | None:
    return None if snap is None else snapshot_fields(snap)


def snapshot_fields(snap: StreakSnapshot) -> dict[str, Any]:
    return {
        "length": snap.length,
        "frequency": snap.frequency,
        "started": snap.started,
        "periodStart": snap.period_start,
        "periodEnd": snap.period_end,
        "expires": snap.expires,
        "freezes": snap.freezes,
        "maxFreezes": snap.max_freezes,
        "freezeAutoEarnInterval": snap.freeze_auto_earn_interval,
        "freezeAutoEarnAmount": snap.freeze_auto_earn_amount,
    }


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


def history_json(view: Mapping[str, Any], periods: int) -> list[dict[str, Any]]:
    """The last `periods` kept streak periods, oldest first (Trophy's streakHistory)."""
    kept = view.get("history") or []
    return (
        [
            {
                "periodStart": ps,
                "periodEnd": pe,
                "length": n,
                "usedFreeze": bool(frozen),
                "usedPause": False,
            }
            for ps, pe, n, frozen in kept[-periods:]
        ]
        if periods
        else []
    )


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
