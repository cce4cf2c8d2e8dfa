"""Derived records: what the processors emit for each command.

- `Progress` on `podium.progress`: exactly one per command, everything the command changed
  (enough for the gateway to answer Trophy's `EventResponse`).
- `AchievementCompleted` on `podium.achievements`, `StreakChanged` on `podium.streaks`,
  `PointsChanged` (schemas.points) on `podium.points`.
- `DeadLetter` on `podium.events.dlq`: a record that could not be decoded or validated.

Every record has a deterministic `id` (a consumer deduplicates by it) and a `backfilled`
flag (true when a replay with changed rules emitted it for the first time).

Wire format: a JSON object with "schema_version", "type" ("progress", "achievement",
"streak", "points", "dead_letter") and camelCase fields; decimals are strings, dates ISO
"YYYY-MM-DD", times integer epoch milliseconds UTC.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import orjson

from schemas.commands import InvalidRecord
from schemas.points import PointsChanged, changed_json, changed_of

SCHEMA_VERSION = 1

CommandType = Literal["metric", "user", "achievement", "tick"]
AchievementTrigger = Literal["metric", "streak", "api", "achievement"]
StreakChangeKind = Literal["started", "extended", "lost", "freeze_consumed", "freeze_earned"]
Frequency = Literal["daily", "weekly", "monthly"]


@dataclass(frozen=True, slots=True)
class StreakSnapshot:
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


@dataclass(frozen=True, slots=True)
class AchievementCompleted:
    """A user completed an achievement (permanent). id = f"{user_id}:{achievement}"."""

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


@dataclass(frozen=True, slots=True)
class StreakChanged:
    """A streak fact. id = f"{user_id}:streak:{kind}:{period_start}" (+ ":{n}" for earns)."""

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


@dataclass(frozen=True, slots=True)
class Progress:
    """Everything one command changed. id = f"{user_id}:progress:{event_id}"."""

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
    points: tuple[PointsChanged, ...] = ()  # per points system the command changed
    backfilled: bool = False


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that could not be decoded or validated. id = f"{topic}:{partition}:{offset}"."""

    id: str
    reason: str
    original: str  # base64 of the original value bytes
    topic: str
    partition: int
    offset: int
    key: str | None = None  # base64 of the original key bytes
    backfilled: bool = False

    @staticmethod
    def of(
        reason: str,
        value: bytes | None,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None = None,
    ) -> DeadLetter:
        return DeadLetter(
            id=f"{topic}:{partition}:{offset}",
            reason=reason,
            original=base64.b64encode(value or b"").decode("ascii"),
            topic=topic,
            partition=partition,
            offset=offset,
            key=None if key is None else base64.b64encode(key).decode("ascii"),
        )

    def original_bytes(self) -> bytes:
        return base64.b64decode(self.original)


Record = Progress | AchievementCompleted | StreakChanged | PointsChanged | DeadLetter


# --- codecs ---------------------------------------------------------------------------------


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _fields_encoder(
    cls: Any, head: dict[str, Any], nested: dict[str, Callable[[Any], Any]] | None = None
) -> Callable[[Any], dict[str, Any]]:
    """A function giving `head` and then every field under its camelCase name (decimals as
    strings, `nested` fields through their function), as one generated dict display.

    The runtime encodes every record it publishes; deriving the names per field per record
    cost more than the fold itself.
    """
    fields = dataclasses.fields(cls)
    decimals = {f.name for f in fields if "Decimal" in str(f.type)}
    items = [f"{k!r}: {v!r}" for k, v in head.items()]
    for name in (f.name for f in fields):
        if nested and name in nested:
            expr = f"_{name}(o.{name})"
        elif name in decimals:
            expr = f"None if o.{name} is None else str(o.{name})"
        else:
            expr = f"o.{name}"
        items.append(f"{_camel(name)!r}: {expr}")
    source = "def encode(o):\n    return {" + ", ".join(items) + "}\n"
    namespace: dict[str, Any] = {f"_{k}": v for k, v in (nested or {}).items()}
    exec(source, namespace)  # generated from field names only; no outside input
    encode: Callable[[Any], dict[str, Any]] = namespace["encode"]
    return encode


