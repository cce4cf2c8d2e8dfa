"""`podium replay`: rebuild every user's state from `podium.events` with the current rules,
write what differs to `podium.state`, and publish only the facts never emitted before
(`podium.achievements`, `podium.streaks`, `podium.points`), flagged `backfilled`, once, and
the score changes that make the ranking stage hold the rebuilt leaderboard entries. Then
hand over. A points fact is new when it holds an award never emitted (award ids are
deterministic); it is published with only those awards, so a consumer summing `added` over
distinct fact ids counts each award once.

The worker group must be empty (the workers stopped) from the start to the end: the replay
refuses otherwise (`processors.runtime.handover.WorkersRunning`, nothing written), and checks
again before each partition's commit. Events may keep arriving; the workers, started after
the replay, restore the rebuilt states and go on from the committed offsets.

1. Read the ids already on the fact topics (every fact has a deterministic id) and the
   worker group's committed offsets. Fold every partition from the beginning up to those
   offsets into fresh states (the long part).
2. Per partition, hand over: read the committed offset again and fold the events applied
   meanwhile (none while the group stays empty), read the facts emitted meanwhile and the
   current states; then commit with the replay's transactional producer, in transactions
   that also carry the (unchanged) input offset, the states that differ and the facts whose
   ids are new. A replay interrupted half-way may be run again: what it committed is then
   "emitted before".
3. Leaderboards: `podium.scores` is read like the fact topics, keeping each participant's
   last change per ranking (what the ranking stage holds, or will once it catches up). Each
   user of the partition whose rebuilt entry differs gets one `ScoreChanged` stating the
   rebuilt final value (`processors.core.leaderboards.backfill_changes`), in the hand-over
   transaction: it lands on `podium.scores` after every change of that user the workers made
   before they stopped and before every one after they start again, so no older value comes
   back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeAlias

import orjson
from confluent_kafka import KafkaException

from processors.core.leaderboards import backfill_changes
from processors.runtime import kafka, kafka_async
from processors.runtime.handover import HandOver, Outgoing, outgoing, require_idle
from processors.runtime.kafka import Record
from processors.runtime.producing import CommitFailed
from processors.runtime.rank_batch import score_change_of
from processors.runtime.step import (
    Applied,
    RawRecord,
    apply_record,
    encode_out_state,
)
from processors.runtime.store import StateStore
from processors.runtime.telemetry import reason_label
from schemas.leaderboards import ScoreChanged, encode_leaderboard_record, ranking_partition
from schemas.records import AchievementCompleted, PointsChanged, StreakChanged
from schemas.rules import Rules
from schemas.topics import FACTS, Names
from schemas.values import replace
from schemas.wire import InvalidRecord

log = logging.getLogger("podium.replay")
Fact = AchievementCompleted | StreakChanged | PointsChanged
CHUNK = 20_000  # records per hand-over transaction
Scores: TypeAlias = dict[str, dict[str, ScoreChanged]]  # user -> ranking -> last change
Since: TypeAlias = dict[str, dict[int, int]]  # topic -> partition -> offset read up to


class ProgressBar(Protocol):
    def begin(self, total: int) -> None: ...
    def advance(self, count: int) -> None: ...


@dataclass
class Rebuild:
    """One partition being rebuilt: fresh states, new facts, how far the log was folded."""

    partition: int
    store: StateStore = field(default_factory=StateStore)
    last: dict[str, int] = field(default_factory=dict)  # user -> offset of last event
    emitted: set[str] = field(default_factory=set)  # fact ids already on the fact topics
    current: dict[str, bytes] = field(default_factory=dict)  # states on podium.state now
    new: dict[str, Fact] = field(default_factory=dict)
    scores: Scores = field(default_factory=dict)  # the rebuilt last change per ranking
    position: int = 0
    events: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # reason label -> records

    def fold(self, records: Sequence[RawRecord], rules: Rules, topic: str) -> None:
        """Fold records through the worker's per-record step; count and log each skipped one
        (the worker parked it on the dead-letter topic, with the same reason)."""
        store, last, emitted, new = self.store, self.last, self.emitted, self.new
        for rec in records:
            self.position = rec.offset + 1
            outcome = apply_record(rec, store.get, rules, topic, self.partition)
            if not isinstance(outcome, Applied):
                self.skipped[reason_label(outcome.reason)] += 1
                log.warning(
                    "skipped %s: %s",
                    outcome.id,
                    outcome.reason,
                    extra={
                        "partition": self.partition,
                        "offset": rec.offset,
                        "event_id": outcome.event_id,
                    },
                )
                continue
            uid = outcome.user_id
            store.put(uid, outcome.state)
            last[uid] = rec.offset
            self.events += 1
            for item in outcome.derived[1:]:  # derived[0] is the Progress: never re-emitted
                if isinstance(item, ScoreChanged):
                    self.scores.setdefault(uid, {})[item.ranking] = item
                    continue
                if isinstance(item, PointsChanged):
                    item = unemitted_awards(item, emitted)  # type: ignore[assignment]
                    if item is None:
                        continue
                if item.id not in emitted and item.id not in new:
                    new[item.id] = item  # type: ignore[assignment]

    def forget_emitted(self, ids: set[str]) -> None:
        """Drop the new facts emitted meanwhile; a points fact loses only its emitted awards
        (its id, that of its first award, may be emitted while later awards are not)."""
        self.emitted |= ids
        for fact_id, fact in list(self.new.items()):
            if isinstance(fact, PointsChanged):
                rest = unemitted_awards(fact, self.emitted)
                if rest is not fact:
                    del self.new[fact_id]
                    if rest is not None:
                        self.new[rest.id] = rest
            elif fact_id in ids:
                del self.new[fact_id]

    def states(self) -> dict[str, bytes]:
        out = {}
        for uid, offset in self.last.items():
            state = self.store.get(uid)
            assert state is not None
            out[uid] = encode_out_state(state.with_offset(offset))
        return out


def unemitted_awards(fact: PointsChanged, emitted: set[str]) -> PointsChanged | None:
    """The fact with only its awards never emitted (itself when all are new, None when none
    is); its id is that of its first remaining award."""
    awards = tuple(a for a in fact.awards if a.id not in emitted)
    if len(awards) == len(fact.awards):
        return fact
    if not awards:
        return None
    return replace(fact, id=awards[0].id, awards=awards, added=sum(a.points for a in awards))


def emitted_ids(raw: bytes) -> set[str]:
    """The ids a fact record stands for: its own and, for a points fact, its awards'."""
    obj = orjson.loads(raw)
    return {obj["id"], *(a["id"] for a in obj.get("awards") or ())}


