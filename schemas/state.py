"""Per-user state: the value of the compacted `podium.state` changelog (key = user id).

The fold (`processors.fold.evolve`) is the only writer. `encode_state` is deterministic
(sorted keys, decimals as strings, no floats), so replaying the log yields byte-identical
state. Calendar dates are stored as proleptic Gregorian ordinals (`date.toordinal()`), streak
periods as period indexes (see `processors.periods`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson

from schemas import points as _points
from schemas._fast import maker
from schemas.commands import InvalidRecord
from schemas.points import PointsState

STATE_VERSION = 1


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One kept streak period: its index, the streak length at its end, whether frozen."""

    period: int
    length: int
    used_freeze: bool = False


@dataclass(frozen=True, slots=True)
class StreakState:
    length: int = 0
    longest: int = 0
    started: int | None = None  # local date ordinal of the event that started the streak
    covered: int | None = None  # last period kept alive (extended, or frozen)
    period: int | None = None  # latest period seen; `progress` accumulates for it
    progress: Mapping[str, Decimal] = field(default_factory=dict)
    extended_ms: int | None = None  # time of the last extension
    freezes: int = 0
    freeze_anchor: int | None = None  # local date ordinal auto-earn counts from
    freeze_earned: int = 0  # auto-earn intervals credited since the anchor
    history: tuple[HistoryEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class UserState:
    user_id: str
    version: int = STATE_VERSION
    email: str | None = None
    name: str | None = None
    tz: str | None = None
    device_tokens: tuple[str, ...] | None = None
    subscribe_to_emails: bool | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    created_ms: int = 0
    updated_ms: int = 0
    events: int = 0  # commands applied
    totals: Mapping[str, Decimal] = field(default_factory=dict)
    idempotency: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # metric -> hashes
    recent_events: tuple[str, ...] = ()  # the latest event ids (long ones as "#" + hash)
    achievements: Mapping[str, int] = field(default_factory=dict)  # key -> achieved_at_ms
    streak: StreakState = field(default_factory=StreakState)
    points: Mapping[str, PointsState] = field(default_factory=dict)  # system key -> state
    offset: int = -1  # stamped by the runtime: offset of the last event applied; not the fold

    def with_offset(self, offset: int) -> UserState:
        """This state stamped with `offset` (what the runtime does once per changed state):
        `replace(state, offset=offset)`, built directly because `replace` costs far more."""
        return _new_state(
            self.user_id,
            self.version,
            self.email,
            self.name,
            self.tz,
            self.device_tokens,
            self.subscribe_to_emails,
            self.attributes,
            self.created_ms,
            self.updated_ms,
            self.events,
            self.totals,
            self.idempotency,
            self.recent_events,
            self.achievements,
            self.streak,
            self.points,
            offset,
        )


# --- codec ----------------------------------------------------------------------------------


def state_json(state: UserState) -> dict[str, Any]:
    s = state.streak
    tokens = state.device_tokens
    return {
        "version": state.version,
        "userId": state.user_id,
        "email": state.email,
        "name": state.name,
        "tz": state.tz,
        "deviceTokens": None if tokens is None else list(tokens),
        "subscribeToEmails": state.subscribe_to_emails,
        "attributes": dict(state.attributes),
        "createdMs": state.created_ms,
        "updatedMs": state.updated_ms,
        "events": state.events,
        "totals": {k: str(v) for k, v in state.totals.items()},
        "idempotency": {k: list(v) for k, v in state.idempotency.items()},
        "recentEvents": list(state.recent_events),
        "achievements": dict(state.achievements),
        "streak": {
            "length": s.length,
            "longest": s.longest,
            "started": s.started,
            "covered": s.covered,
            "period": s.period,
            "progress": {k: str(v) for k, v in s.progress.items()},
            "extendedMs": s.extended_ms,
            "freezes": s.freezes,
            "freezeAnchor": s.freeze_anchor,
            "freezeEarned": s.freeze_earned,
            "history": [[h.period, h.length, h.used_freeze] for h in s.history],
        },
        "points": {k: _points.state_json(v) for k, v in state.points.items()},
        "offset": state.offset,
    }


def encode_state(state: UserState) -> bytes:
    return orjson.dumps(state_json(state), option=orjson.OPT_SORT_KEYS)


# Direct construction: decoding builds every history entry, and the generated __init__ of a
# frozen dataclass costs several times more (see schemas._fast).
_new_entry = maker(HistoryEntry)
_new_streak = maker(StreakState)
_new_state = maker(UserState)


def _decimals(values: dict[str, str]) -> dict[str, Decimal]:
    return dict(zip(values, map(Decimal, values.values()), strict=True))


def _streak(obj: dict[str, Any]) -> StreakState:
    return _new_streak(
        obj["length"],
        obj["longest"],
        obj["started"],
        obj["covered"],
        obj["period"],
        _decimals(obj["progress"]),
        obj["extendedMs"],
        obj["freezes"],
        obj["freezeAnchor"],
        obj["freezeEarned"],
        tuple([_new_entry(p, n, bool(f)) for p, n, f in obj["history"]]),
    )


def _points_of(obj: dict[str, Any], user_id: str) -> dict[str, PointsState]:
    systems = obj.get("points")  # absent in states written before points existed
    if not systems:
        return {}
    return {k: _points.state_of(v, user_id, k) for k, v in systems.items()}


def decode_state(raw: bytes) -> UserState:
    """Decode a state changelog value; raises `InvalidRecord` when it is not one."""
    try:
        obj = orjson.loads(raw)
        if obj.get("version") != STATE_VERSION:
            raise InvalidRecord(f"state version: unsupported {obj.get('version')!r}")
        tokens = obj["deviceTokens"]
        return _new_state(
            obj["userId"],
            obj["version"],
            obj["email"],
            obj["name"],
            obj["tz"],
            None if tokens is None else tuple(tokens),
            obj["subscribeToEmails"],
            obj["attributes"],
            obj["createdMs"],
            obj["updatedMs"],
            obj["events"],
            _decimals(obj["totals"]),
            {k: tuple(v) for k, v in obj["idempotency"].items()},
            tuple(obj["recentEvents"]),
            obj["achievements"],
            _streak(obj["streak"]),
            _points_of(obj, obj["userId"]),
            obj["offset"],
        )
    except InvalidRecord:
        raise
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise InvalidRecord(f"not a UserState: {type(exc).__name__}: {exc}") from None
