"""The runner's batch step (`processors.runtime.batch.fold_batch`) over hand-made records, no
broker: bad records become dead letters with their reason and coordinates and never stop the
batch, each applied event yields one Progress keyed by its user, and each changed state is
stamped with the offset of the last event applied to it.

The input records are written out as wire JSON here (not through the codec under test), and
the expected totals are running sums computed in the test."""

from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
import pytest

from processors.runtime.batch import fold_batch
from processors.runtime.store import StateStore
from schemas.records import AchievementCompleted, EventRefused, Progress, decode_record
from schemas.rules import Rules
from schemas.topics import ACHIEVEMENTS, PROGRESS

TOPIC = "t.podium.events"
PARTITION = 3
T0 = 1_764_547_200_000  # 2025-12-01T00:00:00Z


@dataclass(frozen=True)
class Rec:
    """What the fold reads of a consumed record."""

    offset: int
    key: bytes | None
    value: bytes | None


def metric(event_id: str, user: str, value: str, at: int, name: str = "words-written") -> bytes:
    doc: dict[str, Any] = {
        "schema_version": 1,
        "type": "metric",
        "eventId": event_id,
        "time": at,
        "user": {"id": user},
        "metric": name,
        "value": value,
        "attributes": {},
    }
    return orjson.dumps(doc)


def award(event_id: str, user: str, achievement: str, at: int) -> bytes:
    doc = {
        "schema_version": 1,
        "type": "achievement",
        "eventId": event_id,
        "time": at,
        "user": {"id": user},
        "achievement": achievement,
    }
    return orjson.dumps(doc)


def records(values: list[tuple[bytes | None, bytes | None]], first: int = 100) -> list[Rec]:
    return [Rec(first + i, key, value) for i, (key, value) in enumerate(values)]


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


BAD: list[tuple[str, bytes | None, str]] = [
    ("no value", None, "no value"),
    ("not JSON", b"{nope", "not JSON"),
    ("not an object", b"[1]", "not a JSON object"),
    ("unsupported version", b'{"schema_version": 99}', "schema_version"),
    ("unknown metric", metric("e-x", "u1", "1", T0, name="pages-read"), "metric: unknown"),
    ("not an API achievement", award("e-y", "u1", "novella", T0), "achievement: unknown API"),
]


