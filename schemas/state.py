"""Per-user state: the value of the compacted `podium.state` changelog (key = user id).

The fold (`processors.core.fold.evolve`) is the only writer. `encode_state` is deterministic
(msgspec with sorted keys, decimals as strings, no floats), so replaying the log yields
byte-identical state; the bytes are those of the version before msgspec (a test holds
`tests/unit/vectors/state_v1.jsonl`, written by that version, to it). Calendar dates are
stored as proleptic Gregorian ordinals (`date.toordinal()`), streak periods as period indexes
(see `processors.core.periods`). A state of an older `version` is lifted by `UPCASTERS` on load:
version 2 added `points` (version 1 states load with none). Fields added since have defaults
(`signUpDate`, `notifications`, `metricDays`), so a state written before them loads with none;
`leaderboards` and `streak.paused` are absent until first used, so such a state also
re-encodes to its very bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

import msgspec

from schemas.leaderboards import BoardScore
from schemas.wire import InvalidRecord, Upcasters, convert_slowly, decoder, kind_of, not_json

STATE_VERSION: Final = 2


class HistoryEntry(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """One kept streak period: its index, the streak length at its end, whether frozen.
    On the wire: `[period, length, used_freeze]`."""

    period: int
    length: int
    used_freeze: bool = False


Paused = tuple[int, ...] | msgspec.UnsetType


def pauses(periods: tuple[int, ...]) -> Paused:
    """`StreakState.paused` holding these periods: UNSET (absent from the bytes) for none."""
    return periods or msgspec.UNSET


class StreakState(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    length: int = 0
    longest: int = 0
    started: int | None = None  # local date ordinal of the event that started the streak
    covered: int | None = None  # last period kept alive (extended, or frozen)
    period: int | None = None  # latest period seen; `progress` accumulates for it
    progress: Mapping[str, Decimal] = {}
    extended_ms: int | None = None  # time of the last extension
    freezes: int = 0
    freeze_anchor: int | None = None  # local date ordinal auto-earn counts from
    freeze_earned: int = 0  # auto-earn intervals credited since the anchor
    history: tuple[HistoryEntry, ...] = ()
    # the periods of `history` a day off kept (the streak paused), ascending; UNSET (absent
    # from the bytes) when there are none, so states written before days off keep their bytes
    paused: Paused = msgspec.UNSET

    @property
    def paused_periods(self) -> tuple[int, ...]:
        """The periods of `history` a day off kept (empty when none)."""
        kept = self.paused
        return () if isinstance(kept, msgspec.UnsetType) else kept


class KeptAward(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """An award as the state keeps it, on the wire `[trigger, eventId, points, timeMs, total,
    count, boosts]`: its id is `schemas.records.award_id(user, system, trigger, event_id)`."""

    trigger: str
    event_id: str
    points: int
    time_ms: int
    total: int
    count: int = 1
    boosts: tuple[str, ...] = ()


class PointsDay(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """A local day (date ordinal in the user's zone) on which the total changed; on the wire
    `[day, added, total]`."""

    day: int
    added: int
    total: int  # at the end of that day


class PointsState(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One user's standing in one points system."""

    total: int = 0
    level: str | None = None  # the level key; None: below every level (or none set)
    awards: tuple[KeptAward, ...] = ()  # the latest `limits.points_awards`, oldest first
    days: tuple[PointsDay, ...] = ()  # the latest `limits.points_days` days, oldest first
    counts: Mapping[str, int] = {}  # trigger key -> firings so far (intervals, thresholds)
    units: Mapping[str, Decimal] = {}  # metric trigger key -> units counted towards it


class MetricDay(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """A local day (date ordinal in the user's zone) on which a metric's total changed; on
    the wire `[day, added, total]` (exact decimals, as strings). The same shape as points'
    `PointsDay`, so event summaries of both aggregate alike (`processors.core.summaries`)."""

    day: int
    added: Decimal
    total: Decimal  # at the end of that day


class UserState(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    user_id: str
    version: int = STATE_VERSION
    email: str | None = None
    name: str | None = None
    tz: str | None = None
    device_tokens: tuple[str, ...] | None = None
    subscribe_to_emails: bool | None = None
    attributes: Mapping[str, str] = {}
    created_ms: int = 0
    updated_ms: int = 0
    events: int = 0  # commands applied
    totals: Mapping[str, Decimal] = {}
    idempotency: Mapping[str, tuple[str, ...]] = {}  # metric -> hashes
    recent_events: tuple[str, ...] = ()  # the latest event ids (long ones as "#" + hash)
    achievements: Mapping[str, int] = {}  # key -> achieved_at_ms
    streak: StreakState = msgspec.field(default_factory=StreakState)
    points: Mapping[str, PointsState] = {}  # points system key -> the user's standing

    sign_up_date: str | None = None  # ISO calendar date
    notifications: Mapping[str, tuple[str, ...]] = {}  # notification type -> channels (set)
    metric_days: Mapping[str, tuple[MetricDay, ...]] = {}  # the latest days, oldest first

    # board key -> the user's score on it; UNSET (and so absent from the bytes) until the
    # user first scores on a board, so states written before leaderboards keep their bytes
    leaderboards: Mapping[str, BoardScore] | msgspec.UnsetType = msgspec.UNSET
    offset: int = -1  # stamped by the runtime: offset of the last event applied; not the fold

    @property
    def board_scores(self) -> Mapping[str, BoardScore]:
        """The user's board scores (empty when the user never scored on a board)."""
        scores = self.leaderboards
        return {} if isinstance(scores, msgspec.UnsetType) else scores

    def with_offset(self, offset: int) -> UserState:
        """This state stamped with `offset` (what the runtime does once per changed state)."""
        return msgspec.structs.replace(self, offset=offset)


# --- codec ----------------------------------------------------------------------------------

_encoder = msgspec.json.Encoder(order="sorted")
_decoder = msgspec.json.Decoder(UserState)


def _v1_to_v2(obj: dict[str, Any]) -> dict[str, Any]:
    """Version 2 added points: a version 1 state has none."""
    return {**obj, "points": {}, "version": 2}


UPCASTERS = Upcasters(current=STATE_VERSION, field="version", steps={1: _v1_to_v2})
"""version -> the pure function lifting a decoded state object to version + 1."""


def encode_state(state: UserState) -> bytes:
    return _encoder.encode(state)


@decoder
def decode_state(raw: bytes, upcasters: Upcasters = UPCASTERS) -> UserState:
    """Decode a state changelog value, lifting an older version through `upcasters`;
    raises `InvalidRecord` (only) when it is not a state."""
    try:
        state: UserState = _decoder.decode(raw)
    except msgspec.ValidationError as exc:
        return _decode_slowly(raw, exc, upcasters)
    except msgspec.DecodeError as exc:
        raise InvalidRecord(f"not a UserState: {not_json(exc)}") from None
    if state.version != upcasters.current:
        return _decode_slowly(raw, None, upcasters)
    return state


def _decode_slowly(
    raw: bytes, exc: msgspec.ValidationError | None, upcasters: Upcasters
) -> UserState:
    obj = msgspec.json.decode(raw)
    if type(obj) is not dict:
        raise InvalidRecord(f"not a UserState: not a JSON object, got {kind_of(obj)}")
    try:
        lifted = upcasters.lift(obj)
    except InvalidRecord as err:
        raise InvalidRecord(f"state {err.reason}") from None
    try:
        state: UserState = convert_slowly(lifted, obj, exc, raw, UserState, {})
    except InvalidRecord as err:
        raise InvalidRecord(f"not a UserState: {err.reason}") from None
    return state
