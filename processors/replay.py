"""`podium replay`: rebuild every user's state from `podium.events` with the current rules,
write what differs to `podium.state`, and publish only the facts never emitted before
(`podium.achievements`, `podium.streaks`, `podium.points`), flagged `backfilled`, once. Then
hand over. A points fact is new when it holds an award never emitted (every award has a
deterministic id); it is published with only those awards, so a consumer that sums `added`
over distinct ids counts each award once.

1. Read the ids already on the fact topics (every fact has a deterministic id) and the
   worker group's committed offsets. Fold every partition from the beginning up to those
   offsets into fresh states (the long part; live workers keep running meanwhile).
2. Per partition, hand over: start the partition's transactional producer (this fences the
   live owner and settles its open transaction), read the committed offset again and fold
   the few events the live worker applied meanwhile, read the facts it emitted meanwhile and
   the current states; then commit, in transactions that also carry the (unchanged) input
   offset, the states that differ and the facts whose ids are new. The fenced worker retakes
   the partition after its back-off and restores the rebuilt states: no gap, no double count.
   A replay interrupted half-way may be run again: what it committed is then "emitted before".
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeAlias

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from deploy.settings import Settings
from processors.fold import evolve
from processors.runtime.batch import decode_valid
from processors.runtime.changelog import partition_count
from processors.runtime.partition import OwnedPartition, ProducerConfig, start_producer
from processors.runtime.store import StateStore
from schemas.commands import InvalidRecord, command_user_id
from schemas.points import PointsChanged
from schemas.records import AchievementCompleted, StreakChanged, encode_record
from schemas.rules import Rules, load_rules
from schemas.state import encode_state
from schemas.topics import Names

log = logging.getLogger("podium.replay")
Fact = AchievementCompleted | StreakChanged | PointsChanged
Record: TypeAlias = "ConsumerRecord[bytes, bytes]"
CHUNK = 20_000  # records per hand-over transaction


class Progress(Protocol):
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
    position: int = 0
    events: int = 0

    def fold(self, records: list[Record], rules: Rules) -> None:
        store, last, emitted, new = self.store, self.last, self.emitted, self.new
        for rec in records:
            self.position = rec.offset + 1
            try:
                cmd = decode_valid(rec.value, rules)
            except InvalidRecord:
                continue  # the worker sent it to the dead-letter topic already
            uid = command_user_id(cmd)
            try:
                state, derived = evolve(store.get(uid), cmd, rules)
            except Exception:  # parked by the worker as a dead letter, likewise
                continue
            store.put(uid, state)
            last[uid] = rec.offset
            self.events += 1
            for item in derived[1:]:  # derived[0] is the Progress: never re-emitted
                if isinstance(item, PointsChanged):
                    item = unemitted_awards(item, emitted)  # type: ignore[assignment]
                    if item is None:
                        continue
                if item.id not in emitted and item.id not in new:
                    new[item.id] = item  # type: ignore[assignment]

    def forget_emitted(self, ids: set[str]) -> None:
        self.emitted |= ids
        for fact_id in ids & self.new.keys():
            del self.new[fact_id]
        for fact_id, fact in list(self.new.items()):
            if isinstance(fact, PointsChanged):
                rest = unemitted_awards(fact, self.emitted)
                if rest is not fact:
                    del self.new[fact_id]
                    if rest is not None:
                        self.new[rest.id] = rest

    def states(self) -> dict[str, bytes]:
        out = {}
        for uid, offset in self.last.items():
            state = self.store.get(uid)
            assert state is not None
            out[uid] = encode_state(state.with_offset(offset))
        return out


def unemitted_awards(fact: PointsChanged, emitted: set[str]) -> PointsChanged | None:
    """The fact with only its awards never emitted (itself when all are new, None when
    none is); the id is that of its first remaining award."""
    awards = tuple(a for a in fact.awards if a.id not in emitted)
    if len(awards) == len(fact.awards):
        return fact
    if not awards:
        return None
    return dataclasses.replace(
        fact, id=awards[0].id, awards=awards, added=sum(a.points for a in awards)
    )


def _emitted_ids(raw: bytes) -> set[str]:
    """The ids a fact record stands for: its own, and for a points fact its awards'."""
    obj = orjson.loads(raw)
    return {obj["id"], *(a["id"] for a in obj.get("awards") or ())}


