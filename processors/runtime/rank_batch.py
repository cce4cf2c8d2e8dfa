"""Rank a batch of raw `podium.scores` records: the CPU part of the ranking stage, no I/O.

Each `ScoreChanged` is folded into its ranking (`processors.core.ranking.Rankings.apply`) and its
`RankChanged` records are encoded once, keyed by the ranking. A record that is not a score
change, or that sits on another partition than its ranking's (`ranking_partition`), becomes a
`DeadLetter` with its coordinates: folding it here would rank part of a ranking on the wrong
stage instance. It never stops the batch.

A score change whose record names the gateway waiting for its event
(`schemas.answers.ANSWER_HEADER`, copied by the worker from the event) has its mover's
`RankChanged` listed in `RankEffects.answers` with that address, for the ranking stage to push
at once, before its commit, as the worker pushes the progress.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from processors.core.ranking import Rankings
from processors.runtime.step import RawRecord
from schemas.answers import answer_address
from schemas.leaderboards import (
    ScoreChanged,
    decode_leaderboard_record,
    encode_leaderboard_record,
    mover_rank_id,
    ranking_partition,
)
from schemas.records import DeadLetter
from schemas.rules import Leaderboard
from schemas.wire import InvalidRecord

KeyValue = tuple[bytes, bytes]


@dataclass
class RankEffects:
    """What one batch of score changes gave: the rank changes to publish on this partition."""

    ranks: list[KeyValue] = field(default_factory=list)
    entries: dict[bytes, bytes] = field(default_factory=dict)  # changelog: key -> last change
    # changelog: a leave per participant of a dropped run, each followed by its key's tombstone
    leaves: list[KeyValue] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    # (gateway address, encoded RankChanged) of each mover whose score change named its gateway
    answers: list[tuple[str, bytes]] = field(default_factory=list)
    changes: int = 0
    next_offset: int = -1  # the input offset to commit (last + 1)


def score_change_of(rec: RawRecord, partition: int, partitions: int) -> ScoreChanged:
    """The score change in a `podium.scores` record; raises `InvalidRecord` with the reason."""
    if rec.value is None:
        raise InvalidRecord("no value")
    change = decode_leaderboard_record(rec.value)
    if not isinstance(change, ScoreChanged):
        raise InvalidRecord(f"type: expected a ScoreChanged record, got {type(change).__name__}")
    ranking = change.ranking
    if rec.key != ranking.encode():
        raise InvalidRecord(f"key: not the record's ranking {ranking[:128]!r}")
    home = ranking_partition(ranking, partitions)
    if home != partition:
        raise InvalidRecord(f"partition: ranking {ranking[:128]!r} belongs on partition {home}")
    return change


def entry_key(change: ScoreChanged) -> bytes:
    """The changelog key of a participant of a ranking: "board|run|group|user"."""
    return f"{change.ranking}|{change.user_id}".encode()


def rank_batch(
    rankings: Rankings,
    records: Iterable[RawRecord],
    topic: str,
    partition: int,
    partitions: int,
) -> RankEffects:
    """Apply the records in order to `rankings` (mutating it) and collect the rank changes."""
    out = RankEffects()
    for rec in records:
        out.next_offset = rec.offset + 1
        try:
            change = score_change_of(rec, partition, partitions)
        except InvalidRecord as err:
            out.dead.append(
                DeadLetter.of(err.reason, rec.value, topic, partition, rec.offset, rec.key)
            )
            continue
        out.changes += 1
        if not rankings.admit(change):  # its run was dropped (processors.core.retention)
            continue
        key = change.ranking.encode()
        out.entries[entry_key(change)] = encode_leaderboard_record(change)
        to = answer_address(getattr(rec, "headers", None))
        mover = mover_rank_id(change.id)
        for rank in rankings.apply(change):
            raw = encode_leaderboard_record(rank)
            out.ranks.append((key, raw))
            if to is not None and rank.id == mover:
                out.answers.append((to, raw))
    for gone in rankings.drop_expired():
        out.leaves.append((entry_key(gone), encode_leaderboard_record(gone)))
    return out


def keep_last(
    records: Iterable[RawRecord],
    partition: int,
    partitions: int,
    last: dict[tuple[str, str], ScoreChanged],
) -> int:
    """A rebuild from `podium.scores` itself: remember each (ranking, user)'s last valid
    change in `last` (what the changelog holds); the records `rank_batch` would dead-letter
    are skipped the same way. Returns how many."""
    skipped = 0
    for rec in records:
        try:
            change = score_change_of(rec, partition, partitions)
        except InvalidRecord:
            skipped += 1
            continue
        last[(change.ranking, change.user_id)] = change
    return skipped


def restore_rankings(boards: Mapping[str, Leaderboard], entries: Iterable[bytes]) -> Rankings:
    """The rankings of one partition from its changelog entries (each participant's last
    applied `ScoreChanged`, validated when it was applied): one sort per ranking."""
    return Rankings.restore(boards, map(score_entry, entries))


def score_entry(raw: bytes) -> ScoreChanged:
    """A changelog entry, decoded one at a time as the restore reads it."""
    change = decode_leaderboard_record(raw)
    if not isinstance(change, ScoreChanged):
        raise InvalidRecord(f"type: expected a ScoreChanged entry, got {type(change).__name__}")
    return change
