"""Commands: the records on `podium.events` (key = user id), the source of truth.

Wire format (JSON object, UTF-8, produced by `encode_command`):

    {"type": "metric", "schema_version": 1, "eventId": "...", "time": 1712044800000,
     "user": {"id": "18", "email": ..., "name": ..., "tz": "Europe/London",
              "deviceTokens": [...], "subscribeToEmails": true, "attributes": {...},
              "signUpDate": "2025-04-02", "notifications": {"recap": ["email"]}},
     "metric": "words-written", "value": "750", "attributes": {"category": "fiction"},
     "idempotencyKey": "..."}

- `schema_version` and `type` are the envelope; every other key is camelCase, like Trophy's
  request bodies. `type` is one of "metric", "user", "achievement", "tick".
- `time` is integer epoch milliseconds, UTC.
- `value` is a decimal string (exact); a JSON number is accepted from direct producers.
- "achievement" carries `achievement` (the key); "tick" carries `userId` instead of `user`.
- Optional fields may be absent or null. Unknown keys are ignored (forward compatibility).

The types are msgspec structs: the constraints msgspec can check are declared on them
(non-empty strings, the time range); `decode_command` adds what types cannot say (a known
time zone, a finite value of bounded size). Whether a metric key exists is a rules question,
not a decode error.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from schemas.wire import (
    InvalidRecord,
    Upcasters,
    Words,
    camel_namer,
    convert_slowly,
    decoder,
    kind_of,
    not_json,
)

__all__ = ["InvalidRecord"]

SCHEMA_VERSION: Final = 1
MAX_TIME_MS = 253_370_764_799_999  # 9998-12-31T23:59:59.999Z: local dates stay in range
MAX_VALUE_DIGITS = 30
MAX_VALUE_EXPONENT = 30

MAX_USER_ATTRIBUTES = 50
"""The most attributes a user has (the merge of every command's). With keys and values of at
most `MAX_ATTRIBUTE_CHARS` characters, 50 attributes take at most 153 kB in a state (six
bytes a character when escaped): a state stays well under the record limit (docs/runtime.md,
"How large a state gets")."""
MAX_ATTRIBUTE_CHARS = 255

NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]
TimeMs = Annotated[int, msgspec.Meta(ge=0, le=MAX_TIME_MS)]


wire_name = camel_namer(time_ms="time")  # camelCase but the envelope and `time`


class User(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=True):
    """The user object an event carries; None means "not given" (upsert leaves it)."""

    id: NonEmpty
    email: str | None = None
    name: str | None = None
    tz: str | None = None
    device_tokens: tuple[str, ...] | None = None
    subscribe_to_emails: bool | None = None
    attributes: Mapping[str, str] | None = None
    sign_up_date: str | None = None  # ISO calendar date, YYYY-MM-DD
    notifications: Mapping[str, tuple[str, ...]] | None = None  # type -> channels, per type


class _Command(msgspec.Struct, frozen=True, kw_only=True, rename=wire_name, tag_field="type"):
    """The envelope's settings; each command declares its fields, the envelope's first (a
    base class's fields would be encoded after the subclass's)."""


class MetricTracked(_Command, frozen=True, kw_only=True, tag="metric"):
    """The user's metric changed by `value` (positive or negative) at `time_ms`."""

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: NonEmpty
    time_ms: TimeMs
    user: User
    metric: NonEmpty
    value: Decimal
    attributes: Mapping[str, str] = {}
    idempotency_key: NonEmpty | None = None


class UserIdentified(_Command, frozen=True, kw_only=True, tag="user"):
    """The user was created or updated (`POST /users`, `PUT|PATCH /users/{id}`)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: NonEmpty
    time_ms: TimeMs
    user: User


class AchievementAwarded(_Command, frozen=True, kw_only=True, tag="achievement"):
    """An API-triggered achievement was completed (`POST /achievements/{key}/complete`)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: NonEmpty
    time_ms: TimeMs
    user: User
    achievement: NonEmpty


class ClockTicked(_Command, frozen=True, kw_only=True, tag="tick"):
    """Time passed for an inactive user: settle streak loss and freeze use, time points
    triggers and anniversary achievements at `time_ms`."""

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: NonEmpty
    time_ms: TimeMs
    user_id: NonEmpty


Command = MetricTracked | UserIdentified | AchievementAwarded | ClockTicked


def command_user_id(cmd: Command) -> str:
    """The partition key of a command."""
    return cmd.user_id if isinstance(cmd, ClockTicked) else cmd.user.id


# --- codec ----------------------------------------------------------------------------------

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Command)
UPCASTERS = Upcasters(current=SCHEMA_VERSION, field="schema_version", steps={})
_NON_EMPTY = "expected a non-empty string, got {got}"
WORDS: Words = {
    ("type", "choice"): "unknown {value40!r} (expected metric, user, achievement or tick)",
    ("time", "type"): "expected integer epoch milliseconds, got {got}",
    ("time", "bounds"): "out of range: {value}",
    ("eventId", "type"): _NON_EMPTY,
    ("eventId", "length"): _NON_EMPTY,
    ("metric", "type"): _NON_EMPTY,
    ("metric", "length"): _NON_EMPTY,
    ("achievement", "type"): _NON_EMPTY,
    ("achievement", "length"): _NON_EMPTY,
    ("idempotencyKey", "type"): _NON_EMPTY,
    ("idempotencyKey", "length"): _NON_EMPTY,
    ("userId", "*"): "missing user id",
    ("user.id", "missing"): "missing user id",
    ("user.id", "length"): "missing user id",
    ("user.deviceTokens", "type"): "expected an array of strings, got {got}",
    ("value", "type"): "expected a number, got {got}",
}


