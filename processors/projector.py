"""The projector: keeps the Redis read views (layout in `schemas.views`) from Kafka.

Reads `podium.state` (the compacted per-user state changelog, read_committed) with its own
consumer group and writes, per record, the user's view document, the users set, the
completion sets, the user's total in the sorted set of each points system it has a
standing in, and the user's change in each local year its kept days cover whole, per metric
and points system (wrapped's percentiles; `processors.core.wrapped.year_changes`). Why the state
changelog and not `podium.progress`: progress is kept one week, so a rebuild from it would
lose every user idle for longer; the compacted changelog always holds each user's latest
state, and it carries the profile, totals, achievements (with achievedAt), the streak with
its history and the points.

A tenant's user (`schemas.tenants`) is written under the tenant's keys (`Keys.scoped`) with
the id the tenant knows.

Idempotent: a document is written only when its state record's offset on the changelog is not
older than the stored one (`schemas.views.WRITE_USER`, a Lua compare-and-set), and completions
are set members, so redelivery after a crash changes nothing, and a replay's rebuilt state
(written after the live ones) replaces the view even when it applied fewer commands. Offsets
are committed after the Redis writes (at least once).

`rebuild` takes its lease, drops the epoch markers, clears the views and replays the changelog
from the beginning up to its current end, then writes the epoch marker
(`schemas.views.Keys.epoch`). `run` checks the marker about once a second and rebuilds by
itself when it is missing: Redis lost the views (a flush, a restart without persistence), or
they were never built whole (the first start).

The leaderboard views (`processors.board_views`) are kept the same way from
`podium.ranking.state`, by a second loop of the same process in its own group, and the
participants' daily histories from `podium.leaderboards` by a third (own group, own epoch
marker).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from confluent_kafka import KafkaException
from msgspec.structs import replace
from redis.asyncio import Redis

from processors.board_views import BoardProjector, HistoryProjector
from processors.core.streak_views import streak_scores
from processors.core.summaries import Day
from processors.core.views import user_view
from processors.core.wrapped import year_changes
from processors.runtime import kafka, kafka_async, telemetry
from processors.runtime.health import Pulse
from processors.runtime.lag import mirror_lag
from processors.runtime.ops_server import OpsConfig, operated
from schemas.commands import InvalidRecord
from schemas.rules import Rules
from schemas.state import UserState, decode_state
from schemas.tenants import split_user
from schemas.topics import Names
from schemas.views import (
    FINISH_REBUILD,
    REBUILD_LEASE_S,
    WRITE_USER,
    Keys,
    Positioned,
    encode_view,
)

log = logging.getLogger("podium.projector")
EPOCH_CHECK_S = 1.0  # how often the live projector looks for the views' epoch marker
# How often the live projector commits its consumer offsets: at most once a second (and when it
# stops). A crash re-applies at most that much, which changes nothing: every write is a
# compare-and-set or a set member.
COMMIT_INTERVAL_S = 1.0


class _Pattern(Protocol):
    """A views' key layout as the loops use it: what to clear, and its epoch marker."""

    @property
    def pattern(self) -> str: ...
    @property
    def epoch(self) -> str: ...
    @property
    def rebuilding(self) -> str: ...
    @property
    def markers(self) -> tuple[str, ...]: ...


class Applies(Protocol):
    """What the loops need of a projector: its Redis, its keys' pattern, `apply`."""

    @property
    def redis(self) -> Redis: ...
    @property
    def keys(self) -> _Pattern: ...
    async def apply(self, records: Iterable[Positioned]) -> int: ...


