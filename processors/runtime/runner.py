"""The stream runtime: fetch → fold → answer → commit, for the worker and the ranking stage
(`stages.WorkerStage`, `stages.RankStage`), on confluent-kafka (librdkafka).

One consumer (read_committed, no auto commit, cooperative-sticky) and ONE transactional
producer per process, its transactional id stable per process (`PODIUM_WORKER_ID`): a
restarted process's `init_transactions` aborts its former incarnation's open transaction at
once. A zombie (a process the group has moved on from) cannot commit: every transaction sends
its input offsets with the consumer's group metadata (KIP-447), and the coordinator refuses
offsets of an older generation, aborting the whole transaction.

A record's way, all in this module:
1. fetch (`_fetch`, in the consumer's thread: librdkafka's calls block): what is fetched
   already, or the first record to arrive within 0.1 s and what came with it;
2. fold (`_fold`, on the event loop): each owned partition's records go through the stage's
   fold into the uncommitted `Outbox`: its states (each key's last value), its records in
   order, its input offsets; the fold never waits for a commit;
3. answer: each folded event's answer (the ranking stage: each mover's rank) is pushed to the
   gateway its record names (`answers.AnswerPusher`) right after the fold, before the commit;
4. commit (`_commit_loop`, a task): every `commit_interval_s` after the outbox's first entry,
   `awaited_commit_s` after a request first waits on it (a rank: the ranker reads the worker's
   score changes once committed), or at once when it holds `commit_bound` records, the outbox
   is swapped for an empty one and committed in one transaction (begin, produce,
   send_offsets_to_transaction, commit) in the producer's thread, while the fold goes on into
   the next outbox. If that one reaches the bound before the commit ends, the fold waits
   (`_wait_for_room`): when commits stall, folding and answers stop, so nothing is answered
   that cannot be committed.

Failures. A commit that fails (refused, fenced, aborted, timed out) breaks the runtime
(`broken`): the transaction is aborted, its producer is replaced (after `fence_backoff_s`
when it was fenced or could not abort), every owned partition's state and the uncommitted
outbox are dropped, and each partition is taken again from its committed offset
(`_recover`). An answer already pushed is the one the redo gives: the fold is deterministic
over the partition's order from committed state.

Ownership. On assignment (`_on_assign`, inside a fetch) the committed offsets are read
first (under read_committed librdkafka waits for a former owner's pending transactional
offsets), then the states are restored from the stage's changelog, then the consumer starts
at exactly those offsets. On revocation (`_on_revoke`) what is buffered is committed first,
then the revoked partitions' states go. Partitions lost (the group moved on without us) cannot
commit: the runtime breaks as above. A take that fails in a way that may pass (the broker,
or a changelog entry that does not decode for the ranker) pauses its partitions, retried
after `fence_backoff_s`. A partition that reaches the event of a user whose state does not
decode (`Folded.blocked`) commits what came before, then waits paused at that event and is
taken again after `blocked_retry_s` (docs/runtime.md, "A state that does not decode").
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Message, TopicPartition

from processors.runtime import telemetry
from processors.runtime.answers import AnswerPusher
from processors.runtime.batch import Blocked
from processors.runtime.changelog import read_latest
from processors.runtime.health import Pulse
from processors.runtime.outbox import Outbox
from processors.runtime.producing import CommitFailed, Producer, client_configs, transact
from processors.runtime.stages import Folded, Headers, Rec, Stage
from schemas.records import DeadLetter

T = TypeVar("T")
log = logging.getLogger("podium.runtime")
IDLE_POLL_S = 0.1  # how long a fetch waits for a first record
# A take that may pass when tried again: the broker refused it or did not answer in time.
TAKE_RETRIABLE: tuple[type[Exception], ...] = (KafkaException, TimeoutError)


@dataclass(frozen=True)
class RuntimeConfig:
    bootstrap: str
    transactional_id: str  # stable per process, never shared by two live processes
    session_timeout_ms: int = 10_000
    transaction_timeout_ms: int = 10_000
    retry_backoff_ms: int = 20  # CONCURRENT_TRANSACTIONS retried as the Java client does
    max_records: int = 50_000  # records per fetch
    commit_interval_s: float = 0.1
    # how soon a commit follows once a request waits on it (a rank: the ranker reads the
    # worker's score changes once committed); the cadence stays commit_interval_s without one
    awaited_commit_s: float = 0.02
    commit_bound: int = 50_000  # outbox records that make a commit due (and pause the fold)
    fence_backoff_s: float = 3.0
    blocked_retry_s: float = 30.0

    @property
    def commit_timeout_s(self) -> float:
        """A transactional call still unanswered after twice the transaction timeout has
        failed (the broker aborts an open transaction after one)."""
        return 2 * self.transaction_timeout_ms / 1000


class Runtime:
    def __init__(
        self,
        stage: Stage,
        config: RuntimeConfig,
        *,
        pusher: AnswerPusher | None = None,
        consumer: Consumer | None = None,
        new_producer: Callable[[], Producer] | None = None,
    ) -> None:
        consumer_config, producer_config = client_configs(config, stage.group)
        self.stage = stage
        self.config = config
        self.pusher = pusher  # None: nothing answered
        self.consumer = consumer if consumer is not None else Consumer(consumer_config)
        self.new_producer = new_producer or functools.partial(Producer, producer_config)
        self.producer: Producer | None = None
        self.outbox = Outbox()
        self.position: dict[int, int] = {}  # owned partition -> the next offset to fold
        self.waiting: dict[int, float] = {}  # assigned, not owned partition -> retry time
        self.blocked: dict[int, Blocked] = {}  # partition -> the user it waits at
        self.broken: BaseException | None = None  # a failed commit: nothing uncommitted holds
        self.committing: asyncio.Task[None] | None = None
        self.hurry = False  # commit what is buffered now, not at the cadence
        self.wake = asyncio.Event()  # the commit loop: the outbox is full or awaited, or hurry
        self.swapped = asyncio.Event()  # the fold: a commit took the outbox
        self.fetcher = ThreadPoolExecutor(1, "podium-fetch")  # every consumer call
        self.committer = ThreadPoolExecutor(1, "podium-commit")  # every producer call
        self.loop: asyncio.AbstractEventLoop | None = None
        self.group_meta: object = None  # the consumer's group metadata, as of its last call
        self.pulse = Pulse()  # what the probes see: polls, owned partitions, known waits
        self.pulse.owned = self.position.keys()
        self.fold_seconds = telemetry.FOLD_SECONDS.labels(stage.name)
        self.commit_seconds = telemetry.COMMIT_SECONDS.labels(stage.name)
        self.transaction_records = telemetry.TRANSACTION_RECORDS.labels(stage.name)
        self.applied = 0  # events (score changes) committed
        self.retriable = (*TAKE_RETRIABLE, *stage.restore_retriable)

    @property
    def last_poll(self) -> float:
        """When the last fetch returned (monotonic)."""
        return self.pulse.last_poll

    @property
    def owned(self) -> frozenset[int]:
        """The input partitions this process folds now."""
        return frozenset(self.position)

    # --- the loop -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        self.loop = asyncio.get_running_loop()
        await self._in(self.committer, self._start_producer)
        self.consumer.subscribe(
            [self.stage.input_topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        try:
            while not stop.is_set():
                await self._step()
            await self._flush()
        except BaseException as err:
            self.broken = self.broken or err  # nothing more is committed on the way out
            raise
        finally:
            await self._close()

    async def _step(self) -> None:
        if self.broken is not None:
            with self.pulse.wait("taking partitions again"):
                await self._recover()
        with self.pulse.wait("taking partitions"):
            await self._retry_waiting()
        messages = await self._in(self.fetcher, self._fetch)
        self.pulse.polled()
        if messages and self.broken is None:
            self._fold(messages)
        if self.outbox and self.committing is None and self.broken is None:
            self.committing = asyncio.create_task(self._commit_loop(), name="commit")
        await self._wait_for_room()

    def _fetch(self) -> list[Message]:
        """What is fetched already; if nothing, the first record to arrive within
        `IDLE_POLL_S` and what came with it. Runs in the consumer's thread."""
        try:
            most = self.config.max_records
            messages = self.consumer.consume(most, timeout=0)
            if messages:
                return messages
            first = self.consumer.poll(IDLE_POLL_S)
            if first is None:
                return []
            return [first, *self.consumer.consume(most - 1, timeout=0)]
        finally:
            self._note_generation(self.consumer)

    def _note_generation(self, consumer: Consumer) -> None:
        """Keep the group metadata (member, generation) the next transaction sends with its
        offsets. Read here, in the consumer's thread: confluent-kafka lets one thread into
        the consumer at a time, so the producer's thread asking for it waited out every
        fetch, and during a rebalance (whose revocation waits for that very commit) until
        the commit gave up."""
        self.group_meta = consumer.consumer_group_metadata()

    def _fold(self, messages: Sequence[Message]) -> None:
        by_partition: dict[int, list[Rec]] = {}
        for msg in messages:
            if msg.error() is not None:
                self._fetch_error(msg)
                continue
            p, rec = _rec(msg)
            at = self.position.get(p)
            if at is None or rec.offset < at:
                continue  # not owned (revoked, waiting), or already folded
            by_partition.setdefault(p, []).append(rec)
        now = time.monotonic()
        awaited = self.outbox.awaited
        for p, records in by_partition.items():
            with telemetry.timed(self.fold_seconds):
                folded = self.stage.fold(p, records, self.outbox)
            if self.pusher is not None and folded.answers:
                self.pusher.push(folded.answers)  # before the commit: see the docstring
            if folded.next_offset > self.position[p]:
                self.outbox.advance(p, folded.next_offset, folded.events, now)
                self.position[p] = folded.next_offset
            _dead_letters(self.stage.name, folded.dead)
            self._after(p, folded)
        if self.outbox.awaited and not awaited:
            self.wake.set()  # a commit loop waiting for the cadence commits sooner

    def _after(self, partition: int, folded: Folded) -> None:
        if folded.blocked is not None:
            self._block(partition, folded.blocked)
        elif self.blocked.pop(partition, None) is not None:
            telemetry.BLOCKED_PARTITIONS.set(len(self.blocked))
            log.info("partition %d: the state decodes now; it moves on", partition)

    def _fetch_error(self, msg: Message) -> None:
        err = msg.error()
        if err is not None and err.fatal():
            raise KafkaException(err)
        log.warning("fetch error on partition %s: %s", msg.partition(), err)

    # --- commits --------------------------------------------------------------------------

    async def _wait_for_room(self) -> None:
        """The fold waits while the outbox behind an unfinished commit holds `commit_bound`
        records, until a commit takes it."""
        while self.outbox.size >= self.config.commit_bound and self.broken is None:
            if self.committing is None:
                self.committing = asyncio.create_task(self._commit_loop(), name="commit")
            self.swapped.clear()
            self.wake.set()
            with self.pulse.wait("the commit behind a full outbox"):
                await self.swapped.wait()

    async def _commit_loop(self) -> None:
        """Commit the outbox when it is due, one transaction at a time, until it is empty."""
        config = self.config
        try:
            while self.outbox and self.broken is None:
                box = self.outbox
                due = box.due_at(config.commit_interval_s, config.awaited_commit_s)
                wait = due - time.monotonic()
                if not self.hurry and wait > 0 and box.size < config.commit_bound:
                    self.wake.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(wait):
                            await self.wake.wait()
                    continue
                self.outbox = Outbox()
                self.swapped.set()
                await self._commit(box)
        finally:
            self.committing = None
            self.swapped.set()

    async def _commit(self, box: Outbox) -> None:
        """Commit the outbox; a commit still unanswered after `commit_timeout_s` is given up
        with its producer and thread: a new producer fences the old one. (After a broker
        restart an abort was seen to hang for ten minutes, and `send_offsets_to_transaction`
        past its own timeout, like librdkafka #5511.)"""
        started = time.monotonic()
        try:
            with telemetry.timed(self.commit_seconds):
                async with asyncio.timeout(self.config.commit_timeout_s):
                    await self._in(self.committer, functools.partial(self._transact, box))
        except TimeoutError as err:
            self.producer = None
            self.committer.shutdown(wait=False)
            self.committer = ThreadPoolExecutor(1, "podium-commit")
            self._break(err)
            return
        except Exception as err:
            self._break(err)
            return
        self.applied += box.events
        self.transaction_records.observe(box.events)
        if self.stage.name == "worker":  # the ranker's are score changes, not events
            telemetry.EVENTS.inc(box.events)
        telemetry.TRANSACTIONS.inc()
        log.debug("committed %d records in %.3f s", box.size, time.monotonic() - started)

    def _transact(self, box: Outbox) -> None:
        """One transaction: the outbox's records and its input offsets (producer's thread)."""
        producer = self.producer
        if producer is None:
            raise RuntimeError("no producer: the last one was fenced or failed")
        topic = self.stage.input_topic
        offsets = [TopicPartition(topic, p, at) for p, at in box.offsets.items()]
        meta = self.group_meta  # noted by the consumer's thread (`_note_generation`)
        try:
            transact(producer, box.produced(), offsets, meta)
        except CommitFailed as failed:
            if failed.replace and self.producer is producer:  # not one given up on already
                self.producer = None  # fenced, or its transaction's end unknown: a new one
            raise

    def _start_producer(self) -> None:
        producer = self.new_producer()
        producer.init_transactions(self.config.commit_timeout_s)
        self.producer = producer

    def _replace_producer(self) -> None:
        """A new producer, even when the last one aborted cleanly (producer's thread, where the
        old one is destroyed): after a broker restart, librdkafka's abort with an epoch bump
        (OUT_OF_ORDER_SEQUENCE_NUMBER) left the next transaction's send_offsets_to_transaction
        hanging until the commit timed out (like librdkafka #5511). Commits rarely fail; the new
        producer's init_transactions costs one round trip to the coordinator."""
        self.producer = None
        self._start_producer()

    def _break(self, err: BaseException) -> None:
        """Nothing uncommitted holds any more: no commit, no fold until `_recover`."""
        if self.broken is None:
            self.broken = err
            log.warning("commit failed (%s: %s)", type(err).__name__, err)
        self.outbox = Outbox()
        self.wake.set()  # a commit loop waiting for the cadence ends

    async def _flush(self) -> None:
        """Commit everything folded so far, now."""
        self.hurry = True
        try:
            while self.broken is None and (self.outbox or self.committing is not None):
                if self.committing is None:
                    self.committing = asyncio.create_task(self._commit_loop(), name="commit")
                self.wake.set()
                await asyncio.shield(self.committing)
        finally:
            self.hurry = False

    async def _recover(self) -> None:
        """After a failed commit: drop every owned partition's state and the outbox, replace
        a producer that cannot go on, and take the partitions again from their commits."""
        if self.committing is not None:
            await asyncio.shield(self.committing)
        self.outbox = Outbox()
        if self.position:
            partitions = sorted(self.position)
            self._drop(partitions)
            telemetry.PARTITIONS_LOST.inc(len(partitions))
            log.warning("partitions %s: uncommitted work dropped, taken again", partitions)
        if self.producer is None:  # fenced, or it could not abort: give the fence time
            await asyncio.sleep(self.config.fence_backoff_s)
        try:
            await self._in(self.committer, self._replace_producer)
        except KafkaException as err:
            log.warning("a new transactional producer failed to start: %s", err)
            return  # still broken: tried again at the next step
        self.broken = None
        await self._retake([tp.partition for tp in self.consumer.assignment()])

    # --- ownership ------------------------------------------------------------------------

    def _take(self, partitions: Sequence[int], *, assign: bool) -> None:
        """Own these partitions from their committed transactions: offsets first, then the
        states, then the consumer at those offsets (assigned, or sought and resumed).
        Runs in the consumer's thread."""
        started = time.monotonic()
        topic = self.stage.input_topic
        asked = [TopicPartition(topic, p) for p in partitions]
        committed = self.consumer.committed(asked, timeout=60) if asked else []
        latest = self._on_loop(read_latest(self.config.bootstrap, self.stage.changelog, partitions))
        try:
            for p in partitions:
                self.stage.restore(p, latest[p])
        except BaseException:
            for p in partitions:
                self.stage.drop(p)
            raise
        at = [
            TopicPartition(topic, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_BEGINNING)
            for tp in committed
        ]
        for tp in at:
            self.position[tp.partition] = max(tp.offset, 0)
            self.waiting.pop(tp.partition, None)
        if assign:
            self.consumer.incremental_assign(at)
        else:
            for tp in at:
                self.consumer.seek(tp)
            self.consumer.resume(at)
        took = time.monotonic() - started
        what = self.stage.restored(partitions)
        log.info(
            "took partitions %s: %s restored in %.2f s",
            list(partitions),
            what,
            took,
            extra={"partitions": list(partitions)},
        )

    async def _retake(self, partitions: Sequence[int]) -> None:
        assigned = {tp.partition for tp in self.consumer.assignment()}
        busy = {*self.position, *self.waiting}  # owned, or waiting for their retry
        mine = [p for p in partitions if p in assigned and p not in busy]
        if not mine:
            return
        try:
            await self._in(self.fetcher, functools.partial(self._take, mine, assign=False))
        except self.retriable as err:
            self._wait(mine, self.config.fence_backoff_s, err)

    async def _retry_waiting(self) -> None:
        now = time.monotonic()
        due = [p for p, at in self.waiting.items() if at <= now]
        if due:
            await self._flush()  # what they committed before they stopped, first
            for p in due:
                self.waiting.pop(p, None)
            if self.broken is None:
                await self._retake(due)

    def _wait(self, partitions: Sequence[int], delay_s: float, why: object) -> None:
        """Pause these partitions, to be taken again after `delay_s`."""
        topic = self.stage.input_topic
        with contextlib.suppress(KafkaException):  # not assigned any more: nothing to pause
            self.consumer.pause([TopicPartition(topic, p) for p in partitions])
        for p in partitions:
            self.waiting[p] = time.monotonic() + delay_s
        log.warning("partitions %s wait %.1f s: %s", list(partitions), delay_s, why)

    def _block(self, partition: int, blocked: Blocked) -> None:
        """Stop the partition before the event of a user whose state does not decode: the
        state's bytes stay untouched, the event and all after it wait, and the partition is
        taken again after `blocked_retry_s` (a fixed state, or a release that decodes it,
        lets it move on)."""
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
            self.config.blocked_retry_s,
            extra={"partition": partition, "offset": blocked.offset, "user_id": blocked.user_id},
        )
        self.stage.drop(partition)
        self.position.pop(partition, None)
        self._wait([partition], self.config.blocked_retry_s, "blocked")

    def _drop(self, partitions: Sequence[int]) -> None:
        for p in partitions:
            self.stage.drop(p)
            self.position.pop(p, None)
            self.waiting.pop(p, None)
            if self.blocked.pop(p, None) is not None:
                telemetry.BLOCKED_PARTITIONS.set(len(self.blocked))

    # --- rebalance callbacks: in the consumer's thread, inside a fetch ----------------------

    def _on_assign(self, consumer: Consumer, assigned: list[TopicPartition]) -> None:
        self._note_generation(consumer)
        partitions = sorted(tp.partition for tp in assigned)
        try:
            with self.pulse.wait("taking partitions"):
                self._take(partitions, assign=True)
        except self.retriable as err:
            consumer.incremental_assign(assigned)
            self._wait(partitions, self.config.fence_backoff_s, err)

    def _on_revoke(self, consumer: Consumer, revoked: list[TopicPartition]) -> None:
        """Commit what is buffered, then let the partitions go (the next owner reads from
        the committed offsets)."""
        self._note_generation(consumer)
        with self.pulse.wait("committing before a revocation"):
            self._on_loop(self._flush())
        partitions = sorted(tp.partition for tp in revoked)
        self._drop(partitions)
        if partitions:
            log.info("revoked partitions %s", partitions, extra={"partitions": partitions})

    def _on_lost(self, consumer: Consumer, lost: list[TopicPartition]) -> None:
        """The group moved on without us: nothing buffered can commit any more."""
        partitions = sorted(tp.partition for tp in lost)
        self._on_loop(self._lose(partitions))
        log.warning("lost partitions %s", partitions)

    async def _lose(self, partitions: Sequence[int]) -> None:
        self._break(RuntimeError(f"partitions {list(partitions)} lost"))
        self._drop(partitions)

    # --- threads --------------------------------------------------------------------------

    async def _in(self, executor: ThreadPoolExecutor, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(executor, call)

    def _on_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the event loop from the consumer's thread, and wait for it."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    async def _close(self) -> None:
        with contextlib.suppress(Exception):
            await self._in(self.fetcher, self.consumer.close)  # revokes: commits what it may
        if self.committing is not None:
            await asyncio.wait([self.committing])
        self.fetcher.shutdown(wait=False)
        self.committer.shutdown(wait=False)


def _rec(msg: Message) -> tuple[int, Rec]:
    """A fetched message's partition, and the message as the folds read it."""
    headers = cast(Headers | None, msg.headers())  # a consumer's are a list of (str, bytes)
    return cast(int, msg.partition()), Rec(cast(int, msg.offset()), msg.key(), msg.value(), headers)


def _dead_letters(process: str, dead: list[DeadLetter]) -> None:
    """Count and log each dead letter, with its coordinates and event id in the log's
    context (`deploy.logs`), on its process's logger."""
    for letter in dead:
        telemetry.DEAD_LETTERS.labels(telemetry.reason_label(letter.reason)).inc()
        logging.getLogger(f"podium.{process}").warning(
            "dead letter %s: %s",
            letter.id,
            letter.reason,
            extra={
                "partition": letter.partition,
                "offset": letter.offset,
                "event_id": letter.event_id,
            },
        )
