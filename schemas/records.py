"""Derived records: what the processors emit for each command.

- `Progress` on `podium.progress`: one per command folded, everything the command changed
  (enough for the gateway to answer Trophy's `EventResponse`).
- `AchievementCompleted` on `podium.achievements`, `StreakChanged` on `podium.streaks`,
  `PointsChanged` on `podium.points` (also carried inside the command's `Progress`).
- `DeadLetter` on `podium.events.dlq`: a record that could not be decoded or validated; and
  `EventRefused` on `podium.progress`, the answer to the command instead of its `Progress`.

Every record has a deterministic `id` (a consumer deduplicates by it) and a `backfilled`
flag (true when a replay with changed rules emitted it for the first time).

Wire format: a JSON object with "type" ("progress", "achievement", "streak", "points",
"dead_letter", "refused"),
"schema_version" and camelCase fields; decimals are strings, dates ISO "YYYY-MM-DD", times
integer epoch milliseconds UTC. The types are msgspec structs, encoded and decoded by msgspec.
"""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Final, Literal

import msgspec

from schemas.wire import TaggedCodec, Upcasters, camel_namer

SCHEMA_VERSION: Final = 1
MAX_WHOLE_BYTES: Final = 256 * 1024
"""A dead record whose key and value together exceed this is dead-lettered by reference: its
base64 (4/3 of the bytes) must stay well under the broker's message limit (1 MiB by default)."""
PREFIX_BYTES: Final = 1024

CommandType = Literal["metric", "user", "achievement", "tick"]
AchievementTrigger = Literal["metric", "streak", "api", "achievement", "anniversary"]
StreakChangeKind = Literal["started", "extended", "lost", "freeze_consumed", "freeze_earned"]
Frequency = Literal["daily", "weekly", "monthly"]


wire_name = camel_namer()  # a field's name on the wire: camelCase but `schema_version`


