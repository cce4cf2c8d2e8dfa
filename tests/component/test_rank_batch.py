"""The ranking stage's batch step (`processors.runtime.rank_batch`) over hand-made
`podium.scores` records, no broker: ranks follow the documented order (value desc, then
who reached it first, then user id), a record that is not a score change of a ranking homed
on this partition becomes a dead letter with its reason, and restoring from the records
equals having ranked them."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from decimal import Decimal

import orjson

from processors.core.ranking import Rankings
from processors.runtime.rank_batch import keep_last, rank_batch, restore_rankings
from schemas.leaderboards import RankChanged, decode_leaderboard_record
from tests.rules import leaderboard_rules

RULES = leaderboard_rules()
RANKING = "all-time-words|all|"
PARTITIONS = 12
HOME = zlib.crc32(RANKING.encode()) % PARTITIONS  # the documented rule, computed here
TOPIC = "t.podium.scores"


@dataclass(frozen=True)
class Rec:
    offset: int
    key: bytes | None
    value: bytes | None


def score(user: str, value: str | None, at: int, previous: str | None = None) -> bytes:
    """A ScoreChanged in its wire form, written out by hand."""
    return orjson.dumps(
        {
            "schema_version": 1,
            "type": "score",
            "id": f"{user}:score:all-time-words:all::e{at}",
            "board": "all-time-words",
            "run": "all",
            "group": "",
            "userId": user,
            "eventId": f"e{at}",
            "timeMs": at,
            "previous": previous,
            "value": value,
        }
    )


def ranks(out: list[tuple[bytes, bytes]]) -> list[tuple[str, int | None, int | None]]:
    recs = [decode_leaderboard_record(v) for _, v in out]
    assert all(isinstance(r, RankChanged) for r in recs)
    return [(r.user_id, r.previous_rank, r.rank) for r in recs if isinstance(r, RankChanged)]


GOOD = [
    (b"all-time-words|all|", score("bo", "5", 10)),
    (b"all-time-words|all|", score("al", "5", 20)),  # the same value, reached later
    (b"all-time-words|all|", score("cy", "7", 30)),
    (b"all-time-words|all|", score("al", "8", 40, "5")),
]


def test_ranks_follow_value_then_who_reached_it_first() -> None:
    stage = Rankings(RULES.leaderboards)
    records = [Rec(i, k, v) for i, (k, v) in enumerate(GOOD)]
    out = rank_batch(stage, records, TOPIC, HOME, PARTITIONS)
    assert ranks(out.ranks) == [
        ("bo", None, 1),
        ("al", None, 2),  # 5 like bo, but bo had it first
        ("cy", None, 1),
        ("al", 3, 1),
    ]
    assert (out.changes, out.next_offset, out.dead) == (4, 4, [])
    assert all(key == RANKING.encode() for key, _ in out.ranks)
    order = [e.user_id for e in stage.get("all-time-words", RANKING).entries()]
    assert order == ["al", "cy", "bo"]


def test_bad_records_are_dead_letters_and_do_not_stop_the_batch() -> None:
    other = (HOME + 1) % PARTITIONS
    bad = [
        Rec(0, b"all-time-words|all|", None),
        Rec(1, b"x", score("bo", "5", 10)),
        Rec(2, b"all-time-words|all|", b"{nope"),
        Rec(3, b"all-time-words|all|", score("al", "3", 11)),
    ]
    out = rank_batch(Rankings(RULES.leaderboards), bad, TOPIC, HOME, PARTITIONS)
    reasons = [d.reason for d in out.dead]
    assert len(reasons) == 3
    assert reasons[0] == "no value"
    assert reasons[1].startswith("key: not the record's ranking")
    assert "not JSON" in reasons[2]
    assert [(d.topic, d.partition, d.offset) for d in out.dead] == [
        (TOPIC, HOME, 0),
        (TOPIC, HOME, 1),
        (TOPIC, HOME, 2),
    ]
    assert ranks(out.ranks) == [("al", None, 1)]
    misplaced = rank_batch(Rankings(RULES.leaderboards), bad[3:], TOPIC, other, PARTITIONS)
    assert misplaced.dead[0].reason == (
        f"partition: ranking 'all-time-words|all|' belongs on partition {HOME}"
    )


def test_restoring_from_the_records_equals_having_ranked_them() -> None:
    records = [Rec(i, k, v) for i, (k, v) in enumerate(GOOD)] + [Rec(9, b"x", b"{")]
    live = Rankings(RULES.leaderboards)
    rank_batch(live, records, TOPIC, HOME, PARTITIONS)
    last: dict = {}
    assert keep_last(records, HOME, PARTITIONS, last) == 1
    restored = Rankings.restore(RULES.leaderboards, last.values())
    nxt = [Rec(10, RANKING.encode(), score("bo", "9", 50, "5"))]
    assert (
        ranks(rank_batch(restored, nxt, TOPIC, HOME, PARTITIONS).ranks)
        == ranks(rank_batch(live, nxt, TOPIC, HOME, PARTITIONS).ranks)
        == [("bo", 3, 1)]
    )
    assert Decimal(9) == restored.get("all-time-words", RANKING).value("bo")


def test_the_changelog_entries_restore_the_rankings_of_the_batches() -> None:
    live, changelog = Rankings(RULES.leaderboards), {}
    for i, (k, v) in enumerate(GOOD):  # one batch per record: the latest entry per key wins
        changelog.update(rank_batch(live, [Rec(i, k, v)], TOPIC, HOME, PARTITIONS).entries)
    assert sorted(changelog) == [
        b"all-time-words|all||al",
        b"all-time-words|all||bo",
        b"all-time-words|all||cy",
    ]
    restored = restore_rankings(RULES.leaderboards, changelog.values())
    assert [e.user_id for e in restored.get("all-time-words", RANKING).entries()] == [
        "al",
        "cy",
        "bo",
    ]
    assert restored.get("all-time-words", RANKING).value("al") == Decimal(8)


@dataclass(frozen=True)
class HeadedRec:
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] | None


def test_the_mover_of_a_change_that_names_its_gateway_is_answered_with_its_rank_record() -> None:
    """Each score change whose record names its gateway (`podium-answer`) lists the mover's
    RankChanged (id: the change's id + ":rank") with that address, the very bytes written to
    `podium.leaderboards`; a change without the header lists nothing."""
    gateway = [("podium-answer", b"gw-a:7001")]
    headers = [gateway, None, gateway, gateway]
    pairs = list(zip(GOOD, headers, strict=True))
    records = [HeadedRec(i, k, v, h) for i, ((k, v), h) in enumerate(pairs)]
    out = rank_batch(Rankings(RULES.leaderboards), records, TOPIC, HOME, PARTITIONS)

    written = {decode_leaderboard_record(raw).id: raw for _, raw in out.ranks}
    wanted = [f"{orjson.loads(v)['id']}:rank" for (_, v), h in pairs if h]
    assert wanted == [
        "bo:score:all-time-words:all::e10:rank",
        "cy:score:all-time-words:all::e30:rank",
        "al:score:all-time-words:all::e40:rank",
    ]
    assert out.answers == [("gw-a:7001", written[i]) for i in wanted]
