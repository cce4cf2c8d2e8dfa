"""Leaderboard records and the per-user score state.

- `ScoreChanged` on `podium.scores`: the per-user fold's word that a user's score on one
  board, run and breakdown group changed (key = `ranking_key`, partition =
  `ranking_partition`: every change of one ranking lands on one partition, each user's in
  the order the fold emitted them).
- `RankChanged` on `podium.leaderboards`: what the ranking stage made of it. Only the mover
  gets a record (not everyone it shifted by one), plus, on a capped board, the one participant
  who crossed the cap the other way (pushed off, or pulled on).
- `BoardScore`: the user's current score per board, kept in the user's state so the next
  event of the same run adds to it.

Every record has a deterministic `id` (a consumer deduplicates by it) and a `backfilled`
flag. Wire format: a JSON object with "schema_version", "type" ("score", "rank") and
camelCase fields; decimals are strings, times integer epoch milliseconds UTC, runs the ISO
date of the run's first day ("all" for a perpetual board).
"""

from __future__ import annotations

import zlib
from decimal import Decimal
from typing import Final, Literal

import msgspec

from schemas.records import string_field_bytes, wire_name
from schemas.wire import TaggedCodec, Upcasters

SCHEMA_VERSION: Final = 1
PERPETUAL_RUN: Final = "all"


def ranking_key(board: str, run: str, group: str) -> str:
    """The identity of one ranking (and the Kafka key of its score changes)."""
    return f"{board}|{run}|{group}"


def mover_rank_id(score_id: str) -> str:
    """The id of the `RankChanged` the ranking stage writes for the mover of a `ScoreChanged`
    (a participant it pushed across a capped board's edge gets this + ":" + user id)."""
    return f"{score_id}:rank"


def ranking_partition(ranking: str, partitions: int) -> int:
    """The `podium.scores` partition of a ranking: every worker sends a ranking's changes to
    this one partition (the runtime's "same partition as the input" rule does not apply), so
    one stage instance holds the whole ranking. CRC-32 of the key: stable across processes
    and languages, unlike Python's salted `hash`."""
    return zlib.crc32(ranking.encode()) % partitions


class _Record(msgspec.Struct, frozen=True, kw_only=True, rename=wire_name, tag_field="type"):
    """The envelope's settings, as in `schemas.records` (`schema_version` declared first)."""


class ScoreChanged(_Record, frozen=True, kw_only=True, tag="score"):
    """A user's score on one ranking changed.

    id = f"{user_id}:score:{board}:{run}:{group}:{event_id}". `value` None: the user left
    this ranking (its breakdown group changed); `previous` None: the user joined it. `time_ms`
    is when the user reached `value` (the event's time; for a move between groups, the time
    the value was first reached): the tie rule orders by it.
    """

    schema_version: Literal[1] = SCHEMA_VERSION
    id: str
    board: str
    run: str
    group: str
    user_id: str
    event_id: str
    time_ms: int
    previous: Decimal | None
    value: Decimal | None
    backfilled: bool = False

    @property
    def ranking(self) -> str:
        return ranking_key(self.board, self.run, self.group)


class RankChanged(_Record, frozen=True, kw_only=True, tag="rank"):
    """A participant's place on one ranking changed (1 = first).

    id = f"{cause}:rank" for the mover, f"{cause}:rank:{user_id}" for a participant who
    crossed the cap; `cause` is the id of the `ScoreChanged` that caused it and `time_ms` its
    time (the mover's `reached_ms`; a cap crosser keeps its own). A rank None is "not on the
    board": never joined, left, or beyond `max_participants`. `threshold` is the value a
    newcomer must exceed to get on a full capped board (None: not capped or not full).
    """

    schema_version: Literal[1] = SCHEMA_VERSION
    id: str
    cause: str
    board: str
    run: str
    group: str
    user_id: str
    time_ms: int
    previous_rank: int | None
    rank: int | None
    previous_value: Decimal | None
    value: Decimal | None
    reached_ms: int | None  # when this participant reached `value`; None: not a participant
    participants: int
    threshold: Decimal | None = None
    backfilled: bool = False


class BoardScore(msgspec.Struct, frozen=True, rename="camel", omit_defaults=True):
    """A user's score on one board: the run and group it belongs to, and when it was reached.
    The user's state holds one per board (`Mapping[str, BoardScore]`, board key -> score):
    the newest run the user scored in, and in `earlier` the run before it the user scored in
    (so a late event can still count into it; `earlier.earlier` is always None)."""

    run: str
    group: str | None  # None: a breakdown attribute is missing, the user is in no ranking
    value: Decimal
    reached_ms: int
    earlier: BoardScore | None = None  # absent from the bytes when None


LeaderboardRecord = ScoreChanged | RankChanged
_BY_TAG: dict[object, str] = {"score": "ScoreChanged", "rank": "RankChanged"}
UPCASTERS = Upcasters(current=SCHEMA_VERSION, field="schema_version", steps={})
_CODEC: TaggedCodec[LeaderboardRecord] = TaggedCodec(LeaderboardRecord, _BY_TAG, UPCASTERS)


def encode_leaderboard_record(rec: LeaderboardRecord) -> bytes:
    return _CODEC.encode(rec)


def decode_leaderboard_record(raw: bytes) -> LeaderboardRecord:
    """Decode a score or rank record; raises `InvalidRecord` with the reason."""
    return _CODEC.decode(raw)


def rank_cause(raw: bytes) -> str | None:
    """The `cause` of an encoded `RankChanged`, found without decoding (the gateway skips the
    ranks nobody waits for); None when it cannot be read so (absent, or escaped: decode the
    record to know)."""
    text = string_field_bytes(raw, b"cause")
    if text is None or b"\\" in text:
        return None
    return text.decode("utf-8", "replace")
