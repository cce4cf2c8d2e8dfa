"""The one per-record step (processors.runtime.step) and its two callers without I/O: the
worker's `fold_batch` and the replay's `Rebuild.fold`. A record is applied only when it
decodes, fits the rules and is keyed by its user id; anything else comes back as a dead
letter with the reason, its bytes and its coordinates — never a second copy of a user."""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from decimal import Decimal

import pytest

from processors.replay import Rebuild
from processors.runtime.batch import fold_batch
from processors.runtime.step import Applied, apply_record
from processors.runtime.store import StateStore
from schemas.commands import MetricTracked, User, encode_command
from schemas.records import DeadLetter, EventRefused, Progress, decode_record
from schemas.state import UserState, decode_state
from schemas.topics import PROGRESS
from tests.rules import writing_rules

RULES = writing_rules()  # "words-written" is a metric, "lines-deleted" is not
TOPIC = "t.podium.events"
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


@dataclass(frozen=True)
class Rec:
    offset: int
    key: bytes | None
    value: bytes | None


def metric(event_id: str, user: str, value: int, name: str = "words-written") -> bytes:
    return encode_command(
        MetricTracked(
            event_id=event_id, time_ms=T0, user=User(id=user), metric=name, value=Decimal(value)
        )
    )


def none(_uid: str) -> UserState | None:
    return None


def test_a_command_keyed_by_its_user_id_is_applied() -> None:
    out = apply_record(Rec(4, b"u1", metric("e1", "u1", 750)), none, RULES, TOPIC, 3)
    assert isinstance(out, Applied)
    assert out.user_id == "u1"
    assert out.state.totals["words-written"] == Decimal(750)
    assert isinstance(out.derived[0], Progress)


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        (None, "key: missing; a command's key must be its user id 'u1'"),
        (b"u2", "key: 'u2' is not the command's user id 'u1'"),
        (b"", "key: '' is not the command's user id 'u1'"),
    ],
)
def test_a_command_keyed_otherwise_is_a_dead_letter(key: bytes | None, reason: str) -> None:
    value = metric("e1", "u1", 5)
    out = apply_record(Rec(9, key, value), none, RULES, TOPIC, 2)
    assert isinstance(out, DeadLetter)
    assert out.reason == reason
    assert (out.id, out.topic, out.partition, out.offset) == (f"{TOPIC}:2:9", TOPIC, 2, 9)
    assert out.original_bytes() == value
    assert out.key == (None if key is None else base64.b64encode(key).decode())


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "no value"),
        (b"{not json", "not JSON"),
        (metric("e1", "u1", 5, name="lines-deleted"), "metric: unknown 'lines-deleted'"),
    ],
)
def test_what_does_not_decode_or_fit_the_rules_is_a_dead_letter(
    value: bytes | None, reason: str
) -> None:
    out = apply_record(Rec(0, b"u1", value), none, RULES, TOPIC, 0)
    assert isinstance(out, DeadLetter)
    assert out.reason.startswith(reason), out.reason


def test_a_fold_that_raises_parks_the_record() -> None:
    broken = UserState(user_id="u1", totals={"words-written": "not a decimal"})  # type: ignore[dict-item]
    out = apply_record(Rec(1, b"u1", metric("e1", "u1", 5)), lambda _: broken, RULES, TOPIC, 0)
    assert isinstance(out, DeadLetter)
    assert out.reason.startswith("fold: TypeError"), out.reason


def test_a_batch_with_misrouted_commands_keeps_one_state_per_user() -> None:
    records = [
        Rec(0, b"u1", metric("e0", "u1", 100)),
        Rec(1, b"u2", metric("e1", "u1", 7)),  # u1's command under u2's key
        Rec(2, None, metric("e2", "u1", 9)),  # no key at all
        Rec(3, b"u1", metric("e3", "u1", 20)),
    ]
    store = StateStore()
    effects = fold_batch(store, records, RULES, TOPIC, 5)
    assert set(effects.states) == {"u1"}
    assert effects.states["u1"].totals["words-written"] == Decimal(120)
    assert effects.states["u1"].offset == 3
    assert effects.events == 2
    assert effects.next_offset == 4
    assert [d.offset for d in effects.dead] == [1, 2]
    assert [d.reason.split(":")[0] for d in effects.dead] == ["key", "key"]
    answers = [(k, decode_record(v)) for k, v in effects.derived.get(PROGRESS, [])]
    # each command is answered: a Progress for those folded, an EventRefused (under the
    # record's own key) for those parked, with the dead letter's reason
    assert [(k, type(a).__name__, a.event_id) for k, a in answers] == [
        (b"u1", "Progress", "e0"),
        (b"u2", "EventRefused", "e1"),
        (b"", "EventRefused", "e2"),
        (b"u1", "Progress", "e3"),
    ]
    refused = [a for _, a in answers if isinstance(a, EventRefused)]
    assert [r.reason for r in refused] == [d.reason for d in effects.dead]
    assert [r.dead_letter for r in refused] == [f"{TOPIC}:5:1", f"{TOPIC}:5:2"]


def test_replay_counts_and_logs_every_record_it_skips(caplog: pytest.LogCaptureFixture) -> None:
    records = [
        Rec(0, b"u1", metric("e0", "u1", 100)),
        Rec(1, b"u9", metric("e1", "u1", 7)),
        Rec(2, b"u1", b"{not json"),
        Rec(3, b"u1", metric("e3", "u1", 1, name="lines-deleted")),
        Rec(4, None, metric("e4", "u3", 2)),
        Rec(5, b"u1", metric("e5", "u1", 20)),
    ]
    rebuild = Rebuild(7)
    with caplog.at_level(logging.WARNING, logger="podium.replay"):
        rebuild.fold(records, RULES, TOPIC)
    assert dict(rebuild.skipped) == {"key": 2, "json": 1, "rules": 1}  # reason classes
    assert rebuild.events == 2
    assert rebuild.position == 6
    skipped_ids = sorted(r.getMessage().split(":")[0] for r in caplog.records)
    assert skipped_ids == [f"skipped {TOPIC}"] * 4
    assert sorted(int(r.getMessage().split(":")[2]) for r in caplog.records) == [1, 2, 3, 4]
    states = rebuild.states()
    assert set(states) == {"u1"}
    state = decode_state(states["u1"])
    assert (state.totals["words-written"], state.offset) == (Decimal(120), 5)