@dataclass
class Published:
    """What the ranking stage holds, or will once it catches up, as `podium.scores` says:
    each user's last change per ranking. A record the stage dead-letters is skipped."""

    parts: range  # podium.scores' partitions (empty: the rules have no leaderboards)
    scores: Scores = field(default_factory=dict)
    since: dict[int, int] = field(default_factory=dict)

    async def read(self, bootstrap: str, topic: str) -> None:
        """Read `podium.scores` from where the last read stopped to its end."""
        if not self.parts:
            return
        count = len(self.parts)

        def handle(partition: int, records: list[Record]) -> None:
            for rec in records:
                try:
                    change = score_change_of(rec, partition, count)
                except InvalidRecord:
                    continue
                self.scores.setdefault(change.user_id, {})[change.ranking] = change

        self.since = await _read(bootstrap, topic, self.parts, self.since, None, handle)

    def backfill(self, rules: Rules, rebuild: Rebuild) -> dict[int, list[tuple[bytes, bytes]]]:
        """The score changes that give the stage the rebuilt entries of the partition's users,
        by `podium.scores` partition."""
        routed: dict[int, list[tuple[bytes, bytes]]] = {}
        for uid in sorted(rebuild.last):
            rebuilt, held = rebuild.scores.get(uid, {}), self.scores.get(uid, {})
            for change in backfill_changes(rules.leaderboards, rebuilt, held):
                partition = ranking_partition(change.ranking, len(self.parts))
                record = (change.ranking.encode(), encode_leaderboard_record(change))
                routed.setdefault(partition, []).append(record)
        return routed


