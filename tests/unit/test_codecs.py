"""Round trips of the derived records and the state, and the determinism of the state codec."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.commands import InvalidRecord
from schemas.records import (
    AchievementCompleted,
    DeadLetter,
    Progress,
    StreakChanged,
    StreakSnapshot,
    decode_record,
    encode_record,
    progress_event_id,
)
from schemas.state import (
    UPCASTERS,
    HistoryEntry,
    StreakState,
    UserState,
    decode_state,
    encode_state,
)
from schemas.wire import Upcasters

text = st.text(max_size=10)
ints = st.integers(0, 2**53)
decimals = st.decimals(
    allow_nan=False, allow_infinity=False, min_value=-(10**12), max_value=10**12, places=4
)
dates = st.dates().map(lambda d: d.isoformat())
achievements = st.builds(
    AchievementCompleted,
    id=text,
    user_id=text,
    achievement=text,
    achieved_at_ms=ints,
    trigger=st.sampled_from(["metric", "streak", "api", "achievement"]),
    event_id=text,
    metric=st.none() | text,
    metric_value=st.none() | decimals,
    streak_length=st.none() | ints,
    backfilled=st.booleans(),
)
snapshots = st.builds(
    StreakSnapshot,
    length=ints,
    frequency=st.sampled_from(["daily", "weekly", "monthly"]),
    started=st.none() | dates,
    period_start=st.none() | dates,
    period_end=st.none() | dates,
    expires=st.none() | dates,
    extended=st.booleans(),
    longest=ints,
    freezes=st.none() | ints,
)
changes = st.builds(
    StreakChanged,
    id=text,
    kind=st.sampled_from(["started", "extended", "lost", "freeze_consumed", "freeze_earned"]),
    user_id=text,
    event_id=text,
    time_ms=ints,
    length=ints,
    longest=ints,
    frequency=st.just("daily"),
    started=st.none() | dates,
    period_start=dates,
    period_end=dates,
    freezes=st.none() | ints,
    backfilled=st.booleans(),
)
progress = st.builds(
    Progress,
    id=text,
    event_id=text,
    user_id=text,
    command=st.sampled_from(["metric", "user", "achievement", "tick"]),
    time_ms=ints,
    metric=st.none() | text,
    total=st.none() | decimals,
    replayed=st.booleans(),
    idempotency_key=st.none() | text,
    achievements=st.lists(achievements, max_size=3).map(tuple),
    streak=st.none() | snapshots,
    backfilled=st.booleans(),
)
letters = st.builds(
    DeadLetter.of, text, st.binary(max_size=20), text, ints, ints, st.none() | st.binary(max_size=5)
)
streak_states = st.builds(
    StreakState,
    length=ints,
    longest=ints,
    started=st.none() | ints,
    covered=st.none() | ints,
    period=st.none() | ints,
    progress=st.dictionaries(text, decimals, max_size=3),
    extended_ms=st.none() | ints,
    freezes=ints,
    freeze_anchor=st.none() | ints,
    freeze_earned=ints,
    history=st.lists(
        st.builds(HistoryEntry, period=ints, length=ints, used_freeze=st.booleans()), max_size=4
    ).map(tuple),
    paused=st.lists(ints, min_size=1, max_size=3).map(tuple) | st.just(msgspec.UNSET),
)
states = st.builds(
    UserState,
    user_id=text,
    email=st.none() | text,
    name=st.none() | text,
    tz=st.none() | st.just("Europe/London"),
    device_tokens=st.none() | st.lists(text, max_size=2).map(tuple),
    subscribe_to_emails=st.none() | st.booleans(),
    attributes=st.dictionaries(text, text, max_size=3),
    created_ms=ints,
    updated_ms=ints,
    events=ints,
    totals=st.dictionaries(text, decimals, max_size=4),
    idempotency=st.dictionaries(text, st.lists(text, max_size=3).map(tuple), max_size=2),
    recent_events=st.lists(text, max_size=3).map(tuple),
    achievements=st.dictionaries(text, ints, max_size=3),
    streak=streak_states,
    offset=st.integers(-1, 2**40),
)


@settings(max_examples=150)
@given(st.one_of(achievements, changes, progress, letters))
def test_records_round_trip(rec: object) -> None:
    assert decode_record(encode_record(rec)) == rec  # type: ignore[arg-type]


@settings(max_examples=150)
@given(states)
def test_state_round_trips_byte_for_byte(state: UserState) -> None:
    raw = encode_state(state)
    assert decode_state(raw) == state
    assert encode_state(decode_state(raw)) == raw


_KINDS: dict[type, str] = {
    Progress: "progress",
    AchievementCompleted: "achievement",
    StreakChanged: "streak",
}


def _camel_fields(obj: object) -> dict[str, object]:
    """The documented wire form of a record, computed independently of the codec: the
    envelope ("type" first, then "schema_version") of a record type, then every field under
    its camelCase name in declaration order."""
    out: dict[str, object] = {}
    if isinstance(obj, (*_KINDS, DeadLetter)):
        out.update(type=_KINDS.get(type(obj), "dead_letter"), schema_version=1)
    for f in msgspec.structs.fields(obj):  # type: ignore[arg-type]
        if f.name == "schema_version":
            continue
        value = getattr(obj, f.name)
        head, *rest = f.name.split("_")
        if isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, tuple):
            value = [_camel_fields(v) for v in value]
        elif isinstance(value, msgspec.Struct):
            value = _camel_fields(value)
        out[head + "".join(p.capitalize() for p in rest)] = value
    return out


@settings(max_examples=100)
@given(st.one_of(achievements, changes, progress, letters))
def test_record_bytes_are_the_documented_wire_form(rec: object) -> None:
    assert encode_record(rec) == orjson.dumps(_camel_fields(rec))  # type: ignore[arg-type]


@settings(max_examples=50)
@given(states, st.integers(-1, 2**40))
def test_with_offset_is_replace(state: UserState, offset: int) -> None:
    stamped = state.with_offset(offset)
    assert stamped == msgspec.structs.replace(state, offset=offset)
    assert type(stamped) is UserState


def test_state_encoding_ignores_dict_insertion_order() -> None:
    a = UserState(
        user_id="u", totals={"a": Decimal(1), "b": Decimal(2)}, achievements={"x": 1, "y": 2}
    )
    b = UserState(
        user_id="u", totals={"b": Decimal(2), "a": Decimal(1)}, achievements={"y": 2, "x": 1}
    )
    assert encode_state(a) == encode_state(b)


def test_dead_letter_keeps_the_original_bytes() -> None:
    letter = DeadLetter.of("not JSON", b"\xff\x00", "podium.events", 3, 42, b"user-1")
    assert letter.id == "podium.events:3:42"
    assert decode_record(encode_record(letter)).original_bytes() == b"\xff\x00"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"nope", "not JSON"),
        (b"[]", "not a JSON object"),
        (b'{"schema_version": 9, "type": "progress"}', "schema_version: unsupported 9"),
        (b'{"schema_version": 1, "type": "x"}', "type: unknown 'x'"),
        (b'{"schema_version": 1, "type": "achievement"}', "AchievementCompleted:"),
    ],
)
def test_bad_records_are_rejected(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidRecord) as caught:
        decode_record(raw)
    assert caught.value.reason.startswith(reason)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"nope", "not a UserState: not JSON"),
        (b'{"version": 7}', "state version: unsupported 7"),
        (b'{"version": 1}', "not a UserState: userId: missing"),
    ],
)
def test_bad_state_is_rejected(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidRecord) as caught:
        decode_state(raw)
    assert caught.value.reason.startswith(reason)


VECTORS = Path(__file__).parent / "vectors" / "state_v1.jsonl"


def _as_v2(obj: dict[str, object]) -> dict[str, object]:
    """What version 2 is, written out independently: version 1 plus no points, and the fields
    added since at their defaults (no sign-up date, no notification preferences, no per-day
    metric history)."""
    added: dict[str, object] = {"signUpDate": None, "notifications": {}, "metricDays": {}}
    return {**obj, "points": {}, **added, "version": 2}


def test_states_written_by_the_previous_version_load_and_reencode_identically() -> None:
    """`state_v1.jsonl` was written by the codec before msgspec (commit 4003ed0: orjson with
    sorted keys): hypothesis states and states a real fold produced, one per line. They load
    as version 2 (points added, none; the fields added since at their defaults) and re-encode
    as exactly that; a version 2 state re-encodes byte for byte."""
    lines = VECTORS.read_bytes().splitlines()
    assert len(lines) == 320
    for raw in lines:
        state = decode_state(raw)
        lifted = orjson.dumps(_as_v2(orjson.loads(raw)), option=orjson.OPT_SORT_KEYS)
        assert encode_state(state) == lifted
        assert encode_state(decode_state(lifted)) == lifted
        assert state.user_id == orjson.loads(raw)["userId"]


def _v0_to_v1(obj: dict[str, object]) -> dict[str, object]:
    """A made-up older shape for the test: v0 called the user id "user"."""
    out = {k: v for k, v in obj.items() if k != "user"}
    return {**out, "userId": obj["user"], "version": 1}


def test_an_older_state_version_is_lifted_by_its_upcaster() -> None:
    registry = Upcasters(current=2, field="version", steps={**UPCASTERS.steps, 0: _v0_to_v1})
    current = orjson.loads(VECTORS.read_bytes().splitlines()[-1])  # a version 1 state
    old = {k: v for k, v in current.items() if k != "userId"}
    old.update(user=current["userId"], version=0)
    state = decode_state(orjson.dumps(old), registry)
    assert encode_state(state) == orjson.dumps(_as_v2(current), option=orjson.OPT_SORT_KEYS)
    with pytest.raises(InvalidRecord, match=r"state version: unsupported 0 \(expected 2\)"):
        decode_state(orjson.dumps(old))  # the default registry has no step from 0


def test_the_upcaster_registry_walks_each_step_and_refuses_gaps() -> None:
    steps = {1: lambda o: {**o, "v": 2, "b": 1}, 2: lambda o: {**o, "v": 3, "c": o["b"] + 1}}
    registry = Upcasters(current=3, field="v", steps=steps)
    assert registry.lift({"v": 1}) == {"v": 3, "b": 1, "c": 2}
    assert registry.lift({"v": 3, "x": 0}) == {"v": 3, "x": 0}
    for obj, reason in (({"v": 0}, "v: unsupported 0 (expected 3)"), ({}, "v: missing")):
        with pytest.raises(InvalidRecord) as caught:
            registry.lift(obj)
        assert caught.value.reason == reason
    stuck = Upcasters(current=2, field="v", steps={1: lambda o: o})
    with pytest.raises(InvalidRecord, match="did not advance"):
        stuck.lift({"v": 1})


@settings(max_examples=100)
@given(st.one_of(progress, achievements, changes, letters))
def test_the_event_id_lookup_finds_the_records_own_event_id(rec: object) -> None:
    raw = encode_record(rec)  # type: ignore[arg-type]
    expected = getattr(rec, "event_id", None)
    assert progress_event_id(raw) == expected


def test_the_event_id_lookup_is_not_fooled_by_nested_or_escaped_ids() -> None:
    done = AchievementCompleted(
        id='u:"eventId":"x',
        user_id="u",
        achievement="a",
        achieved_at_ms=1,
        trigger="api",
        event_id="nested",
    )
    for eid in ("e-1", 'quote"inside', "back\\slash", "é"):
        rec = Progress(
            id=f'"eventId":"fake:{eid}',
            event_id=eid,
            user_id='"eventId":"',
            command="achievement",
            time_ms=1,
            achievements=(done,),
        )
        assert progress_event_id(encode_record(rec)) == eid
    assert progress_event_id(b'{"type":"progress"}') is None