_achievement_fields = _fields_encoder(AchievementCompleted, {})
_snapshot_fields = _fields_encoder(StreakSnapshot, {})
_ENCODERS: dict[type, Callable[[Any], dict[str, Any]]] = {
    Progress: _fields_encoder(
        Progress,
        {"schema_version": SCHEMA_VERSION, "type": "progress"},
        {
            "achievements": lambda v: [_achievement_fields(a) for a in v],
            "streak": lambda v: None if v is None else _snapshot_fields(v),
            "points": lambda v: [changed_json(c) for c in v],
        },
    ),
    PointsChanged: lambda o: {
        "schema_version": SCHEMA_VERSION,
        "type": "points",
        **changed_json(o),
    },
    AchievementCompleted: _fields_encoder(
        AchievementCompleted, {"schema_version": SCHEMA_VERSION, "type": "achievement"}
    ),
    StreakChanged: _fields_encoder(
        StreakChanged, {"schema_version": SCHEMA_VERSION, "type": "streak"}
    ),
    DeadLetter: _fields_encoder(
        DeadLetter, {"schema_version": SCHEMA_VERSION, "type": "dead_letter"}
    ),
}


def record_json(rec: Record) -> dict[str, Any]:
    """The JSON object of a record (what `encode_record` serialises)."""
    encoder = _ENCODERS.get(type(rec))
    if encoder is None:
        for cls, encoder in _ENCODERS.items():
            if isinstance(rec, cls):  # a subclass: encoded as its record type
                return encoder(rec)
        raise TypeError(f"not a record: {type(rec).__name__}")
    return encoder(rec)


def encode_record(rec: Record) -> bytes:
    return orjson.dumps(record_json(rec))


def _build(cls: Any, obj: dict[str, Any], decimals: tuple[str, ...] = ()) -> Any:
    kwargs: dict[str, Any] = {}
    for name in cls.__slots__:
        key = _camel(name)
        if key in obj:
            value = obj[key]
            if name in decimals and value is not None:
                value = Decimal(value)
            kwargs[name] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise InvalidRecord(f"{cls.__name__}: {exc}") from None


def _achievement(obj: dict[str, Any]) -> AchievementCompleted:
    rec: AchievementCompleted = _build(AchievementCompleted, obj, ("metric_value",))
    return rec


def _progress(obj: dict[str, Any]) -> Progress:
    base = dict(obj)
    base["achievements"] = tuple(_achievement(a) for a in obj.get("achievements") or ())
    streak = obj.get("streak")
    base["streak"] = None if streak is None else _build(StreakSnapshot, streak)
    base["points"] = tuple(changed_of(c) for c in obj.get("points") or ())
    rec: Progress = _build(Progress, base, ("total",))
    return rec


_DECODERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "progress": _progress,
    "achievement": _achievement,
    "streak": lambda obj: _build(StreakChanged, obj),
    "points": changed_of,
    "dead_letter": lambda obj: _build(DeadLetter, obj),
}


def decode_record(raw: bytes) -> Record:
    """Decode a derived record; raises `InvalidRecord` with the reason."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRecord(f"not JSON: {exc}") from None
    if type(obj) is not dict:
        raise InvalidRecord("not a JSON object")
    if obj.get("schema_version") != SCHEMA_VERSION:
        raise InvalidRecord(f"schema_version: unsupported {obj.get('schema_version')!r}")
    decoder = _DECODERS.get(obj.get("type"))  # type: ignore[arg-type]
    if decoder is None:
        raise InvalidRecord(f"type: unknown {obj.get('type')!r}")
    try:
        rec: Record = decoder(obj)
    except InvalidRecord:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidRecord(f"{obj.get('type')}: {type(exc).__name__}: {exc}") from None
    return rec
