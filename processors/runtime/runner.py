"""The consume → fold → transact loop of one worker in the `podium.worker` consumer group.

Reads `podium.events` (read_committed) with `getmany`, in one of two loops (`pipelined`,
setting `worker_pipelined`; docs/fast-path.md, section 7, for their figures):

- barrier (the default): each owned partition's share of a batch is folded
  (`batch.fold_batch`) and committed in that partition's own transaction
  (`partition.OwnedPartition`), the partitions of a batch concurrently; the next `getmany`
  waits for all of them.
- pipelined: the fetch loop hands each owned partition's records to that partition's queue
  (`backlog.Backlog`) and fetches again at once. A task per partition with records queued
  folds what is queued (all transactions in flight together hold at most `max_records`),
  commits it, then takes what arrived meanwhile, until its queue is empty: no partition waits
  for another's commit, and a busy partition's transactions grow by themselves. A partition
  with more than its share (`max_records` / owned partitions) queued is paused in the
  consumer until its task has taken them all. An error in a task other than a lost
  transaction ends the loop.

Ownership: on assignment a partition's producer is started first (fencing any former owner
and settling its open transaction), then its states are restored from `podium.state` and the
consumer is positioned at the group's committed offset, so state and position always come
from the same committed transactions. On revocation nothing new starts for the partition,
its transaction in flight ends, then its queued records (pipelined) and states are dropped
(the next owner reads them again from the committed offset). A fenced or failed transaction
loses the partition: its states (and queue) are dropped, it is paused, and after a back-off
it is taken over again the same way if the group still assigns it here; so is one whose take
the broker refused or did not answer in time (a take is all or nothing: a failed one stops
the producers it started; any other error in it ends the run). A partition that
reaches an event of a user whose state does not decode commits what came before, then waits
the same way (`blocked_retry_s`), its committed offset at that event.

Answers leave at the fold: in both loops, the answers of a partition's folded records
(`Effects.answers`) are pushed to their gateways (`answers.AnswerPusher`) right after the
fold and before its transaction. What is folded but not committed is bounded as the loops
bound it (one `getmany` batch; `max_records` in flight), so when commits stall, answers stop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import IllegalOperation, KafkaError

from processors.runtime import telemetry
from processors.runtime.answers import AnswerPusher
from processors.runtime.backlog import Backlog
from processors.runtime.batch import Blocked, fold_batch
from processors.runtime.changelog import read_latest
from processors.runtime.health import Pulse
from processors.runtime.partition import (
    OwnedPartition,
    ProducerConfig,
    start_producers,
    stop_producer,
)
from processors.runtime.store import StateStore
from schemas.records import DeadLetter
from schemas.rules import Rules
from schemas.topics import SCORES, Names

# A transaction that cannot commit: a Kafka error, or aiokafka's IllegalOperation when a fence
# (found by its sender in the background) already ended the transaction before a send.
# A transaction that did not commit: refused, fenced, or not answered within `commit_limit_s`
# (an aiokafka transactional call can wait without end once the broker restarted under it).
TRANSACTION_LOST = (KafkaError, IllegalOperation, TimeoutError)
# A take that may succeed when tried again: the broker refused it, or did not answer in time.
TAKE_RETRIABLE = (KafkaError, TimeoutError)

log = logging.getLogger("podium.worker")


class Runner:
    # what a take may meet that loses its partitions for a while instead of ending the run
    take_retriable: tuple[type[Exception], ...] = TAKE_RETRIABLE
    process = "worker"  # the `process` label of its series

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        names: Names,
        rules: Rules,
        producer_config: ProducerConfig,
        *,
        max_records: int = 50_000,
        fence_backoff_s: float = 3.0,
        score_partitions: int = SCORES.partitions,
        blocked_retry_s: float = 30.0,
        pipelined: bool = False,
        pusher: AnswerPusher | None = None,
    ) -> None:
        self.consumer = consumer
        self.names = names
        self.rules = rules
        self.producer_config = producer_config
        self.max_records = max_records
        self.fence_backoff_s = fence_backoff_s
        self.score_partitions = score_partitions  # podium.scores' count: ranking_partition's n
        self.input_topic = names.events  # the ranking stage's subclass reads podium.scores
        self.blocked_retry_s = blocked_retry_s
        self.blocked: dict[int, Blocked] = {}  # partition -> the user it waits at
        self.owned: dict[int, OwnedPartition] = {}
        self.lost: dict[int, float] = {}  # partition -> monotonic time to retry
        self.lock = asyncio.Lock()  # ownership changes: take, drop, retake
        self.backlog: Backlog[ConsumerRecord[bytes, bytes]] = Backlog()
        self.tasks: dict[int, asyncio.Task[None]] = {}  # partition -> its `_drain` task
        self.failed: Exception | None = None  # what ended a partition's task: ends the run
        self.in_flight = 0  # records the partitions' transactions hold: see `_room`
        self.room_freed = asyncio.Event()
        self.pipelined = pipelined
        self.pusher = pusher  # None: no answers pushed (the ranking stage)
        self.applied = 0
        self.position_timeout_s = 60.0  # aiokafka's own positioning of an assigned partition
        # a commit still unanswered after twice the transaction timeout is lost (the broker
        # aborts the transaction after one); the partition is retaken with a new producer
        self.commit_limit_s = 2 * producer_config.transaction_timeout_ms / 1000
        self.pulse = Pulse()  # for the probes (processors.runtime.health)
        self.pulse.owned = self.owned
        self.fold_seconds = telemetry.FOLD_SECONDS.labels(self.process)
        self.commit_seconds = telemetry.COMMIT_SECONDS.labels(self.process)
        self.transaction_records = telemetry.TRANSACTION_RECORDS.labels(self.process)

    # --- the loop -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        self.consumer.subscribe([self.input_topic], listener=_Listener(self))
        if self.pipelined:
            await self._run_pipelined(stop)
        else:
            await self._run_barrier(stop)

    async def _run_barrier(self, stop: asyncio.Event) -> None:
        """Each batch's partitions are folded and committed concurrently, and the next fetch
        waits for all of them."""
        try:
            while not stop.is_set():
                self._raise_failure()
                with self.pulse.wait("taking partitions"):
                    await self._recover_lost()
                batch = await self.consumer.getmany(timeout_ms=200, max_records=self.max_records)
                self.pulse.polled()
                if batch:
                    async with self.lock:
                        await asyncio.gather(
                            *(self._process(tp, recs) for tp, recs in batch.items())
                        )
        finally:
            async with self.lock:
                await self._drop(list(self.owned))

    async def _run_pipelined(self, stop: asyncio.Event) -> None:
        """Fetch and queue each partition's records for its task (`_drain`), and fetch again;
        an error that ended a task ends the loop."""
        try:
            while not stop.is_set():
                self._raise_failure()
                with self.pulse.wait("taking partitions"):
                    await self._recover_lost()
                batch = await self.consumer.getmany(timeout_ms=200, max_records=self.max_records)
                self.pulse.polled()
                if batch:
                    async with self.lock:  # see _enqueue
                        for tp, records in batch.items():
                            self._enqueue(tp, records)
            self._raise_failure()
        finally:
            async with self.lock:
                await self._drop({*self.owned, *self.tasks})

    def _enqueue(self, tp: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        """Queue a partition's fetched records for its task, and start the task if none runs.
        Called under the lock, so never while partitions are being taken: records that arrive
        for a partition during its `take` wait until it is owned (dropped, they would be lost:
        the consumer has moved past them); what is below its committed offset or queued
        already is skipped (`Backlog.put`)."""
        owned = self.owned.get(p := tp.partition)
        if owned is None or self.failed is not None:
            return  # revoked or lost meanwhile: the next owner reads these again
        if self.backlog.put(p, records, owned.position, self._share()):
            self._pause(tp)  # too much queued: `_drain` resumes it once its queue is empty
        if p not in self.tasks:
            self.tasks[p] = asyncio.create_task(self._drain(tp), name=f"partition {p}")

    async def _drain(self, tp: TopicPartition) -> None:
        """Fold and commit what is queued for the partition in one transaction (as much as
        `_room` allows), again with what arrived meanwhile, until nothing is queued: busy, the
        transactions grow; quiet, a record is committed as soon as the last commit ends. An
        error other than a lost transaction (`_process` handles those) is kept for the fetch
        loop to raise, and the partition's queue is dropped with it (nothing after records
        that failed may be committed)."""
        p = tp.partition
        try:
            while True:
                records, resume = self.backlog.take(p, await self._room())
                if resume and p in self.owned and tp in self.consumer.assignment():
                    self.consumer.resume(tp)  # not lost or blocked (those left `owned`)
                if not records:
                    return
                self.in_flight += len(records)
                try:
                    await self._process(tp, records)
                finally:
                    self.in_flight -= len(records)
                    self.room_freed.set()
        except Exception as err:
            self.backlog.discard(p)
            self.failed = self.failed or err
        finally:
            del self.tasks[p]

    async def _room(self) -> int:
        """How many records a task may take now: `max_records` less those that the
        partitions' transactions hold (folding or committing), waiting while none are left.
        So at most `max_records` are folded between two commits, as in one `getmany` batch of
        the barrier loop: a fold does not yield to the event loop, and with `max_records` per
        partition a backlog starved the consumer's heartbeat (its session expired) and the
        worker's peak memory was 2.4 times the barrier loop's."""
        while self.in_flight >= self.max_records:
            self.room_freed.clear()
            await self.room_freed.wait()
        return self.max_records - self.in_flight

    def _share(self) -> int:
        """A partition's share of `max_records`: the most it may hold queued before its
        fetching pauses, so that all queues together hold about `max_records`."""
        return max(1, self.max_records // max(1, len(self.owned)))

    def _raise_failure(self) -> None:
        if self.failed is not None:
            raise self.failed

    async def _process(
        self, tp: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]
    ) -> None:
        owned = self.owned.get(tp.partition)
        if owned is None or not records:
            return  # revoked or lost meanwhile: the next owner reads these again
        if records[0].offset < owned.position:  # already applied (a stale fetch)
            records = [rec for rec in records if rec.offset >= owned.position]
            if not records:
                return
        with telemetry.timed(self.fold_seconds):
            effects = fold_batch(
                owned.store,
                records,
                self.rules,
                tp.topic,
                tp.partition,
                score_partitions=self.score_partitions,
            )
        if self.pusher is not None and effects.answers:
            self.pusher.push(effects.answers)  # before the commit: see the module's docstring
        if effects.next_offset > owned.position:
            try:
                with self.pulse.wait("committing"), telemetry.timed(self.commit_seconds):
                    async with asyncio.timeout(self.commit_limit_s):
                        await owned.commit(effects, self.names.worker_group)
            except TRANSACTION_LOST as err:
                await self._lose(tp.partition, err)
                return
            owned.position = effects.next_offset
            self.transaction_records.observe(len(records))
        if effects.blocked is not None:
            await self._block(tp.partition, effects.blocked)
        elif self.blocked.pop(tp.partition, None) is not None:
            telemetry.BLOCKED_PARTITIONS.set(len(self.blocked))
            log.info(
                "partition %d: the state decodes now; it moves on",
                tp.partition,
                extra={"partition": tp.partition},
            )
        self.applied += effects.events
        telemetry.EVENTS.inc(effects.events)
        telemetry.TRANSACTIONS.inc()
        self._dead_lettered(effects.dead)

    def _dead_lettered(self, dead: Iterable[DeadLetter]) -> None:
        """Count and log each dead letter, with its coordinates and event id in the log's
        context (`deploy.logs`)."""
        for letter in dead:
            telemetry.DEAD_LETTERS.labels(telemetry.reason_label(letter.reason)).inc()
            logging.getLogger(f"podium.{self.process}").warning(
                "dead letter %s: %s",
                letter.id,
                letter.reason,
                extra={
                    "partition": letter.partition,
                    "offset": letter.offset,
                    "event_id": letter.event_id,
                },
            )

    # --- ownership ------------------------------------------------------------------------

    async def take(self, partitions: Iterable[int]) -> None:
        """Own these partitions: fence former owners, restore states, seek to committed.
        All or nothing: if any step fails, the producers it started are stopped, no
        partition is owned, and the error is raised (see `_Listener`)."""
        wanted = sorted(set(partitions) - set(self.owned))
        if not wanted:
            return
        started = time.monotonic()
        txns = [self.names.transactional_id(p) for p in wanted]
        producers = await start_producers(self.producer_config, txns)
        try:
            latest = await read_latest(self.producer_config.bootstrap, self.names.state, wanted)
            taken = [
                OwnedPartition(self.names, p, producer, StateStore(latest[p]))
                for p, producer in zip(wanted, producers, strict=True)
            ]
            for owned in taken:
                owned.position = await self._position_at_committed(owned.tp)
        except BaseException:
            for producer, txn in zip(producers, txns, strict=True):
                await stop_producer(producer, txn)
            raise
        for owned in taken:
            self.owned[owned.partition] = owned
            self.lost.pop(owned.partition, None)
        users = sum(len(latest[p]) for p in wanted)
        log.info(
            "took partitions %s: %d users restored in %.2f s",
            wanted,
            users,
            time.monotonic() - started,
            extra={"partitions": wanted},
        )

    async def _position_at_committed(self, tp: TopicPartition) -> int:
        """Put the consumer at the group's committed offset, read after our producer fenced
        former owners (so no transaction can still move it). aiokafka positions a newly
        assigned partition itself from an earlier read; wait for that and correct it."""
        committed = await self.consumer.committed(tp)
        if committed is None:
            committed = (await self.consumer.beginning_offsets([tp]))[tp]
        current = await asyncio.wait_for(self.consumer.position(tp), self.position_timeout_s)
        if current != committed:
            self.consumer.seek(tp, committed)
        return committed

    async def _drop(self, partitions: Iterable[int]) -> None:
        """Stop processing these partitions: nothing new starts for them, a transaction in
        flight commits (or fails) first, then their states go and their producers close.
        Their queued records are dropped: the next owner reads them from the committed
        offset."""
        partitions = list(partitions)
        dropped = [self.owned.pop(p, None) for p in partitions]
        for p in partitions:
            self.backlog.discard(p)
        running = [self.tasks[p] for p in partitions if p in self.tasks]
        if running:
            await asyncio.wait(running)
        for p in partitions:
            self.lost.pop(p, None)
            if self.blocked.pop(p, None) is not None:
                telemetry.BLOCKED_PARTITIONS.set(len(self.blocked))
        for owned in dropped:
            if owned is not None:
                await owned.close()

    def _pause(self, tp: TopicPartition) -> None:
        if tp in self.consumer.assignment():
            self.consumer.pause(tp)

    async def _lose(self, partition: int, err: Exception) -> None:
        owned = self.owned.pop(partition, None)
        telemetry.PARTITIONS_LOST.inc()
        log.warning(
            "partition %d lost (%s: %s); retaking later",
            partition,
            type(err).__name__,
            err,
            extra={"partition": partition},
        )
        self.backlog.discard(partition)  # read again from the committed offset when retaken
        self._pause(TopicPartition(self.input_topic, partition))
        self.lost[partition] = time.monotonic() + self.fence_backoff_s
        if owned is not None:
            await owned.close()

    async def _block(self, partition: int, blocked: Blocked) -> None:
        """Stop the partition before the event of a user whose state does not decode: the
        state's bytes stay untouched, the event and all after it wait (committed offset), and
        the partition is retaken after `blocked_retry_s` (restoring the states again: a fixed
        state written to the changelog, or a worker that can decode it, lets it move on)."""
        telemetry.STATES_UNDECODABLE.inc()
        self.blocked[partition] = blocked
        telemetry.BLOCKED_PARTITIONS.set(len(self.blocked))
        log.error(
            "partition %d waits at offset %d: the state of user %r does not decode (%s); "
            "nothing is overwritten, its events wait; retrying in %.0f s",
            partition,
            blocked.offset,
            blocked.user_id[:64],
            blocked.reason,
            self.blocked_retry_s,
            extra={"partition": partition, "offset": blocked.offset, "user_id": blocked.user_id},
        )
        owned = self.owned.pop(partition, None)
        self.backlog.discard(partition)  # the records after the blocked one wait too
        self._pause(TopicPartition(self.names.events, partition))
        self.lost[partition] = time.monotonic() + self.blocked_retry_s
        if owned is not None:
            await owned.close()

    async def _recover_lost(self) -> None:
        now = time.monotonic()
        # a partition whose task still runs (closing the lost producer) waits for it to end
        due = [p for p, at in self.lost.items() if at <= now and p not in self.tasks]
        if not due:
            return
        async with self.lock:
            assigned = {tp.partition for tp in self.consumer.assignment()}
            for p in due:
                self.lost.pop(p, None)
            mine = [p for p in due if p in assigned and p not in self.owned]
            try:
                await self.take(mine)
            except self.take_retriable as err:
                for p in mine:
                    self.lost[p] = time.monotonic() + self.fence_backoff_s
                log.warning("retaking %s failed: %s", mine, err, extra={"partitions": mine})
                return
            for p in mine:
                self.consumer.resume(TopicPartition(self.input_topic, p))


class _Listener(ConsumerRebalanceListener):
    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        with self.runner.pulse.wait("dropping partitions"):
            async with self.runner.lock:
                await self.runner._drop(tp.partition for tp in revoked)
        if revoked:
            parts = sorted(tp.partition for tp in revoked)
            log.info("revoked partitions %s", parts, extra={"partitions": parts})

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        """Take the assigned partitions. aiokafka logs and swallows what a listener raises
        (the partitions would stay assigned, neither owned nor retaken: their records skipped
        until the next rebalance), so nothing is raised here: a take the broker refused or
        did not answer in time loses the partitions, retaken after `fence_backoff_s` like
        those of a lost transaction; any other error ends the run (`failed`, raised by the
        loop)."""
        async with self.runner.lock:
            try:
                with self.runner.pulse.wait("taking partitions"):
                    await self.runner.take(tp.partition for tp in assigned)
            except self.runner.take_retriable as err:
                for tp in assigned:
                    if tp.partition not in self.runner.owned:
                        await self.runner._lose(tp.partition, err)
            except Exception as err:
                parts = sorted(tp.partition for tp in assigned)
                log.error("taking partitions %s failed (%r): the worker stops", parts, err)
                self.runner.failed = err