@dataclass
class Summary:
    events: int = 0
    users: int = 0
    states_changed: int = 0
    facts_backfilled: int = 0
    seconds: float = 0.0


async def _read(
    consumer: AIOKafkaConsumer,
    ranges: dict[TopicPartition, tuple[int, int]],
    handle: Callable[[TopicPartition, list[Record]], None],
) -> None:
    """Hand every record in [start, end) of each partition to `handle`, in batches.

    The consumer keeps one assignment (every partition replay reads; changing it would
    refresh metadata each time) and fetches only the partitions being read."""
    todo = {tp for tp, (start, end) in ranges.items() if end > start}
    consumer.pause(*(consumer.assignment() - todo))
    for tp in todo:
        consumer.seek(tp, ranges[tp][0])
    consumer.resume(*todo)
    while todo:
        batch = await consumer.getmany(*todo, timeout_ms=100, max_records=20_000)
        for tp, records in batch.items():
            end = ranges[tp][1]
            if records and records[-1].offset >= end:
                records = [r for r in records if r.offset < end]
            handle(tp, records)
        for tp in list(todo):
            if await consumer.position(tp) >= ranges[tp][1]:
                todo.discard(tp)
                consumer.pause(tp)


async def _read_tails(
    consumer: AIOKafkaConsumer,
    names: Names,
    parts: range,
    since: dict[TopicPartition, int],
    rebuilds: dict[int, Rebuild],
) -> None:
    """Add to each rebuild the fact ids and the states written since the offsets `since`
    (default 0) of the fact topics and of `podium.state`; advance `since` to their ends."""
    topics = (names.achievements, names.streaks, names.points, names.state)
    tps = [TopicPartition(t, p) for t in topics for p in parts]
    ends = await consumer.end_offsets(tps)

    def handle(tp: TopicPartition, records: list[Record]) -> None:
        rebuild = rebuilds[tp.partition]
        if tp.topic == names.state:
            for r in records:
                if r.key is not None and r.value is not None:
                    rebuild.current[r.key.decode()] = r.value
        else:
            rebuild.forget_emitted({i for r in records if r.value for i in _emitted_ids(r.value)})

    await _read(consumer, {tp: (since.get(tp, 0), ends[tp]) for tp in tps}, handle)
    since.update(ends)


async def _committed(consumer: AIOKafkaConsumer, tps: list[TopicPartition]) -> dict[int, int]:
    return {tp.partition: (await consumer.committed(tp)) or 0 for tp in tps}


async def run_replay(
    settings: Settings, rules: Rules | None = None, progress: Progress | None = None
) -> Summary:
    rules = rules or load_rules(settings.rules_path)
    names = Names(settings.topic_prefix)
    started = time.monotonic()
    parts = range(await partition_count(settings.bootstrap, names.events))
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap,
        group_id=names.worker_group,
        enable_auto_commit=False,
        isolation_level="read_committed",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    try:
        events = [TopicPartition(names.events, p) for p in parts]
        topics = (names.events, names.achievements, names.streaks, names.points, names.state)
        consumer.assign([TopicPartition(t, p) for t in topics for p in parts])
        consumer.pause(*consumer.assignment())
        read_to: dict[TopicPartition, int] = {}
        rebuilds = {p: Rebuild(p) for p in parts}
        await _read_tails(consumer, names, parts, read_to, rebuilds)
        log.info("read emitted facts and current states in %.1f s", time.monotonic() - started)
        target = await _committed(consumer, events)
        if progress is not None:
            progress.begin(sum(target.values()))

        def fold(tp: TopicPartition, records: list[Record]) -> None:
            rebuilds[tp.partition].fold(records, rules)
            if progress is not None:
                progress.advance(len(records))

        await _read(consumer, {tp: (0, target[tp.partition]) for tp in events}, fold)
        log.info("folded %d events at %.1f s", sum(target.values()), time.monotonic() - started)
        summary = Summary()
        for p in parts:
            await _hand_over(settings, names, rules, consumer, rebuilds[p], read_to, summary)
            log.info("handed over partition %d at %.1f s", p, time.monotonic() - started)
            summary.events += rebuilds[p].events
            summary.users += len(rebuilds[p].last)
            rebuilds[p] = Rebuild(p)  # free the memory
    finally:
        await consumer.stop()
    summary.seconds = time.monotonic() - started
    return summary


