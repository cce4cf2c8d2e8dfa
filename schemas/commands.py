"""Commands: the records on `podium.events` (key = user id), the source of truth.

Wire format (JSON object, UTF-8, produced by `encode_command`):

    {"schema_version": 1, "type": "metric", "eventId": "...", "time": 1712044800000,
     "user": {"id": "18", "email": ..., "name": ..., "tz": "Europe/London",
              "deviceTokens": [...], "subscribeToEmails": true, "attributes": {...}},
     "metric": "words-written", "value": "750", "attributes": {"category": "fiction"},
     "idempotencyKey": "..."}

- `schema_version` and `type` are the envelope; every other key is camelCase, like Trophy's
  request bodies. `type` is one of "metric", "user", "achievement", "tick".
- `time` is integer epoch milliseconds, UTC.
- `value` is a decimal string (exact); a JSON number is accepted from direct producers.
- "achievement" carries `achievement` (the key); "tick" carries `userId` instead of `user`.
- Optional fields may be absent or null. Unknown keys are ignored (forward compatibility).

`decode_command` is on the hot path: plain checks over `orjson.loads`, no model library.
Whether a metric key exists is a rules question, not a decode error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from schemas._fast import maker

SCHEMA_VERSION = 1
MAX_TIME_MS = 253_370_764_799_999  # 9998-12-31T23:59:59.999Z: local dates stay in range
MAX_VALUE_DIGITS = 30
MAX_VALUE_EXPONENT = 30
_EMPTY: Mapping[str, str] = {}


class InvalidRecord(ValueError):
    """A record that cannot be decoded or validated; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class User:
    """The user object an event carries; None means "not given" (upsert leaves it)."""

    id: str
    email: str | None = None
    name: str | None = None
    tz: str | None = None
    device_tokens: tuple[str, ...] | None = None
    subscribe_to_emails: bool | None = None
    attributes: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class MetricTracked:
    """The user's metric changed by `value` (positive or negative) at `time_ms`."""

    event_id: str
    time_ms: int
    user: User
    metric: str
    value: Decimal
    attributes: Mapping[str, str] = field(default_factory=dict)
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class UserIdentified:
    """The user was created or updated (`POST /users`, `PUT|PATCH /users/{id}`)."""

    event_id: str
    time_ms: int
    user: User


@dataclass(frozen=True, slots=True)
class AchievementAwarded:
    """An API-triggered achievement was completed (`POST /achievements/{key}/complete`)."""

    event_id: str
    time_ms: int
    user: User
    achievement: str


@dataclass(frozen=True, slots=True)
class ClockTicked:
    """Time passed for an inactive user: settle streak loss and freeze use at `time_ms`."""

    event_id: str
    time_ms: int
    user_id: str


Command = MetricTracked | UserIdentified | AchievementAwarded | ClockTicked


def command_user_id(cmd: Command) -> str:
    """The partition key of a command."""
    return cmd.user_id if isinstance(cmd, ClockTicked) else cmd.user.id


# --- encoding -------------------------------------------------------------------------------


_new_user = maker(User)
_new_metric = maker(MetricTracked)


def _user_json(user: User) -> dict[str, Any]:
    out: dict[str, Any] = {"id": user.id}
    if user.email is not None:
        out["email"] = user.email
    if user.name is not None:
        out["name"] = user.name
    if user.tz is not None:
        out["tz"] = user.tz
    if user.device_tokens is not None:
        out["deviceTokens"] = list(user.device_tokens)
    if user.subscribe_to_emails is not None:
        out["subscribeToEmails"] = user.subscribe_to_emails
    if user.attributes is not None:
        out["attributes"] = dict(user.attributes)
    return out