@dataclass(frozen=True, slots=True)
class ReplayConfig:
    """What `podium replay` needs (built from the settings by the CLI)."""

    bootstrap: str
    names: Names
    transaction_timeout_ms: int = 10_000
    strict: bool = False  # refuse to hand over when any record was skipped


class SkippedRecords(RuntimeError):
    """A strict replay found records it cannot apply; it handed nothing over."""

    def __init__(self, skipped: Counter[str]) -> None:
        detail = ", ".join(f"{count} {label}" for label, count in sorted(skipped.items()))
        super().__init__(f"{skipped.total()} records skipped ({detail}); nothing handed over")
        self.skipped = skipped


@dataclass
class Summary:
    events: int = 0
    users: int = 0
    states_changed: int = 0
    facts_backfilled: int = 0
    scores_backfilled: int = 0
    seconds: float = 0.0
    skipped: Counter[str] = field(default_factory=Counter)  # reason label -> records


Handle: TypeAlias = Callable[[int, list[Record]], None]  # a partition's records, in order


async def _read(
    bootstrap: str,
    topic: str,
    parts: range,
    start: dict[int, int],
    ends: dict[int, int] | None,
    handle: Handle,
) -> dict[int, int]:
    """Hand every record of `topic` in [start, end) of each partition to `handle`, in batches;
    `ends` None: up to the ends as they are now, once the stopped workers' last transactions
    are readable (`kafka.settled_ends`: a fact missed there would be emitted twice). The ends
    read up to."""
    if ends is None:
        ends = await asyncio.to_thread(kafka.settled_ends, bootstrap, topic, parts)
    async for batch in kafka_async.read_range_async(bootstrap, topic, parts, start, ends=ends):
        by_partition: dict[int, list[Record]] = {}
        for rec in batch:
            by_partition.setdefault(rec.partition, []).append(rec)
        for partition, records in by_partition.items():
            handle(partition, records)
    return dict(ends)


async def _read_tails(
    bootstrap: str, names: Names, parts: range, since: Since, rebuilds: dict[int, Rebuild]
) -> None:
    """Add to each rebuild the fact ids and the states written since the offsets `since`
    (default 0) of the fact topics and of `podium.state`; advance `since` to their ends."""

    def state(partition: int, records: list[Record]) -> None:
        current = rebuilds[partition].current
        for r in records:
            if r.key is not None and r.value is not None:
                current[r.key.decode("utf-8", "surrogateescape")] = r.value

    def facts(partition: int, records: list[Record]) -> None:
        ids = {i for r in records if r.value for i in emitted_ids(r.value)}
        rebuilds[partition].forget_emitted(ids)

    for topic in (*(names.of(t) for t in FACTS), names.state):
        handle = state if topic == names.state else facts
        read = since.setdefault(topic, {})
        read.update(await _read(bootstrap, topic, parts, read, None, handle))


async def run_replay(
    config: ReplayConfig, rules: Rules, progress: ProgressBar | None = None
) -> Summary:
    """Rebuild, then hand over partition by partition; the summary counts what was done and
    every record skipped (by reason). Strict: raise `SkippedRecords` before handing over."""
    names = config.names
    started = time.monotonic()
    await asyncio.to_thread(require_idle, config.bootstrap, names.worker_group)
    parts = range(await kafka.wait_for_topic(config.bootstrap, names.events, within=10.0))
    boards = 0
    if rules.leaderboards:
        boards = await kafka.wait_for_topic(config.bootstrap, names.scores, within=10.0)
    published = Published(range(boards))
    read_to: Since = {}
    rebuilds = {p: Rebuild(p) for p in parts}
    await _read_tails(config.bootstrap, names, parts, read_to, rebuilds)
    await published.read(config.bootstrap, names.scores)
    log.info("read emitted facts and current states in %.1f s", time.monotonic() - started)
    await _fold_all(config.bootstrap, names, rules, rebuilds, progress)
    log.info("folded the events at %.1f s", time.monotonic() - started)
    skipped = sum((r.skipped for r in rebuilds.values()), Counter[str]())
    if skipped and config.strict:
        raise SkippedRecords(skipped)
    summary = Summary()
    for p in parts:
        await _hand_over(config, rules, rebuilds[p], (read_to, published), summary)
        at = time.monotonic() - started
        log.info("handed over partition %d at %.1f s", p, at, extra={"partition": p})
        summary.events += rebuilds[p].events
        summary.users += len(rebuilds[p].last)
        summary.skipped += rebuilds[p].skipped
        rebuilds[p] = Rebuild(p)  # free the memory
    summary.seconds = time.monotonic() - started
    return summary