class Projector:
    """Applies state changelog values to the views (the ≈ 10-line loop's one step)."""

    def __init__(self, redis: Redis, keys: Keys, rules: Rules) -> None:
        self.redis = redis
        self.keys = keys
        self.rules = rules
        self.script = redis.register_script(WRITE_USER)
        self.applied = 0
        self.invalid = 0

    async def apply(self, records: Iterable[Positioned]) -> int:
        """Write the views of these changelog records; the number of documents written."""
        latest = self.latest(records)
        if not latest:
            return 0
        pipe = self.redis.pipeline(transaction=False)
        for offset, state in latest.values():
            tenant, uid = split_user(state.user_id)
            scope = self.keys.scoped(tenant)
            doc = encode_view(replace(user_view(state, self.rules), user_id=uid))
            scored, left = self.scores(state, scope)
            keys = [
                scope.user(uid),
                scope.users,
                *(scope.completed(a) for a in sorted(state.achievements)),
                *scored,
                *left,
                *self.index_keys(state, scope),
            ]
            args: list[int | str | bytes] = [offset, doc, uid]
            args.extend((len(scored), len(left), *scored.values()))
            args.extend(self.index_args(state))
            await self.script(keys=keys, args=args, client=pipe)
        written = sum(int(x) for x in await pipe.execute())
        self.applied += written
        return written

    @staticmethod
    def index_keys(state: UserState, keys: Keys) -> list[str]:
        """The index's keys for the user (`WRITE_USER`): the names hash, then one attribute
        zset per attribute (sorted by key, as `index_args`)."""
        return [keys.names, *(keys.attribute(k) for k in sorted(state.attributes))]

    @staticmethod
    def index_args(state: UserState) -> list[int | str]:
        """The index's arguments (`WRITE_USER`): the number of attributes, the name (with a
        "1", or "0" and "" for none), then each attribute's key and value."""
        attrs = state.attributes
        name = ("0", "") if state.name is None else ("1", state.name)
        args: list[int | str] = [len(attrs), *name]
        for key in sorted(attrs):
            args.extend((key, attrs[key]))
        return args

    def latest(self, records: Iterable[Positioned]) -> dict[str, tuple[int, UserState]]:
        """Each user's state of the greatest offset among these records (a user's states are
        on one partition: the greatest offset is the latest decided), with that offset."""
        latest: dict[str, tuple[int, UserState]] = {}
        for rec in records:
            if rec.value is None:  # a tombstone: users are never deleted from the views
                continue
            try:
                state = decode_state(rec.value)
            except InvalidRecord as exc:
                self.invalid += 1
                telemetry.VIEWS_SKIPPED.inc()
                log.warning(
                    "skipping a state record that does not decode: %s",
                    exc.reason,
                    extra={"offset": rec.offset},
                )
                continue
            prev = latest.get(state.user_id)
            if prev is None or prev[0] <= rec.offset:
                latest[state.user_id] = (rec.offset, state)
        return latest

    def scores(self, state: UserState, keys: Keys) -> tuple[dict[str, int | str], list[str]]:
        """The sorted sets (of the user's tenant, `keys`) the user is scored in (the points
        totals, the changes of every year the kept days cover whole, the streak rankings),
        and those the user leaves (years kept in part, streak rankings at length 0)."""
        rules = self.rules
        scored: dict[str, int | str] = {
            keys.points(s): state.points[s].total for s in rules.points if s in state.points
        }
        left: list[str] = []
        metric_days, points = state.metric_days, state.points
        kept: list[tuple[str, str, Sequence[Day], int]] = [
            *(
                ("metric", m, metric_days[m], rules.limits.metric_days)
                for m in rules.metrics
                if m in metric_days
            ),
            *(
                ("points", s, points[s].days, rules.limits.points_days)
                for s in rules.points
                if s in points
            ),
        ]
        for kind, key, days, keep in kept:
            changes, partial = year_changes(days, keep)
            for year, change in changes.items():
                scored[keys.year(kind, key, year)] = repr(float(change))
            left.extend(keys.year(kind, key, year) for year in partial)
        ranked, unranked = streak_scores(state, rules, keys)  # the streak rankings
        scored.update(ranked)
        left.extend(unranked)
        return scored, left


def consumer(bootstrap: str, group: str) -> kafka_async.AsyncConsumer:
    return kafka_async.async_consumer(
        bootstrap, group, client_id="podium-projector", max_partition_fetch_bytes=8 << 20
    )


async def run(
    bootstrap: str,
    topic: str,
    group: str,
    projector: Applies,
    stop: asyncio.Event | None = None,
    pulse: Pulse | None = None,
) -> None:
    """Project the changelog live until `stop` is set (or forever); rebuild the views
    whenever their epoch marker is missing. `pulse` shows the loop to the probes."""
    pulse = pulse or Pulse()
    cons = consumer(bootstrap, group)
    cons.subscribe([topic])
    checked = 0.0
    committed, applied = time.monotonic(), False
    try:
        while stop is None or not stop.is_set():
            if time.monotonic() - checked >= EPOCH_CHECK_S:
                if not await projector.redis.exists(
                    projector.keys.epoch, projector.keys.rebuilding
                ):
                    log.warning("the views' epoch marker is missing: rebuilding from %s", topic)
                    with pulse.wait("rebuilding the views", unready=True):
                        read = await rebuild(bootstrap, topic, projector)
                    log.info("views rebuilt from %d state records", read)
                checked = time.monotonic()
            records = await cons.records(5000, 0.2)
            pulse.polled()
            pulse.owned = {tp.partition for tp in cons.assignment()}
            if records:
                with pulse.wait("writing the views"):
                    await projector.apply(records)
                applied = True
            if applied and time.monotonic() - committed >= COMMIT_INTERVAL_S:
                with pulse.wait("committing offsets"):  # a broker outage waits here
                    await _commit(cons, topic)
                committed, applied = time.monotonic(), False
        if applied:
            await _commit(cons, topic)
    finally:
        await cons.close()