async def _hand_over(
    settings: Settings,
    names: Names,
    rules: Rules,
    consumer: AIOKafkaConsumer,
    rebuild: Rebuild,
    read_to: dict[TopicPartition, int],
    summary: Summary,
    attempts: int = 5,
) -> None:
    """Fence the live owner of the partition, catch up with it and commit the difference.
    Under the fence only tails are read: the events, facts and states written since."""
    p = rebuild.partition
    tp = TopicPartition(names.events, p)
    config = ProducerConfig(settings.bootstrap, settings.transaction_timeout_ms)
    for attempt in range(1, attempts + 1):
        owned = OwnedPartition(
            names, p, await start_producer(config, names.transactional_id(p)), StateStore()
        )
        try:
            committed = (await _committed(consumer, [tp]))[p]
            if committed < rebuild.position:
                raise RuntimeError(f"partition {p}: committed offset went back to {committed}")
            await _read(
                consumer,
                {tp: (rebuild.position, committed)},
                lambda _tp, recs: rebuild.fold(recs, rules),
            )
            await _read_tails(consumer, names, range(p, p + 1), read_to, {p: rebuild})
            current = rebuild.current
            changed = [
                (uid, raw) for uid, raw in rebuild.states().items() if current.get(uid) != raw
            ]
            await _commit(owned, names, changed, list(rebuild.new.values()), committed)
            summary.states_changed += len(changed)
            summary.facts_backfilled += len(rebuild.new)
            return
        except KafkaError as err:  # fenced by the live worker retaking it: catch up again
            log.warning("hand-over of partition %d, attempt %d: %s", p, attempt, err)
        finally:
            await owned.close()
    raise RuntimeError(f"partition {p}: hand-over failed {attempts} times")


async def _commit(
    owned: OwnedPartition,
    names: Names,
    states: list[tuple[str, bytes]],
    facts: list[Fact],
    committed: int,
) -> None:
    achievements = [
        (f.user_id.encode(), encode_record(dataclasses.replace(f, backfilled=True)))
        for f in facts
        if isinstance(f, AchievementCompleted)
    ]
    streaks = [
        (f.user_id.encode(), encode_record(dataclasses.replace(f, backfilled=True)))
        for f in facts
        if isinstance(f, StreakChanged)
    ]
    points = [
        (f.user_id.encode(), encode_record(dataclasses.replace(f, backfilled=True)))
        for f in facts
        if isinstance(f, PointsChanged)
    ]
    pending = [(names.state, kv) for kv in ((u.encode(), raw) for u, raw in states)]
    pending += [(names.achievements, kv) for kv in achievements]
    pending += [(names.streaks, kv) for kv in streaks]
    pending += [(names.points, kv) for kv in points]
    for start in range(0, len(pending), CHUNK):
        chunk = pending[start : start + CHUNK]
        by_topic: dict[str, list[tuple[bytes, bytes]]] = {
            names.state: [],
            names.achievements: [],
            names.streaks: [],
            names.points: [],
        }
        for topic, kv in chunk:
            by_topic[topic].append(kv)
        await owned.transact(by_topic, committed, names.worker_group)
