"""The delivery schedule of one endpoint, Kafka-free: a lane per user (deliveries to one
endpoint stay in order per user, each retried in place with back-off before the next), any
number of lanes at once (a slow user's retries hold up nobody else), and the ledger of what
may be committed.

At least once: a fact record's offset is committable only once every delivery it caused
ended (delivered or dead-lettered); `Ledger.committable` gives, per partition, the first
offset with a delivery still open.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from ingest.webhooks.config import Retry
from ingest.webhooks.payloads import Outgoing

log = logging.getLogger("podium.webhooks")
Partition = tuple[str, int]  # (topic, partition)
DEAD_LETTER_RETRY_S = 1.0  # writing a dead letter failed (the broker is away): try again


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook to one endpoint, from the fact record at `part`/`offset`."""

    id: str
    part: Partition
    offset: int
    hook: Outgoing
    queued: float  # time.monotonic() when it was taken in


class Ledger:
    """Per partition, the offsets whose deliveries are not all ended, and the next offset."""

    def __init__(self) -> None:
        self._open: dict[Partition, dict[int, int]] = {}
        self._next: dict[Partition, int] = {}

    def add(self, part: Partition, offset: int, deliveries: int) -> None:
        """A record read (in offset order per partition), causing this many deliveries."""
        self._next[part] = offset + 1
        if deliveries:
            self._open.setdefault(part, {})[offset] = deliveries

    def settle(self, part: Partition, offset: int) -> None:
        """One delivery of the record ended (ignored when its partition was revoked)."""
        open_ = self._open.get(part)
        if open_ is None or offset not in open_:
            return
        open_[offset] -= 1
        if not open_[offset]:
            del open_[offset]

    def committable(self) -> dict[Partition, int]:
        """The offset to commit per partition: its first open record, else the next one."""
        out = {}
        for part, following in self._next.items():
            open_ = self._open.get(part)
            out[part] = next(iter(open_)) if open_ else following  # dicts keep offset order
        return out

    def drop(self, parts: Iterable[Partition]) -> None:
        """Forget revoked partitions (their new owner delivers their open records again)."""
        for part in parts:
            self._open.pop(part, None)
            self._next.pop(part, None)


Attempt = Callable[[Delivery], Awaitable[str | None]]  # None: delivered; else why it failed
DeadLetter = Callable[[Delivery, str, int], Awaitable[None]]  # (delivery, reason, attempts)


class Observer:
    """What the lanes report (the metrics, `ingest.webhooks.metrics`; a test's counts)."""

    def delivered(self) -> None: ...
    def failed(self) -> None: ...
    def retried(self) -> None: ...
    def dead_lettered(self) -> None: ...


class Lanes:
    """The lanes of one endpoint."""

    def __init__(
        self,
        attempt: Attempt,
        dead: DeadLetter,
        settle: Callable[[Delivery], None],
        retry: Retry,
        concurrency: int = 32,
        observer: Observer | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._attempt, self._dead, self._settle = attempt, dead, settle
        self.retry = retry
        self._slots = asyncio.Semaphore(concurrency)
        self._observer = observer or Observer()
        self._sleep = sleep
        self._lanes: dict[str, deque[Delivery]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self.pending = 0

    def submit(self, delivery: Delivery) -> None:
        """Queue a delivery behind the user's earlier ones."""
        user = delivery.hook.user_id
        lane = self._lanes.get(user)
        if lane is None:
            lane = self._lanes[user] = deque()
            self._tasks[user] = asyncio.create_task(self._run(user, lane))
        lane.append(delivery)
        self.pending += 1
        self._idle.clear()

    async def drained(self) -> None:
        """Return once every delivery taken in has ended."""
        await self._idle.wait()

    def oldest_pending_s(self, now: float | None = None) -> float:
        """How long the oldest delivery not yet ended has waited (0: none)."""
        heads = [lane[0].queued for lane in self._lanes.values() if lane]
        return 0.0 if not heads else (now or time.monotonic()) - min(heads)

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, user: str, lane: deque[Delivery]) -> None:
        try:
            while lane:
                delivery = lane[0]
                await self._deliver(delivery)
                lane.popleft()
                self.pending -= 1
                self._settle(delivery)
                if not self.pending:
                    self._idle.set()
        finally:  # no await between the empty lane and here: a submit cannot slip in
            del self._lanes[user], self._tasks[user]

    async def _deliver(self, delivery: Delivery) -> None:
        """Attempt, and retry after each delay; dead-letter when every attempt failed."""
        delays = self.retry.delays_s
        reason = ""
        for tried in range(self.retry.attempts):
            async with self._slots:
                reason = await self._attempt(delivery) or ""
            if not reason:
                self._observer.delivered()
                return
            self._observer.failed()
            if tried < len(delays):
                self._observer.retried()
                await self._sleep(delays[tried])
        await self._dead_letter(delivery, reason)

    async def _dead_letter(self, delivery: Delivery, reason: str) -> None:
        while True:
            try:
                await self._dead(delivery, reason, self.retry.attempts)
            except Exception:
                log.exception("could not write the dead letter of %s: retrying", delivery.id)
                await self._sleep(DEAD_LETTER_RETRY_S)
                continue
            self._observer.dead_lettered()
            return
