"""A user's attributes are bounded in the fold itself (a direct producer can bypass the
gateway): at most 50 in all, keys and values of at most 255 characters. A command that would
go over is a dead letter answered on `podium.progress` with an `EventRefused`, and the state
stays as it was; at the bound, the fullest profile still leaves the state well under the
record limit. (Ten such commands once made a 1.016 MB state, and every later event of the
user a `state:` dead letter.)"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from processors.core.users import new_user
from processors.runtime.batch import MAX_RECORD_BYTES, fold_batch
from processors.runtime.step import apply_record
from processors.runtime.store import StateStore
from schemas.commands import MetricTracked, User, UserIdentified, encode_command
from schemas.records import DeadLetter, EventRefused, Progress, decode_record
from schemas.state import encode_state
from schemas.state_bound import STATE_BUDGET_BYTES
from schemas.topics import PROGRESS
from tests.rules import writing_rules

RULES = writing_rules()
LONG = "\x01" * 255  # 255 characters, six bytes each in JSON (\u0001)


@dataclass(frozen=True)
class Rec:
    offset: int
    key: bytes | None
    value: bytes | None


def identify(event_id: str, first: int, count: int, text: str = "v") -> Rec:
    attributes = {f"{first + i:03d}{LONG[:252]}": text for i in range(count)}
    cmd = UserIdentified(event_id=event_id, time_ms=0, user=User(id="u1", attributes=attributes))
    return Rec(int(event_id[1:]), b"u1", encode_command(cmd))


def event(event_id: str) -> Rec:
    cmd = MetricTracked(
        event_id=event_id, time_ms=0, user=User(id="u1"), metric="words-written", value=Decimal(3)
    )
    return Rec(int(event_id[1:]), b"u1", encode_command(cmd))


def test_a_new_user_with_51_attributes_is_a_dead_letter() -> None:
    out = apply_record(identify("e0", 0, 51), lambda _: None, RULES, "t", 0)
    assert isinstance(out, DeadLetter)
    assert out.reason == (
        "user.attributes: a user has at most 50 attributes; 0 stored and 51 given would make 51"
    )
    assert out.event_id == "e0"


def test_a_key_or_value_over_255_characters_is_a_dead_letter() -> None:
    cmd = UserIdentified(event_id="e0", time_ms=0, user=User(id="u1", attributes={"k": "v" * 256}))
    out = apply_record(Rec(0, b"u1", encode_command(cmd)), lambda _: None, RULES, "t", 0)
    assert isinstance(out, DeadLetter)
    assert out.reason == "user.attributes: 'k': a key and a value have at most 255 characters"


def test_the_merge_stops_at_50_and_the_user_goes_on() -> None:
    """Ten commands of 50 new long attributes each: the first applies, the nine others are
    dead letters answered with `EventRefused`; the user's later event is folded."""
    store = StateStore()
    records = [identify(f"e{n}", 50 * n, 50, LONG) for n in range(10)] + [event("e10")]
    effects = fold_batch(store, records, RULES, "t", 0)
    assert [d.offset for d in effects.dead] == list(range(1, 10))
    assert {d.reason.split(";")[0] for d in effects.dead} == {
        "user.attributes: a user has at most 50 attributes"
    }
    state = effects.states["u1"]
    assert len(state.attributes) == 50 and state.totals["words-written"] == Decimal(3)
    answers = [decode_record(v) for _, v in effects.derived[PROGRESS]]
    assert [type(a).__name__ for a in answers] == ["Progress"] + ["EventRefused"] * 9 + ["Progress"]
    assert [a.event_id for a in answers if isinstance(a, EventRefused)] == [
        f"e{n}" for n in range(1, 10)
    ]
    assert isinstance(answers[-1], Progress)
    assert len(encode_state(state)) < 200_000


def test_the_fullest_profile_leaves_the_state_well_under_the_record_limit() -> None:
    """Every profile string at its longest, each character escaped: with the most the rules
    may bound (`STATE_BUDGET_BYTES`) the state stays under the worker's record limit."""
    user = User(
        id=LONG + "\x00" + LONG,  # a tenant's user: tenant, U+0000, id
        email=LONG,
        name=LONG,
        tz=LONG,
        device_tokens=tuple(LONG for _ in range(100)),
        attributes={f"{i:03d}{LONG[:252]}": LONG for i in range(50)},
        sign_up_date="2025-01-01",
        notifications={"recap": ("email", "push")},
    )
    profile = len(encode_state(new_user(user.id, 0, RULES, user)))
    assert profile + STATE_BUDGET_BYTES < MAX_RECORD_BYTES - 25_000, profile