async def _commit(cons: kafka_async.AsyncConsumer, topic: str) -> None:
    """Commit what was applied; a failed commit (a rebalance under way) only means those
    records are applied again, which changes nothing."""
    try:
        await cons.commit()
    except KafkaException as exc:
        log.warning("committing the projector's offsets on %s failed: %s", topic, exc)


async def clear(redis: Redis, keys: _Pattern) -> int:
    """Delete every key of the views but the rebuild's lease; how many. The epoch markers go
    first: while the views go, a reader finds no marker and answers 503, never a false 404
    for a document already deleted."""
    deleted = int(await redis.unlink(*keys.markers))
    lease = keys.rebuilding.encode()
    async for key in redis.scan_iter(match=keys.pattern, count=1000):
        if key != lease:
            deleted += int(await redis.unlink(key))
            if deleted % 10_000 == 0:  # a long clear keeps its lease, as a replay's batch does
                await redis.expire(lease, REBUILD_LEASE_S)
    return deleted


async def rebuild(
    bootstrap: str,
    topic: str,
    projector: Applies,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Clear the views, replay the whole changelog up to its current end and set the epoch
    marker; records read. Redone when Redis lost the views again meanwhile."""
    while True:
        token = uuid.uuid4().hex  # the lease first: the live loop starts no second rebuild
        await projector.redis.set(projector.keys.rebuilding, token, ex=REBUILD_LEASE_S)
        await clear(projector.redis, projector.keys)
        seen = await replay(bootstrap, topic, projector, progress)
        keys = [projector.keys.rebuilding, projector.keys.epoch]
        now_ms = time.time_ns() // 1_000_000
        if await projector.redis.eval(FINISH_REBUILD, 2, *keys, token, now_ms):
            return seen  # 1: done; 2: a later rebuild finishes the job
        log.warning("Redis lost the views during the rebuild: rebuilding again")


async def replay(
    bootstrap: str,
    topic: str,
    projector: Applies,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Apply the whole changelog up to its current end to the views; records read."""
    try:
        parts = range(await kafka.wait_for_topic(bootstrap, topic, within=10.0))
    except kafka.TopicMissing:
        return 0
    ends = await asyncio.to_thread(kafka.end_offsets, bootstrap, topic, parts)
    starts = await asyncio.to_thread(kafka.start_offsets, bootstrap, topic, parts)
    total = sum(ends[p] - starts[p] for p in parts)  # for the progress only
    seen = 0
    async for records in kafka_async.read_range_async(bootstrap, topic, parts):
        await projector.apply(records)
        await projector.redis.expire(projector.keys.rebuilding, REBUILD_LEASE_S)
        seen += len(records)
        if progress is not None:
            progress(seen, total)
    return seen


# --- the process root: `podium projector` and `podium views rebuild` -----------------------


@dataclass(frozen=True, slots=True)
class ProjectorConfig:
    """What the projector needs (built from the settings by the CLI)."""

    bootstrap: str
    names: Names
    redis_url: str
    views_prefix: str = "podium:"
    ops: OpsConfig | None = None  # /metrics, /livez, /readyz (None: not served)


async def run_projector(
    config: ProjectorConfig, rules: Rules, stop: asyncio.Event | None = None
) -> None:
    """Keep the views of `config.names.state` with the projector's consumer group, the
    leaderboard views of `config.names.ranking_state` with its boards group and the daily
    histories of `config.names.leaderboards` with its history group."""
    redis = Redis.from_url(config.redis_url)
    names = config.names
    try:
        keys = Keys(config.views_prefix)
        applied = (
            (names.state, names.projector_group, Projector(redis, keys, rules)),
            (names.ranking_state, names.board_views_group, BoardProjector(redis, keys)),
            (names.leaderboards, names.board_history_group, HistoryProjector(redis, keys)),
        )
        async with operated(config.ops, "projector", config.bootstrap) as ops:
            loops = [(ops.watch(group, topic), applies) for topic, group, applies in applied]
            ops.also(mirror_lag(loops[0][0], telemetry.VIEWS_BEHIND))
            await asyncio.gather(
                *(run(config.bootstrap, w.topic, w.group, a, stop, w.pulse) for w, a in loops)
            )
    finally:
        await redis.aclose()


async def rebuild_views(
    config: ProjectorConfig, rules: Rules, progress: Callable[[int, int], None] | None = None
) -> tuple[int, int]:
    """Clear and rebuild the views, then the leaderboard views and the daily histories;
    (state records read, user documents written)."""
    redis = Redis.from_url(config.redis_url)
    try:
        keys = Keys(config.views_prefix)
        proj = Projector(redis, keys, rules)
        read = await rebuild(config.bootstrap, config.names.state, proj, progress)
        await rebuild(config.bootstrap, config.names.ranking_state, BoardProjector(redis, keys))
        await rebuild(config.bootstrap, config.names.leaderboards, HistoryProjector(redis, keys))
    finally:
        await redis.aclose()
    return read, proj.applied
