"""The live page's feed hub: the facts of the derived topics, as lines for the pages that
listen (`ingest.routes_dashboard` streams them as server-sent events).

The hub reads the topics only while a page listens: the first subscriber starts its source
(`ingest.live.TopicFacts`: `podium.achievements`, `podium.streaks`, `podium.points` and
`podium.leaderboards`, from their end), the last one to leave stops it, so an idle gateway
costs the broker nothing. A source that fails (the broker went away) is started again after
a second while pages listen; they see the feed's `live` flag drop meanwhile.

Each subscriber sees only its tenant's facts (`ingest.http.dashboard.feed_item` says whose a
fact is). A page that does not keep up loses lines rather than holding the others up: its
queue is bounded, and the lines it missed are counted and said.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

import msgspec

from ingest.http.dashboard import Fact, FeedItem, feed_item
from schemas.rules import Rules

log = logging.getLogger("podium.gateway")
QUEUE_SIZE = 256  # lines a page may be behind before it loses some
RESTART_AFTER_S = 1.0


class FactSource(Protocol):
    """Reads the facts from the topics' end: `run` calls `ready()` once positioned, then
    `take(fact)` for each fact, until cancelled (or it fails)."""

    async def run(self, take: Callable[[Fact], None], ready: Callable[[], None]) -> None: ...


class NoFacts:
    """A source that is positioned at once and never reads a fact: the feed of a gateway
    built without a broker (the component tier's)."""

    async def run(self, take: Callable[[Fact], None], ready: Callable[[], None]) -> None:
        ready()
        await asyncio.Event().wait()


@dataclass(eq=False)
class Subscriber:
    """One listening page: its tenant, its queue of lines, and the lines it missed."""

    tenant: str | None
    queue: asyncio.Queue[FeedItem] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    missed: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)  # the live flag moved

    def put(self, item: FeedItem) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.missed += 1


class LiveFeed:
    def __init__(self, source: FactSource, rules: Rules) -> None:
        self.source = source
        self.rules = rules
        self.live = False  # the source is positioned at the topics' end and reading
        self._subscribers: set[Subscriber] = set()
        self._task: asyncio.Task[None] | None = None

    @property
    def pages(self) -> int:
        return len(self._subscribers)

    @property
    def reading(self) -> bool:
        return self._task is not None

    @contextlib.asynccontextmanager
    async def subscribe(self, tenant: str | None) -> AsyncIterator[Subscriber]:
        """A page listening for `tenant`'s lines while the context lasts."""
        sub = Subscriber(tenant)
        self._subscribers.add(sub)
        if self._task is None:
            self._task = asyncio.create_task(self._read(), name="live-feed")
        try:
            yield sub
        finally:
            self._subscribers.discard(sub)
            if not self._subscribers:
                await self.stop()

    async def stop(self) -> None:
        task, self._task = self._task, None
        self._set_live(False)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _read(self) -> None:
        """Run the source while pages listen, starting it again after a failure."""
        while True:
            try:
                await self.source.run(self._take, lambda: self._set_live(True))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("the live feed's reader stopped (%s); reading again", exc)
            self._set_live(False)
            await asyncio.sleep(RESTART_AFTER_S)

    def _set_live(self, live: bool) -> None:
        if live != self.live:
            self.live = live
            for sub in self._subscribers:
                sub.changed.set()

    def _take(self, fact: Fact) -> None:
        found = feed_item(fact, self.rules)
        if found is None:
            return
        tenant, item = found
        for sub in self._subscribers:
            if sub.tenant == tenant:
                sub.put(item)


async def next_lines(
    sub: Subscriber, within_s: float, names: Callable[[list[str]], Awaitable[list[str | None]]]
) -> list[FeedItem]:
    """The lines waiting for `sub` (at least one, or none after `within_s` or when the live
    flag moves), with their users' names filled in from the views."""
    items: list[FeedItem] = []
    if sub.queue.empty():
        sub.changed.clear()
        got = asyncio.ensure_future(sub.queue.get())
        moved = asyncio.ensure_future(sub.changed.wait())
        await asyncio.wait((got, moved), timeout=within_s, return_when=asyncio.FIRST_COMPLETED)
        moved.cancel()
        if got.done():
            items.append(got.result())
        else:
            got.cancel()
    while not sub.queue.empty():
        items.append(sub.queue.get_nowait())
    if items:
        users = sorted({i.user_id for i in items})
        named = dict(zip(users, await names(users), strict=True))
        items = [msgspec.structs.replace(i, user_name=named[i.user_id]) for i in items]
    return items
