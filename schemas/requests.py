"""The HTTP API's request bodies (Trophy's, see the `trophy` SDK's `types/`) as msgspec
structs, decoded by msgspec from the body's bytes with the limits declared on the types; what
types cannot say (a known time zone, a metric of the rules, the user id of the path) is
checked after decoding. Pure; `schemas.api` re-exports what the gateway calls.

Every validation failure raises `ApiError(status, message)`; the message names the field
(`user.tz`, `events[3].value`), the metric or the attribute that is wrong, in the user's
terms (never a Python or msgspec type name).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

from schemas.commands import User, known_time_zone, value_problem, value_reason
from schemas.rules import Rules
from schemas.wire import Problem, Words, generic_words, problem_of, words_for

T = TypeVar("T")
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
    sign_up_date: str | UnsetType = UNSET  # accepted, not kept (Trophy's own bookkeeping)
    device_tokens: (
        Annotated[tuple[UserString, ...], msgspec.Meta(max_length=MAX_DEVICE_TOKENS)] | None
    ) = None
    subscribe_to_emails: bool | UnsetType = UNSET
    attributes: Attributes | UnsetType = UNSET


class EventBody(_Body, frozen=True, kw_only=True):
    """The body of `POST /metrics/{key}/event`; `value` is read from its JSON text."""

    user: UserBody
    value: msgspec.Raw = msgspec.Raw(b"null")
    attributes: Attributes | UnsetType = UNSET


class BatchItem(_Body, frozen=True, kw_only=True):
    key: Annotated[str, msgspec.Meta(min_length=1)]
    user: UserBody
    value: msgspec.Raw = msgspec.Raw(b"null")
    attributes: Attributes | UnsetType = UNSET
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
    """`raw` (the body's bytes, or an already parsed JSON value) as `kind`; ApiError(422)
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
        email=_given(body.email),
        name=_given(body.name),
        tz=body.tz,
        device_tokens=body.device_tokens,
        subscribe_to_emails=_given(body.subscribe_to_emails),
        attributes=_given(body.attributes),
    )


def _given(value: T | UnsetType) -> T | None:
    return None if value is UNSET else value  # type: ignore[return-value]


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
        attributes=_given(body.attributes) or {},
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
            attributes=_given(item.attributes) or {},
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