def command_json(cmd: Command) -> dict[str, Any]:
    """The JSON object of a command (what `encode_command` serialises)."""
    out: dict[str, Any] = {"schema_version": SCHEMA_VERSION}
    if isinstance(cmd, MetricTracked):
        out["type"] = "metric"
        out.update(eventId=cmd.event_id, time=cmd.time_ms, user=_user_json(cmd.user))
        out.update(metric=cmd.metric, value=str(cmd.value), attributes=dict(cmd.attributes))
        if cmd.idempotency_key is not None:
            out["idempotencyKey"] = cmd.idempotency_key
    elif isinstance(cmd, UserIdentified):
        out.update(type="user", eventId=cmd.event_id, time=cmd.time_ms)
        out["user"] = _user_json(cmd.user)
    elif isinstance(cmd, AchievementAwarded):
        out.update(type="achievement", eventId=cmd.event_id, time=cmd.time_ms)
        out.update(user=_user_json(cmd.user), achievement=cmd.achievement)
    elif isinstance(cmd, ClockTicked):
        out.update(type="tick", eventId=cmd.event_id, time=cmd.time_ms, userId=cmd.user_id)
    else:
        raise TypeError(f"not a command: {type(cmd).__name__}")
    return out


def encode_command(cmd: Command) -> bytes:
    return orjson.dumps(command_json(cmd))


