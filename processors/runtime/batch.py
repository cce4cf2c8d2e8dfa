"""Fold a batch of raw `podium.events` records into a partition's state: the CPU part of the
worker, with no I/O. Each record goes through the one per-record step (`step.apply_record`);
a record it does not apply becomes a `DeadLetter` (it never stops the batch), answered on
`podium.progress` by an `EventRefused` where its `Progress` would be (so the request waiting
for it answers with the reason, not 201 `pending`). Each derived
record and each changed state is encoded once, keyed by its user id; a `ScoreChanged` is keyed
by its ranking and routed to the ranking's `podium.scores` partition (`ranking_partition`),
not the user's.

Nothing the worker cannot write leaves here. A record over `MAX_RECORD_BYTES` (the broker's
message limit, less room for the batch header) would fail the partition's transaction on
every retry, so instead:
- an event whose derived records would not fit is a dead letter (`record: ...`);
- an event after which its user's state would not fit is a dead letter (`state: ...`) and
  the state stays as it was. States are measured once per batch, as written; when one is too
  large, the batch is folded again with that user's state measured after each event.

An event whose record names the gateway waiting for it (`schemas.answers.ANSWER_HEADER`) has
its answer, the encoded record it writes to `podium.progress` (its `Progress`, or the
`EventRefused` of a dead letter), listed in `Effects.answers` with that gateway's address,
for the worker to push before the commit. When the gateway waits for ranks too
(`schemas.answers.RANKS_HEADER`), the event's score changes carry the answer header to
`podium.scores`, so the ranking stage pushes their ranks to that gateway in turn.

A user whose restored state does not decode (`store.StateUndecodable`) stops the batch at
that user's first event: everything before it is committed, `Effects.blocked` says why, and
the partition waits there (see docs/runtime.md, "A state that does not decode").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from processors.core.fold import FoldRecord
from processors.runtime.step import (
    Applied,
    RawRecord,
    apply_record,
    encode_out_record,
    encode_out_state,
)
from processors.runtime.store import StateStore, StateUndecodable
from schemas.answers import RANKS_HEADER, answer_address, answer_header
from schemas.leaderboards import ScoreChanged, ranking_partition
from schemas.records import DeadLetter, refusal_of
from schemas.rules import Rules
from schemas.state import UserState
from schemas.topics import PROGRESS, SCORES, Topic, output_topic

KeyValue = tuple[bytes, bytes]
# a score change: key, value, and the header naming the gateway waiting for its rank (or None)
Scored = tuple[bytes, bytes, list[tuple[str, bytes]] | None]
MAX_RECORD_BYTES = 1_000_000  # broker default message.max.bytes is 1,048,588 per batch


@dataclass(frozen=True, slots=True)
class Blocked:
    """A user whose state does not decode, and the offset of their first waiting event."""

    user_id: str
    offset: int
    reason: str


@dataclass
class Effects:
    """What one batch changed: the states to write and the records to publish."""

    states: dict[str, UserState] = field(default_factory=dict)
    encoded_states: list[KeyValue] = field(default_factory=list)
    # the user-keyed derived records by their topic (`schemas.topics.output_topic`)
    derived: dict[Topic, list[KeyValue]] = field(default_factory=dict)
    scores: dict[int, list[Scored]] = field(default_factory=dict)  # by podium.scores partition
    dead: list[DeadLetter] = field(default_factory=list)
    # (gateway address, encoded podium.progress record) of each event that named its gateway
    answers: list[tuple[str, bytes]] = field(default_factory=list)
    events: int = 0
    next_offset: int = -1  # the input offset to commit (last applied or parked + 1)
    blocked: Blocked | None = None  # set: the batch stopped before this user's event


def fold_batch(
    store: StateStore,
    records: Iterable[RawRecord],
    rules: Rules,
    topic: str,
    partition: int,
    max_bytes: int = MAX_RECORD_BYTES,
    score_partitions: int = SCORES.partitions,
) -> Effects:
    """Apply the records in order to `store` (mutating it) and collect their effects.

    Each changed user's state is stamped with the offset of the last event applied to it and
    written once per batch (the changelog is compacted: only the latest value matters).
    """
    batch = list(records)
    before: dict[str, UserState | None] = {}
    out = _fold(
        store, batch, rules, topic, partition, max_bytes, frozenset(), before, score_partitions
    )
    too_large = frozenset(
        key.decode() for key, value in out.encoded_states if len(value) > max_bytes
    )
    if not too_large:
        return out
    for uid, state in before.items():
        store.restore(uid, state)
    return _fold(store, batch, rules, topic, partition, max_bytes, too_large, {}, score_partitions)


def _fold(
    store: StateStore,
    records: Sequence[RawRecord],
    rules: Rules,
    topic: str,
    partition: int,
    max_bytes: int,
    measured: frozenset[str],
    before: dict[str, UserState | None],
    score_partitions: int,
) -> Effects:
    out = Effects()
    touched: dict[str, int] = {}
    for rec in records:
        try:
            outcome = apply_record(rec, store.get, rules, topic, partition)
        except StateUndecodable as err:
            out.blocked = Blocked(err.user_id, rec.offset, err.reason)
            out.next_offset = rec.offset  # commit up to it: it is read again
            break
        out.next_offset = rec.offset + 1
        fitted = _fits(outcome, rec, measured, max_bytes, topic, partition)
        if isinstance(fitted, DeadLetter):
            out.dead.append(fitted)
            _answer(out, fitted, rec)
            continue
        applied, derived = fitted
        uid = applied.user_id
        if uid not in before:
            before[uid] = store.get(uid)
        store.put(uid, applied.state)
        touched[uid] = rec.offset
        out.events += 1
        _route(out, derived, uid, rec, score_partitions)
    for uid, offset in touched.items():
        state = store.get_live(uid).with_offset(offset)
        store.put(uid, state)
        out.states[uid] = state
        out.encoded_states.append((uid.encode(), encode_out_state(state)))
    return out


def _route(
    out: Effects,
    derived: list[tuple[FoldRecord, bytes]],
    uid: str,
    rec: RawRecord,
    score_partitions: int,
) -> None:
    """An applied event's encoded records to their topics; its progress is its answer when
    the record names its gateway, and its score changes name the gateway that waits for its
    ranks (for the ranking stage's push)."""
    to = headers = None
    if named := getattr(rec, "headers", None):  # most records name nobody: no lookups
        to = answer_address(named)
        ranks_to = answer_address(named, RANKS_HEADER)
        headers = None if ranks_to is None else [answer_header(ranks_to)]
    key = uid.encode()
    for item, raw in derived:
        if isinstance(item, ScoreChanged):
            partition_of = ranking_partition(item.ranking, score_partitions)
            out.scores.setdefault(partition_of, []).append((item.ranking.encode(), raw, headers))
        else:
            topic_of = output_topic(type(item))
            out.derived.setdefault(topic_of, []).append((key, raw))
            if topic_of is PROGRESS and to is not None:
                out.answers.append((to, raw))


def _answer(out: Effects, dead: DeadLetter, rec: RawRecord) -> None:
    """Answer the request that may wait for the dead-lettered command on `podium.progress`
    (`EventRefused`, where its `Progress` would be), when its event id is known; pushed too
    when the record names its gateway."""
    key = rec.key
    user_id = (key or b"").decode("utf-8", "replace")
    refused = refusal_of(dead, user_id)
    if refused is not None:
        raw = encode_out_record(refused)
        out.derived.setdefault(PROGRESS, []).append((key or b"", raw))
        if (to := _answer_to(rec)) is not None:
            out.answers.append((to, raw))


def _answer_to(rec: RawRecord) -> str | None:
    """The gateway address the record names for its answer (the adapter's `kafka.Record` has
    `headers`; a record from elsewhere, such as a test's or replay's, may have none)."""
    return answer_address(getattr(rec, "headers", None))


def _fits(
    applied: Applied | DeadLetter,
    rec: RawRecord,
    measured: frozenset[str],
    max_bytes: int,
    topic: str,
    partition: int,
) -> tuple[Applied, list[tuple[FoldRecord, bytes]]] | DeadLetter:
    """The applied record with its derived records encoded, or a dead letter when something
    it would write is over `max_bytes` (its state, for the users in `measured`)."""
    if isinstance(applied, DeadLetter):
        return applied
    derived = [(item, encode_out_record(item)) for item in applied.derived]
    largest = max((len(raw) for _, raw in derived), default=0)
    eid = applied.event_id
    if largest > max_bytes:
        reason = f"record: a derived record would be {largest} bytes, over {max_bytes}"
        return DeadLetter.of(reason, rec.value, topic, partition, rec.offset, rec.key, eid)
    if applied.user_id in measured:
        size = len(encode_out_state(applied.state.with_offset(rec.offset)))
        if size > max_bytes:
            reason = f"state: the user's state would be {size} bytes, over {max_bytes}"
            return DeadLetter.of(reason, rec.value, topic, partition, rec.offset, rec.key, eid)
    return applied, derived
