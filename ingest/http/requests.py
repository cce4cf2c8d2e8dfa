"""The HTTP API's request bodies (Trophy's, see the `trophy` SDK's `types/`) as msgspec
structs, decoded by msgspec from the body's bytes with the limits declared on the types; what
types cannot say (a known time zone, a metric of the rules, the user id of the path) is
checked after decoding. Pure; `ingest.http.api` re-exports what the gateway calls.

Every validation failure raises `ApiError(status, message)`; the message names the field
(`user.tz`, `events[3].value`), the metric or the attribute that is wrong, in the user's
terms (never a Python or msgspec type name).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

from schemas.commands import MetricTracked, User, known_time_zone, value_problem, value_reason
from schemas.rules import Rules
from schemas.tenants import SEPARATOR
from schemas.wire import Problem, Words, generic_words, problem_of, undecodable, words_for

T = TypeVar("T")
MAX_ID = 255
MAX_TENANT = 255  # the `Tenant-ID` header's characters
MAX_ATTRIBUTES = 50
MAX_ATTRIBUTE_LENGTH = 255
MAX_IDEMPOTENCY_KEY = 255
MAX_USER_STRING = 255  # email, name, tz, each device token
MAX_DEVICE_TOKENS = 100
MAX_BATCH = 1000
# |value| of one event: below what a double (Trophy's `format: double`) holds exactly as an
# integer (2**53), so an SDK's value arrives as sent
MAX_EVENT_VALUE = Decimal(10) ** 15
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
    """A request Podium cannot process: 422, the status Trophy's document lists for it on
    every operation (its SDKs raise `UnprocessableEntityError`)."""
    return ApiError(422, message)


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

    # Where Trophy's schema has no null (`email`, `name`, `subscribeToEmails`,
    # `attributes`), null is refused: absent is the way to leave a field as it is.
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID)] | None = None
    email: UserString | UnsetType = UNSET
    name: UserString | UnsetType = UNSET
    tz: UserString | None = None
    sign_up_date: Annotated[str, msgspec.Meta(max_length=64)] | UnsetType = UNSET
    device_tokens: (
        Annotated[tuple[UserString, ...], msgspec.Meta(max_length=MAX_DEVICE_TOKENS)] | None
    ) = None
    subscribe_to_emails: bool | UnsetType = UNSET
    attributes: Attributes | UnsetType = UNSET


class EventBody(_Body, frozen=True, kw_only=True):
    """The body of `POST /metrics/{key}/event`; `value` is read from its JSON text."""

    user: UserBody
    value: msgspec.Raw = msgspec.Raw(b"null")
    # null as absent: Trophy's SDK sends `"attributes": null` for `attributes=None`
    attributes: Attributes | UnsetType | None = UNSET


class BatchItem(_Body, frozen=True, kw_only=True):
    key: Annotated[str, msgspec.Meta(min_length=1)]
    user: UserBody
    value: msgspec.Raw = msgspec.Raw(b"null")
    attributes: Attributes | UnsetType | None = UNSET
    idempotency_key: IdempotencyKey | None = None


Events = Annotated[list[BatchItem], msgspec.Meta(min_length=1, max_length=MAX_BATCH)]


class BatchBody(_Body, frozen=True, kw_only=True):
    events: Events


class CompleteBody(_Body, frozen=True, kw_only=True):
    user: UserBody


NOTIFICATION_TYPES = ("achievement_completed", "recap", "reactivation", "streak_reminder")
NotificationChannel = Literal["email", "push"]
Channels = tuple[NotificationChannel, ...]  # repeats are kept once


class NotificationsBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Trophy's `NotificationPreferences`: the channels per notification type (snake_case on
    the wire, as Trophy has it); a type left out keeps its channels."""

    achievement_completed: Channels | UnsetType = UNSET
    recap: Channels | UnsetType = UNSET
    reactivation: Channels | UnsetType = UNSET
    streak_reminder: Channels | UnsetType = UNSET


class PreferencesBody(_Body, frozen=True, kw_only=True):
    """Trophy's `UpdateUserPreferencesRequest`; `streak` is read to refuse it (see
    `parse_preferences`)."""

    notifications: NotificationsBody | UnsetType = UNSET
    streak: dict[str, Any] | UnsetType = UNSET


class EventRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One metric event as the gateway publishes it."""

    metric: str
    user: User
    value: Decimal
    attributes: Mapping[str, str]
    idempotency_key: str | None = None

    def tracked(self, event_id: str, time_ms: int, user: User | None = None) -> MetricTracked:
        """The command to publish, stamped (and with `user` in place of the request's: a
        tenant-qualified id)."""
        return MetricTracked(
            event_id=event_id,
            time_ms=time_ms,
            user=self.user if user is None else user,
            metric=self.metric,
            value=self.value,
            attributes=self.attributes,
            idempotency_key=self.idempotency_key,
        )


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
    ("", "length"): _batch_size,  # a bare array of events (the admin batch's body)
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
    """`raw` (the body's bytes, or an already parsed JSON value) as `kind`; ApiError(422)
    naming the field (under `where`) otherwise."""
    data = raw if isinstance(raw, bytes) else msgspec.json.encode(raw)
    try:
        return msgspec.json.decode(data, type=kind)
    except msgspec.ValidationError as exc:
        failed: msgspec.ValidationError = exc
    except msgspec.DecodeError as exc:
        raise bad(f"request body: not valid JSON ({exc})") from None
    except Exception as exc:  # whatever else decoding raises is the body's fault too
        raise bad(f"request body: {undecodable(exc).reason}") from None
    try:  # a type error found before the text is read to its end: the text may be bad too
        problem = problem_of(failed, msgspec.json.decode(data))
    except msgspec.DecodeError as exc:
        raise bad(f"request body: not valid JSON ({exc})") from None
    except Exception as exc:
        raise bad(f"request body: {undecodable(exc).reason}") from None
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


def attribute_keys(
    given: Mapping[str, str] | UnsetType | None, known: frozenset[str] | None, where: str
) -> None:
    """Refuse attribute keys the rules file does not declare (`known` None: no `[attributes]`
    section, every key is accepted), in Trophy's words."""
    if known is None or not given:
        return
    unknown = sorted(k for k in given if k not in known)
    if unknown:
        raise bad(
            f"Invalid attribute keys: {', '.join(k[:64] for k in unknown[:10])} ({where}; "
            f"declared in the rules file: {', '.join(sorted(known)) or 'none'})"
        )


def _user(
    body: UserBody, where: str, user_id: str | None = None, rules: Rules | None = None
) -> User:
    """The command's `User` of a decoded user object; the id from the path when given."""
    uid = body.id
    if user_id is not None:
        user_id = user_id_param(user_id, "user id in the path")
        if uid is not None and uid != user_id:
            raise bad(f"{where}.id: {uid[:64]!r} differs from the user id in the path")
        uid = user_id
    if uid is None:
        raise bad(f"{where}.id: missing user id")
    if SEPARATOR in uid:  # it would name a user of a tenant (schemas.tenants)
        raise bad(f"{where}.id: a user id may not contain U+0000")
    if body.tz is not None and not known_time_zone(body.tz):
        raise bad(f"{where}.tz: unknown time zone {body.tz[:64]!r}")
    sign_up = None if body.sign_up_date is UNSET else sign_up_date(body.sign_up_date, where)
    if rules is not None and rules.attributes is not None:
        attribute_keys(body.attributes, rules.attributes.user, f"{where}.attributes")
    return User(
        sign_up_date=sign_up,
        id=uid,
        email=_given(body.email),
        name=_given(body.name),
        tz=body.tz,
        device_tokens=body.device_tokens,
        subscribe_to_emails=_given(body.subscribe_to_emails),
        attributes=_given(body.attributes),
    )


def user_id_param(raw: str, where: str) -> str:
    """A user id given in a path or a query: at most `MAX_ID` characters, no U+0000 (as in a
    body, where `UserBody` declares it)."""
    if len(raw) > MAX_ID:
        raise bad(f"{where}: a user id has at most {MAX_ID} characters, got {len(raw)}")
    if SEPARATOR in raw:  # it would name a user of a tenant (schemas.tenants)
        raise bad(f"{where}: a user id may not contain U+0000")
    return raw


def tenant_id(raw: str | None) -> str | None:
    """The `Tenant-ID` header's tenant (None: none given): at most `MAX_TENANT` characters."""
    if raw is not None and len(raw) > MAX_TENANT:
        raise bad(f"Tenant-ID: a tenant id has at most {MAX_TENANT} characters, got {len(raw)}")
    return raw


def sign_up_date(raw: str, where: str) -> str:
    """Trophy's `signUpDate`: YYYY-MM-DD, or an ISO 8601 date-time kept as its UTC day."""
    try:
        if len(raw) == 10:
            return date.fromisoformat(raw).isoformat()
        at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise bad(
            f"{where}.signUpDate: expected a date YYYY-MM-DD or an ISO 8601 date-time with "
            f"its offset, got {raw[:40]!r}"
        )
    try:
        return at.astimezone(UTC).date().isoformat()
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is in year 0 in UTC
        raise bad(
            f"{where}.signUpDate: {raw[:40]!r} is out of range: its UTC day is before "
            "0001-01-01 or after 9999-12-31"
        ) from None


def _given(value: T | UnsetType) -> T | None:
    return None if value is UNSET else value


_RAW_KINDS = {ord('"'): "a string", ord("t"): "a boolean", ord("f"): "a boolean"}
_RAW_KINDS.update({ord("["): "an array", ord("{"): "an object"})


_PLAIN_DIGITS = 15  # an integer of this many digits is below MAX_EVENT_VALUE (10**15)


def _value(raw: msgspec.Raw, where: str) -> Decimal:
    """A finite, bounded decimal from a JSON number's own text (exact: `0.1` is 0.1)."""
    text = bytes(raw)
    digits = text[1:] if text[:1] == b"-" else text
    if digits.isdigit() and len(digits) <= _PLAIN_DIGITS:
        # the common case, an integer of at most 15 digits (the decoder has checked the
        # JSON's syntax: no leading zeros): within every bound below, at a fifth of the cost
        return Decimal(text.decode())
    if text == b"null":
        raise bad(f"{where}: missing")
    if text[0] in _RAW_KINDS:
        raise bad(f"{where}: expected a number, got {_RAW_KINDS[text[0]]}")
    value: Decimal = msgspec.json.decode(text, type=Decimal)
    problem = value_problem(value)
    if problem:
        raise bad(value_reason(problem, text.decode(), where))
    if abs(value) > MAX_EVENT_VALUE:
        raise bad(f"{where}: {text.decode()[:40]} is beyond ±{MAX_EVENT_VALUE:,f}")
    return value


def parse_user(
    raw: bytes | object,
    where: str = "user",
    user_id: str | None = None,
    rules: Rules | None = None,
) -> User:
    """A Trophy user object (`UpsertedUser`); with `user_id`, the id comes from the path;
    with `rules`, its attribute keys must be declared ones (when the rules declare any)."""
    return _user(_decode(raw, UserBody, where), where, user_id, rules)


def _event_attributes(given: Attributes | UnsetType | None, rules: Rules, where: str) -> Attributes:
    if given is None:  # what Trophy's SDK sends for `attributes=None`: no attributes
        given = UNSET
    if rules.attributes is not None:
        attribute_keys(given, rules.attributes.event, where)
    return _given(given) or {}


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
        user=_user(body.user, "user", rules=rules),
        value=_value(body.value, "value"),
        attributes=_event_attributes(body.attributes, rules, "attributes"),
        idempotency_key=idempotency_key(key),
    )