@pytest.mark.parametrize(("raw", "reason"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_a_bad_record_is_a_dead_letter_with_its_reason_and_coordinates(
    rules: Rules, raw: bytes | None, reason: str
) -> None:
    good_before = metric("e-1", "u1", "5", T0)
    good_after = metric("e-2", "u1", "7", T0 + 1000)
    batch = records([(b"u1", good_before), (b"u1", raw), (b"u1", good_after)], first=40)
    store = StateStore()
    out = fold_batch(store, batch, rules, TOPIC, PARTITION)

    assert len(out.dead) == 1
    dead = out.dead[0]
    assert reason in dead.reason, dead.reason
    assert (dead.id, dead.topic, dead.partition, dead.offset) == (
        f"{TOPIC}:{PARTITION}:41",
        TOPIC,
        PARTITION,
        41,
    )
    assert dead.original == b64(raw or b"") and dead.key == b64(b"u1")
    assert dead.original_bytes() == (raw or b"")
    # the batch went on: both good events applied, the state stamped with the last one
    assert out.events == 2 and out.next_offset == 43
    assert out.states["u1"].offset == 42
    assert out.states["u1"].totals["words-written"] == Decimal(5 + 7)


def test_a_batch_of_only_bad_records_changes_no_state(rules: Rules) -> None:
    batch = records([(None, None), (b"k", b"{nope")], first=7)
    store = StateStore()
    out = fold_batch(store, batch, rules, TOPIC, 0)
    assert [d.offset for d in out.dead] == [7, 8]
    assert out.dead[0].key is None and out.dead[1].key == b64(b"k")
    assert out.states == {} and out.derived.get(PROGRESS, []) == [] and store.get("u1") is None
    assert (out.events, out.next_offset) == (0, 9)


def test_one_progress_per_event_and_states_stamped_with_their_last_offset(rules: Rules) -> None:
    plan = [  # (user, words) in log order; offsets 100, 101, ...
        ("ann", "3"),
        ("bob", "10"),
        ("ann", "4.5"),
        ("cy", "1"),
        ("bob", "0.25"),
        ("ann", "2"),
    ]
    batch = records(
        [
            (user.encode(), metric(f"e-{i}", user, words, T0 + i * 1000))
            for i, (user, words) in enumerate(plan)
        ]
    )
    store = StateStore()
    out = fold_batch(store, batch, rules, TOPIC, PARTITION)

    running: dict[str, Decimal] = {}
    expected_totals: list[tuple[str, str, Decimal]] = []
    last_offset: dict[str, int] = {}
    for i, (user, words) in enumerate(plan):
        running[user] = running.get(user, Decimal(0)) + Decimal(words)
        expected_totals.append((user, f"e-{i}", running[user]))
        last_offset[user] = 100 + i

    assert out.dead == [] and out.events == len(plan) and out.next_offset == 100 + len(plan)
    progress = [(key, decode_record(value)) for key, value in out.derived.get(PROGRESS, [])]
    assert all(isinstance(p, Progress) for _, p in progress)
    got = [(k.decode(), p.event_id, p.total) for k, p in progress if isinstance(p, Progress)]
    assert got == expected_totals
    assert {uid: s.offset for uid, s in out.states.items()} == last_offset
    assert {uid: s.totals["words-written"] for uid, s in out.states.items()} == running
    for uid, state in out.states.items():  # the store holds the stamped states too
        assert store.get(uid) == state


def test_first_words_completes_once_per_user_on_their_first_event(rules: Rules) -> None:
    """`first-words` (words-written >= 1) completes on each user's first event only; its
    completion is keyed by the user and names the event that completed it."""
    batch = records(
        [
            (b"ann", metric("e-0", "ann", "2", T0)),
            (b"ann", metric("e-1", "ann", "2", T0 + 1)),
            (b"bob", metric("e-2", "bob", "0.5", T0 + 2)),  # below 1: not yet
            (b"bob", metric("e-3", "bob", "0.5", T0 + 3)),  # total 1.0: completes
        ]
    )
    out = fold_batch(StateStore(), batch, rules, TOPIC, PARTITION)
    done = [(k.decode(), decode_record(v)) for k, v in out.derived.get(ACHIEVEMENTS, [])]
    firsts = [
        (key, rec.event_id, rec.achieved_at_ms)
        for key, rec in done
        if isinstance(rec, AchievementCompleted) and rec.achievement == "first-words"
    ]
    assert firsts == [("ann", "e-0", T0), ("bob", "e-3", T0 + 3)]


def test_a_restored_state_is_continued_not_restarted(rules: Rules) -> None:
    """A second batch over the same store continues each user's total and offset."""
    store = StateStore()
    fold_batch(store, records([(b"ann", metric("e-0", "ann", "5", T0))], first=10), rules, TOPIC, 0)
    again = records([(b"ann", metric("e-1", "ann", "6", T0 + 1))], first=11)
    out = fold_batch(store, again, rules, TOPIC, 0)
    assert out.states["ann"].totals["words-written"] == Decimal(11)
    assert out.states["ann"].offset == 11


def test_score_changes_go_to_their_ranking_s_partition_keyed_by_the_ranking() -> None:
    from schemas.leaderboards import ScoreChanged, decode_leaderboard_record
    from tests.rules import leaderboard_rules

    users = [f"user-{i}" for i in range(12)]
    batch = records([(u.encode(), metric(f"e-{u}", u, "4", T0, "words")) for u in users])
    out = fold_batch(StateStore(), batch, leaderboard_rules(), TOPIC, PARTITION, score_partitions=7)

    # 2025-12-01 is a Monday: the Sunday weeks' run began 2025-11-30; 00:00 is night-owls time
    expected = {
        "all-time-words|all|",
        "weekly-words|2025-11-30|",
        "night-owls|2025-12-01|",
        "longest-streak|all|",
    }
    seen: dict[str, set[str]] = {}
    for partition, items in out.scores.items():
        for key, raw, headers in items:
            assert headers is None  # the batch's records name no gateway
            rec = decode_leaderboard_record(raw)
            assert isinstance(rec, ScoreChanged)
            assert key == rec.ranking.encode() == f"{rec.board}|{rec.run}|{rec.group}".encode()
            assert partition == zlib.crc32(key) % 7  # the documented rule, computed here
            seen.setdefault(key.decode(), set()).add(rec.user_id)
    assert seen == {ranking: set(users) for ranking in expected}
    assert len(out.derived.get(PROGRESS, [])) == len(users)


def with_attribute(event_id: str, user: str, name: str, text: str, at: int) -> bytes:
    doc = orjson.loads(metric(event_id, user, "1", at))
    # in attributes of 200 characters (a user's keys and values have at most 255)
    doc["user"]["attributes"] = {f"{name}{i}": text[i : i + 200] for i in range(0, len(text), 200)}
    return orjson.dumps(doc)


def test_a_user_whose_state_does_not_decode_stops_the_batch_and_keeps_its_bytes(
    rules: Rules,
) -> None:
    undecodable = b'{"userId": "u2", "version": 3}'  # a version no upcaster knows
    store = StateStore({"u2": undecodable})
    batch = records(
        [
            (b"u1", metric("e-1", "u1", "5", T0)),
            (b"u2", metric("e-2", "u2", "9", T0)),
            (b"u1", metric("e-3", "u1", "7", T0)),
        ],
        first=20,
    )
    out = fold_batch(store, batch, rules, TOPIC, PARTITION)
    assert out.blocked is not None
    assert (out.blocked.user_id, out.blocked.offset) == ("u2", 21)
    assert "version" in out.blocked.reason
    assert out.next_offset == 21  # e-2 and all after it are read again
    assert out.events == 1 and set(out.states) == {"u1"} and out.dead == []
    assert out.states["u1"].totals["words-written"] == Decimal(5)
    # The same again: still waiting, the bytes still there for a fix to decode.
    again = fold_batch(store, batch[1:], rules, TOPIC, PARTITION)
    assert again.blocked is not None and again.events == 0
    fixed = StateStore({"u2": b'{"userId": "u2", "version": 1, "events": 4}'})
    after = fold_batch(fixed, batch[1:], rules, TOPIC, PARTITION)
    assert after.blocked is None and after.states["u2"].events == 5


def test_an_event_that_would_grow_a_state_over_the_limit_is_parked(rules: Rules) -> None:
    limit = 2_400
    texts = ["a" * 600, "b" * 600, "c" * 600]  # two fit in 2,400 bytes of state, three do not
    batch = records(
        [
            (b"u1", with_attribute("e-1", "u1", "x", texts[0], T0)),
            (b"u2", metric("e-2", "u2", "3", T0)),
            (b"u1", with_attribute("e-3", "u1", "y", texts[1], T0)),
            (b"u1", with_attribute("e-4", "u1", "z", texts[2], T0)),
            (b"u1", metric("e-5", "u1", "7", T0)),
        ],
        first=10,
    )
    store = StateStore()
    out = fold_batch(store, batch, rules, TOPIC, PARTITION, max_bytes=limit)
    [dead] = out.dead
    assert dead.offset == 13 and dead.reason.startswith("state: the user's state would be")
    assert "".join(out.states["u1"].attributes.values()) == texts[0] + texts[1]
    assert out.states["u1"].totals["words-written"] == Decimal(1 + 1 + 7)  # e-1, e-3, e-5
    assert out.states["u2"].totals["words-written"] == Decimal(3)
    assert [len(v) <= limit for _, v in out.encoded_states] == [True, True]
    answers = [decode_record(v) for _, v in out.derived.get(PROGRESS, [])]
    # a Progress per applied event, an EventRefused (with the reason) for the parked one
    assert [(type(a).__name__, a.event_id) for a in answers] == [
        ("Progress", "e-1"),
        ("Progress", "e-2"),
        ("Progress", "e-3"),
        ("EventRefused", "e-4"),
        ("Progress", "e-5"),
    ]
    assert isinstance(answers[3], EventRefused) and answers[3].reason == dead.reason
    assert store.get("u1") == out.states["u1"]