def encode_command(cmd: Command) -> bytes:
    return _encoder.encode(cmd)


def command_json(cmd: Command) -> dict[str, Any]:
    """The JSON object of a command (what `encode_command` serialises)."""
    obj: dict[str, Any] = msgspec.json.decode(_encoder.encode(cmd))
    return obj


@decoder
def decode_command(raw: bytes) -> Command:
    """Decode one `podium.events` record; raises `InvalidRecord` (only) with the reason."""
    try:
        cmd = _decoder.decode(raw)
    except msgspec.ValidationError as exc:
        return _decode_slowly(raw, exc)
    except msgspec.DecodeError as exc:
        raise InvalidRecord(not_json(exc)) from None
    if b'"schema_version"' not in raw:
        # msgspec filled it from the default, which serves construction in code; the wire
        # must carry it (the slow path names it missing)
        return _decode_slowly(raw, None)
    if type(cmd) is MetricTracked and (problem := value_problem(cmd.value)):
        raise InvalidRecord(value_reason(problem, sent_text(raw, "value")))
    if type(cmd) is not ClockTicked and (
        cmd.user.tz is not None or cmd.user.sign_up_date is not None  # type: ignore[union-attr]
    ):
        check_user(cmd.user, "user")  # type: ignore[union-attr]
    return cmd


def _decode_slowly(raw: bytes, exc: msgspec.ValidationError | None) -> Command:
    """The error path (and the upcast path): the version first, then msgspec's complaint."""
    obj = msgspec.json.decode(raw)
    if type(obj) is not dict:
        raise InvalidRecord(f"not a JSON object: got {kind_of(obj)}")
    if "schema_version" not in obj:
        raise InvalidRecord("schema_version: missing")
    cmd: Command = convert_slowly(UPCASTERS.lift(obj), obj, exc, raw, Command, WORDS)
    return cmd


# --- the checks types cannot express --------------------------------------------------------


@lru_cache(maxsize=1024)
def known_time_zone(name: str) -> bool:
    """Whether `name` is an IANA time zone this Python knows."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@lru_cache(maxsize=1024)
def iso_date(text: str) -> date | None:
    """The calendar date `text` spells as YYYY-MM-DD (the only form a `signUpDate` is kept
    in), or None."""
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def check_user(user: User, where: str) -> None:
    if user.tz is not None and not known_time_zone(user.tz):
        raise InvalidRecord(f"{where}.tz: unknown time zone {user.tz[:64]!r}")
    if user.sign_up_date is not None and iso_date(user.sign_up_date) is None:
        raise InvalidRecord(
            f"{where}.signUpDate: expected a date YYYY-MM-DD, got {user.sign_up_date[:40]!r}"
        )


def value_problem(value: Decimal) -> str | None:
    """What is wrong with a decoded value (not finite, over 30 digits or an exponent beyond
    ±30), or None when it is fine."""
    if not value.is_finite():
        return "not finite"
    text = str(value)
    if len(text) <= MAX_VALUE_DIGITS and "E" not in text:
        # Without an exponent, 30 characters hold at most 30 digits and 29 decimals, so the
        # bounds hold; `as_tuple` costs more than the rest of decoding a value.
        return None
    parts = value.as_tuple()
    exp = parts.exponent
    if (
        len(parts.digits) > MAX_VALUE_DIGITS
        or not isinstance(exp, int)
        or abs(exp) > MAX_VALUE_EXPONENT
    ):
        return "too many digits or too large"
    return None


def value_reason(problem: str, shown: str, where: str = "value") -> str:
    """The reason for a refused value, `shown` as it was sent."""
    reason = f"{where}: {problem}: {shown[:40]!r}"
    if problem.startswith("too many"):
        reason += (
            f" (out of range: at most {MAX_VALUE_DIGITS} digits, an exponent within"
            f" ±{MAX_VALUE_EXPONENT})"
        )
    return reason


def sent_text(raw: bytes, *path: str) -> str:
    """The text of the JSON value at `path` in `raw` as it was sent (a string's content, a
    number's digits), for error messages."""
    node: Any = msgspec.Raw(raw)
    for key in path:
        node = msgspec.json.decode(node, type=dict[str, msgspec.Raw]).get(key, msgspec.Raw(b"null"))
    text = bytes(node)
    return msgspec.json.decode(text) if text.startswith(b'"') else text.decode()