# --- decoding -------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def known_time_zone(name: str) -> bool:
    """Whether `name` is an IANA time zone this Python knows."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def parse_value(raw: object, where: str = "value") -> Decimal:
    """A finite decimal from a JSON string or number; raises InvalidRecord otherwise."""
    if isinstance(raw, str):
        try:
            value = Decimal(raw.strip())
        except InvalidOperation:
            raise InvalidRecord(f"{where}: not a number: {raw[:40]!r}") from None
    elif isinstance(raw, int) and not isinstance(raw, bool):
        value = Decimal(raw)
    elif isinstance(raw, float):
        value = Decimal(repr(raw))  # the shortest repr: 0.1 -> Decimal("0.1")
    else:
        raise InvalidRecord(f"{where}: expected a number, got {_kind(raw)}")
    if not value.is_finite():
        raise InvalidRecord(f"{where}: not finite: {raw!r}")
    sign_digits_exp = value.as_tuple()
    exp = sign_digits_exp.exponent
    if (
        len(sign_digits_exp.digits) > MAX_VALUE_DIGITS
        or not isinstance(exp, int)
        or (abs(exp) > MAX_VALUE_EXPONENT)
    ):
        raise InvalidRecord(f"{where}: too many digits or too large: {str(raw)[:40]!r}")
    return value


def _kind(raw: object) -> str:
    if raw is None:
        return "null"
    return {bool: "a boolean", str: "a string", list: "an array", dict: "an object"}.get(
        type(raw), "a number" if isinstance(raw, int | float) else type(raw).__name__
    )


def _str(obj: dict[str, Any], key: str, where: str) -> str:
    raw = obj.get(key)
    if type(raw) is not str or not raw:
        if raw is None:
            raise InvalidRecord(f"{where}{key}: missing")
        raise InvalidRecord(f"{where}{key}: expected a non-empty string, got {_kind(raw)}")
    return raw


def _opt_str(obj: dict[str, Any], key: str, where: str) -> str | None:
    raw = obj.get(key)
    if raw is None or type(raw) is str:
        return raw
    raise InvalidRecord(f"{where}{key}: expected a string, got {_kind(raw)}")


def _str_map(raw: object, where: str) -> Mapping[str, str]:
    if type(raw) is not dict:
        raise InvalidRecord(f"{where}: expected an object, got {_kind(raw)}")
    for k, v in raw.items():
        if type(v) is not str:
            raise InvalidRecord(f"{where}.{k}: expected a string, got {_kind(v)}")
    return raw


def _time(obj: dict[str, Any]) -> int:
    raw = obj.get("time")
    if type(raw) is not int:
        if raw is None:
            raise InvalidRecord("time: missing")
        raise InvalidRecord(f"time: expected integer epoch milliseconds, got {_kind(raw)}")
    if not 0 <= raw <= MAX_TIME_MS:
        raise InvalidRecord(f"time: out of range: {raw}")
    return raw


def decode_user(raw: object, where: str = "user") -> User:
    """A `User` from its JSON object (as in Trophy's request bodies)."""
    if type(raw) is not dict:
        if raw is None:
            raise InvalidRecord(f"{where}: missing")
        raise InvalidRecord(f"{where}: expected an object, got {_kind(raw)}")
    p = where + "."
    uid = raw.get("id")
    if type(uid) is not str or not uid:
        raise InvalidRecord(
            f"{p}id: missing user id"
            if uid is None or uid == ""
            else f"{p}id: expected a string, got {_kind(uid)}"
        )
    if len(raw) == 1:
        return _new_user(uid, None, None, None, None, None, None)
    tz = _opt_str(raw, "tz", p)
    if tz is not None and not known_time_zone(tz):
        raise InvalidRecord(f"{p}tz: unknown time zone {tz[:64]!r}")
    tokens = raw.get("deviceTokens")
    if tokens is not None:
        if type(tokens) is not list or any(type(t) is not str for t in tokens):
            raise InvalidRecord(f"{p}deviceTokens: expected an array of strings")
        tokens = tuple(tokens)
    subscribe = raw.get("subscribeToEmails")
    if subscribe is not None and type(subscribe) is not bool:
        raise InvalidRecord(f"{p}subscribeToEmails: expected a boolean, got {_kind(subscribe)}")
    attrs = raw.get("attributes")
    return _new_user(
        uid,
        _opt_str(raw, "email", p),
        _opt_str(raw, "name", p),
        tz,
        tokens,
        subscribe,
        None if attrs is None else _str_map(attrs, p + "attributes"),
    )


def _decode_metric(obj: dict[str, Any], event_id: str, time_ms: int) -> MetricTracked:
    attrs = obj.get("attributes")
    if "value" not in obj:
        raise InvalidRecord("value: missing")
    key = obj.get("idempotencyKey")
    if key is not None and (type(key) is not str or not key):
        raise InvalidRecord(f"idempotencyKey: expected a non-empty string, got {_kind(key)}")
    return _new_metric(
        event_id,
        time_ms,
        decode_user(obj.get("user")),
        _str(obj, "metric", ""),
        parse_value(obj["value"]),
        _EMPTY if attrs is None else _str_map(attrs, "attributes"),
        key,
    )


def decode_command(raw: bytes) -> Command:
    """Decode one `podium.events` record; raises `InvalidRecord` with the reason."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRecord(f"not JSON: {exc}") from None
    if type(obj) is not dict:
        raise InvalidRecord(f"not a JSON object: got {_kind(obj)}")
    version = obj.get("schema_version")
    if version != SCHEMA_VERSION or type(version) is not int:
        if version is None:
            raise InvalidRecord("schema_version: missing")
        raise InvalidRecord(f"schema_version: unsupported {version!r} (expected 1)")
    kind = obj.get("type")
    event_id = _str(obj, "eventId", "")
    time_ms = _time(obj)
    if kind == "metric":
        return _decode_metric(obj, event_id, time_ms)
    if kind == "user":
        return UserIdentified(event_id, time_ms, decode_user(obj.get("user")))
    if kind == "achievement":
        user = decode_user(obj.get("user"))
        return AchievementAwarded(event_id, time_ms, user, _str(obj, "achievement", ""))
    if kind == "tick":
        uid = obj.get("userId")
        if type(uid) is not str or not uid:
            raise InvalidRecord("userId: missing user id")
        return ClockTicked(event_id, time_ms, uid)
    if kind is None:
        raise InvalidRecord("type: missing")
    raise InvalidRecord(
        f"type: unknown {str(kind)[:40]!r} (expected metric, user, achievement or tick)"
    )