class StreakSnapshot(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The user's streak after a command, shaped like Trophy's MetricEventStreakResponse."""

    length: int
    frequency: Frequency
    started: str | None
    period_start: str | None
    period_end: str | None
    expires: str | None
    extended: bool
    longest: int = 0
    freezes: int | None = None
    max_freezes: int | None = None
    freeze_auto_earn_interval: int | None = None
    freeze_auto_earn_amount: int | None = None


class _Record(msgspec.Struct, frozen=True, kw_only=True, rename=wire_name, tag_field="type"):
    """The envelope's settings; each record declares `schema_version` first (a base class's
    fields would be encoded after the subclass's)."""


class AchievementCompleted(_Record, frozen=True, kw_only=True, tag="achievement"):
    """A user completed an achievement (permanent). id = f"{user_id}:{achievement}"."""

    schema_version: Literal[1] = SCHEMA_VERSION
    id: str
    user_id: str
    achievement: str
    achieved_at_ms: int
    trigger: AchievementTrigger
    event_id: str
    metric: str | None = None
    metric_value: Decimal | None = None
    streak_length: int | None = None
    backfilled: bool = False


class StreakChanged(_Record, frozen=True, kw_only=True, tag="streak"):
    """A streak fact. id = f"{user_id}:streak:{kind}:{period_start}" (+ ":{n}" for earns)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    id: str
    kind: StreakChangeKind
    user_id: str
    event_id: str
    time_ms: int
    length: int
    longest: int
    frequency: Frequency
    started: str | None
    period_start: str
    period_end: str
    freezes: int | None = None
    backfilled: bool = False


class PointsAward(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """What one trigger added in one command (all its firings there).
    id = award_id(user, system, trigger, event id): a trigger awards at most once per command.
    Tied to the event, not to a count of earlier firings, so the award of one event keeps its
    id when a replay rebuilds the history before it."""

    id: str
    trigger: str  # the trigger's key in the rules file
    points: int  # added to the total, after boosts and bounds; negative deducts
    time_ms: int  # the command's time; for a time trigger, when its last interval ended
    total: int  # the system's total after this award
    count: int = 1  # firings (one metric event may pass several thresholds)
    boosts: tuple[str, ...] = ()  # keys of the boosts that multiplied it


def award_id(user_id: str, system: str, trigger: str, event_id: str) -> str:
    return f"{user_id}:points:{system}:{trigger}:{event_id}"


class PointsChanged(_Record, frozen=True, kw_only=True, tag="points"):
    """A user's total in one points system changed in one command. id = awards[0].id."""

    schema_version: Literal[1] = SCHEMA_VERSION
    id: str
    user_id: str
    system: str
    event_id: str
    time_ms: int
    total: int
    added: int
    awards: tuple[PointsAward, ...]
    previous_level: str | None = None  # level keys; None: below every level (or none set)
    level: str | None = None
    backfilled: bool = False


class Progress(_Record, frozen=True, kw_only=True, tag="progress"):
    """Everything one command changed. id = f"{user_id}:progress:{event_id}"."""

    schema_version: Literal[1] = SCHEMA_VERSION
    id: str
    event_id: str
    user_id: str
    command: CommandType
    time_ms: int
    metric: str | None = None
    total: Decimal | None = None
    replayed: bool = False
    idempotency_key: str | None = None
    achievements: tuple[AchievementCompleted, ...] = ()
    streak: StreakSnapshot | None = None
    points: tuple[PointsChanged, ...] = ()  # one per points system the command changed
    backfilled: bool = False
    # the ids of the `ScoreChanged` records the command caused (one per board whose score it
    # moved); the ranking stage answers each with a `RankChanged` whose id is this + ":rank"
    scores: tuple[str, ...] = ()


class EventRefused(_Record, frozen=True, kw_only=True, tag="refused"):
    """The answer, on `podium.progress`, to a command the worker dead-lettered instead of
    folding: every command gets one answer there, its `Progress` or this. The gateway's
    request waiting for the event answers with the reason (never 2xx). id = the id its
    `Progress` would have, f"{user_id}:progress:{event_id}"; `dead_letter` is the id of its
    `DeadLetter` on `podium.events.dlq`."""

    schema_version: Literal[1] = SCHEMA_VERSION
    id: str
    event_id: str
    user_id: str
    reason: str
    dead_letter: str
    backfilled: bool = False


MAX_ANSWERED_ID = 255
"""A dead record's event id longer than this is no gateway's (theirs are 32 characters): it
is answered with no `EventRefused`."""


def refusal_of(dead: DeadLetter, user_id: str) -> EventRefused | None:
    """The answer to the request waiting for the dead-lettered command, when its event id is
    known (None: no request can wait for it)."""
    event_id = dead.event_id
    if not event_id or len(event_id) > MAX_ANSWERED_ID:
        return None
    return EventRefused(
        id=f"{user_id}:progress:{event_id}",
        event_id=event_id,
        user_id=user_id,
        reason=dead.reason,
        dead_letter=dead.id,
    )


class DeadLetter(_Record, frozen=True, kw_only=True, tag="dead_letter"):
    """A record that could not be decoded, validated or written. id =
    f"{topic}:{partition}:{offset}".

    A record too large to carry whole (over `MAX_WHOLE_BYTES` of key and value) is dead-lettered
    by reference: `original` and `key` hold only the first `PREFIX_BYTES` of each, `by_reference`
    is true and `value_size` / `key_size` give the full lengths; the record itself stays at its
    coordinates on `topic`."""

    schema_version: Literal[1] = SCHEMA_VERSION
    id: str
    reason: str
    original: str  # base64 of the original value bytes (a prefix of them when by reference)
    topic: str
    partition: int
    offset: int
    key: str | None = None  # base64 of the original key bytes (a prefix when by reference)
    backfilled: bool = False
    by_reference: bool = False
    value_size: int | None = None  # bytes of the original value (set when by reference)
    key_size: int | None = None  # bytes of the original key (set when by reference)
    event_id: str | None = None  # the command's event id, when it is known

    @staticmethod
    def of(
        reason: str,
        value: bytes | None,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None = None,
        event_id: str | None = None,
    ) -> DeadLetter:
        value = value or b""
        whole = len(value) + len(key or b"") <= MAX_WHOLE_BYTES
        cut = len(value) if whole else PREFIX_BYTES
        return DeadLetter(
            id=f"{topic}:{partition}:{offset}",
            reason=reason,
            original=_b64(value[:cut]),
            topic=topic,
            partition=partition,
            offset=offset,
            key=None if key is None else _b64(key if whole else key[:PREFIX_BYTES]),
            by_reference=not whole,
            value_size=None if whole else len(value),
            key_size=None if whole or key is None else len(key),
            event_id=event_id,
        )

    def original_bytes(self) -> bytes:
        return base64.b64decode(self.original)


REASON_CLASSES: Final = (
    "json",  # not JSON, not an object, or not decodable (e.g. nested too deeply)
    "version",  # schema_version missing or unsupported
    "field",  # a field missing or invalid (the reason names it)
    "rules",  # a metric or API achievement the rules do not know
    "key",  # keyed by anything but the command's user id (the ranking, for a score)
    "partition",  # a score change on another partition than its ranking's
    "type",  # another record type than the topic carries
    "no_value",
    "fold",  # the fold raised (a bug: the record is parked)
    "record",  # a derived record would be over the record limit
    "state",  # the user's state would be over the record limit
    "other",
)
"""Every class `reason_class` answers: a bounded set, fit for a metric's label."""


def reason_class(reason: str) -> str:
    """The class of a dead letter's reason (one of `REASON_CLASSES`). A reason starts with the
    field it is about, which may be any attribute name a producer sent: never a label."""
    head, sep, rest = reason.partition(":")
    if not sep:
        return "no_value" if reason == "no value" else "other"
    if head in ("not JSON", "not a JSON object", "not decodable"):
        return "json"
    if head == "schema_version":
        return "version"
    if head in ("key", "partition", "type", "fold", "record", "state"):
        return head
    if head in ("metric", "achievement") and rest.startswith(" unknown"):
        return "rules"
    return "field"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


Record = Progress | AchievementCompleted | StreakChanged | PointsChanged | DeadLetter | EventRefused
_BY_TAG: dict[object, str] = {
    "progress": "Progress",
    "refused": "EventRefused",
    "achievement": "AchievementCompleted",
    "streak": "StreakChanged",
    "points": "PointsChanged",
    "dead_letter": "DeadLetter",
}


# --- codec ----------------------------------------------------------------------------------

UPCASTERS = Upcasters(current=SCHEMA_VERSION, field="schema_version", steps={})
_CODEC: TaggedCodec[Record] = TaggedCodec(Record, _BY_TAG, UPCASTERS)


def encode_record(rec: Record) -> bytes:
    return _CODEC.encode(rec)


def decode_record(raw: bytes) -> Record:
    """Decode a derived record; raises `InvalidRecord` with the reason."""
    return _CODEC.decode(raw)


def progress_event_id(raw: bytes) -> str | None:
    """The event id of an encoded `Progress` (or of any record: its first `eventId`), found
    without decoding: the gateway looks at every progress record of the topic to find the few
    it waits for. `encode_record` writes the record's own `eventId` before any nested one, and
    JSON escapes every quote inside strings, so the first match is the record's."""
    text = string_field_bytes(raw, b"eventId")
    if text is None:
        return None
    if b"\\" in text:  # an escape inside the id: let msgspec read the string exactly
        try:
            return msgspec.json.decode(raw, type=_EventIdOf).event_id
        except Exception:  # not a record the gateway can have waited for (e.g. nested too deep)
            return None
    return text.decode("utf-8", "replace")


def string_field_bytes(raw: bytes, name: bytes) -> bytes | None:
    """The bytes between the quotes of the first `"name":"..."` in an encoded record, escapes
    left as they are; None when there is none. JSON escapes every quote inside strings, so a
    match is never inside another string; the first is the outermost field when the encoder
    writes a record's own fields before any nested one (`encode_record` does)."""
    at = raw.find(b'"' + name + b'":"')
    if at < 0:
        return None
    start = at + len(name) + 4
    end = raw.find(b'"', start)
    return None if end < 0 else raw[start:end]


class _EventIdOf(msgspec.Struct, rename="camel"):
    event_id: str | None = None