async def _fold_all(
    bootstrap: str,
    names: Names,
    rules: Rules,
    rebuilds: dict[int, Rebuild],
    progress: ProgressBar | None,
) -> None:
    """Fold every partition from its beginning up to the worker group's committed offset."""
    parts = range(len(rebuilds))
    target = await asyncio.to_thread(
        kafka.committed_offsets, bootstrap, names.worker_group, names.events, parts
    )
    if progress is not None:
        progress.begin(sum(target.values()))

    def fold(partition: int, records: list[Record]) -> None:
        rebuilds[partition].fold(records, rules, names.events)
        if progress is not None:
            progress.advance(len(records))

    await _read(bootstrap, names.events, parts, {}, target, fold)


async def _hand_over(
    config: ReplayConfig,
    rules: Rules,
    rebuild: Rebuild,
    read: tuple[Since, Published],
    summary: Summary,
    attempts: int = 5,
) -> None:
    """Catch up with the log of the partition and commit the difference, while the worker
    group stays empty. Only tails are read: the events, facts, states and scores written since."""
    names, p, bootstrap = config.names, rebuild.partition, config.bootstrap
    group = names.worker_group
    for attempt in range(1, attempts + 1):
        handover = HandOver(bootstrap, group, config.transaction_timeout_ms)
        try:
            await asyncio.to_thread(handover.start)
            committed = await _catch_up(config, rules, rebuild, read)
            out = _records(names, rebuild, read[1].backfill(rules, rebuild))
            await asyncio.to_thread(require_idle, bootstrap, group, p)
            for start in range(0, len(out.records), CHUNK):
                chunk = out.records[start : start + CHUNK]
                await asyncio.to_thread(handover.commit, chunk, names.events, p, committed)
            summary.states_changed += out.states
            summary.facts_backfilled += len(rebuild.new)
            summary.scores_backfilled += out.scores
            return
        except (CommitFailed, KafkaException) as err:  # e.g. another replay: catch up again
            log.warning(
                "hand-over of partition %d, attempt %d: %s", p, attempt, err, extra={"partition": p}
            )
        finally:
            await asyncio.to_thread(handover.close)
    raise RuntimeError(f"partition {p}: hand-over failed {attempts} times")


async def _catch_up(
    config: ReplayConfig, rules: Rules, rebuild: Rebuild, read: tuple[Since, Published]
) -> int:
    """Fold the events up to the group's committed offset now, read the tails of the fact
    topics, `podium.state` and `podium.scores`; the committed offset."""
    names, p, bootstrap = config.names, rebuild.partition, config.bootstrap
    read_to, published = read
    one = range(p, p + 1)
    got = await asyncio.to_thread(
        kafka.committed_offsets, bootstrap, names.worker_group, names.events, one
    )
    committed = got[p]
    if committed < rebuild.position:
        raise RuntimeError(f"partition {p}: committed offset went back to {committed}")
    await _read(
        bootstrap,
        names.events,
        one,
        {p: rebuild.position},
        {p: committed},
        lambda _p, recs: rebuild.fold(recs, rules, names.events),
    )
    await _read_tails(bootstrap, names, one, read_to, {p: rebuild})
    await published.read(bootstrap, names.scores)
    return committed


def _records(
    names: Names, rebuild: Rebuild, scores: dict[int, list[tuple[bytes, bytes]]]
) -> Outgoing:
    """What the hand-over of the partition writes: the states that differ, the new facts and
    the score changes."""
    current = rebuild.current
    changed = [(uid, raw) for uid, raw in rebuild.states().items() if current.get(uid) != raw]
    return outgoing(names, rebuild.partition, changed, rebuild.new.values(), scores)