def parse_batch(raw: bytes | object, rules: Rules) -> list[EventRequest]:
    """The body of `POST /metrics/events`: `{"events": [...]}` (or a bare array)."""
    body: BatchBody | list[BatchItem] = _decode(raw, BatchBody | Events, "")
    items = body.events if isinstance(body, BatchBody) else body
    try:
        return [_batch_event(item, rules, "events[]") for item in items]
    except ApiError:  # the same checks again (they are deterministic), naming the item
        for i, item in enumerate(items):
            _batch_event(item, rules, f"events[{i}]")
        raise


def _batch_event(item: BatchItem, rules: Rules, at: str) -> EventRequest:
    """One item of a batch; `at` names it in an error (formatted only when one is raised)."""
    return EventRequest(
        metric=_metric(rules, item.key, at + ".key"),
        user=_user(item.user, at + ".user", rules=rules),
        value=_value(item.value, at + ".value"),
        attributes=_event_attributes(item.attributes, rules, at + ".attributes"),
        idempotency_key=item.idempotency_key,
    )


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
    return _user(body.user, "user", rules=rules)


def parse_preferences(raw: bytes | object) -> dict[str, tuple[str, ...]]:
    """The body of `PATCH /users/{id}/preferences`: the notification channels it sets, per
    type. Per-user streak settings are refused with Trophy's 403: Podium's streak is the
    rules file's, the same for every user (`enabled: true`, the default, is accepted)."""
    body: PreferencesBody = _decode(raw, PreferencesBody)
    if body.streak is not UNSET and any(
        (k, v) != ("enabled", True) for k, v in body.streak.items()
    ):
        raise ApiError(
            403,
            "streak: per-user streak preferences are not served; the streak rule lives in "
            "the rules file and is the same for every user",
        )
    given: dict[str, tuple[str, ...]] = {}
    if body.notifications is not UNSET:
        for kind in NOTIFICATION_TYPES:
            channels = getattr(body.notifications, kind)
            if channels is not UNSET:
                given[kind] = tuple(dict.fromkeys(channels))
    return given
