"""The gateway's end of the answer channel (`schemas.answers`): a TCP listener to which the
workers push the answers of the events this gateway published, and the ranking stage the
movers' ranks. Each answer is handed to the `ProgressWaiter` (ready while the listener
listens) as soon as a worker has folded its event, each rank to the `RankWaiter` as soon as
the ranking stage has folded its score change. The gateway names the listener's address in
the header of each event it waits for (`address`); it reads no topic (neither
`podium.progress` nor `podium.leaderboards`), so an idle gateway costs the broker nothing.

- `ProgressWaiter`: resolves the futures of the requests a gateway process waits for by
  event id: the `Progress`, or `NotApplied` for an `EventRefused` (the worker dead-lettered
  the command).
- `RankWaiter`: collects the rank changes of those events, by the ids their progress names.

A connection that sends a frame that cannot be an answer (over `MAX_FRAME_BYTES`) is closed;
an answer nobody waits for any more is skipped by `take`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from schemas.answers import FRAME_LENGTH, MAX_FRAME_BYTES, is_rank
from schemas.leaderboards import RankChanged, decode_leaderboard_record, rank_cause
from schemas.records import EventRefused, Progress, decode_record, progress_event_id
from schemas.wire import InvalidRecord

log = logging.getLogger("podium.gateway")


class AnswerListener:
    def __init__(
        self,
        waiter: ProgressWaiter,
        host: str,
        port: int = 0,
        ranks: RankWaiter | None = None,
    ) -> None:
        """Listen on `host`:`port` (0: a free port, chosen at start); `host` is also the name
        the workers connect to, so it must be one they can reach. `ranks` None: the rules
        have no leaderboards, and a rank frame is skipped."""
        self.waiter = waiter
        self.ranks = ranks
        self.host = host
        self.port = port
        self.ready = False
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    @property
    def address(self) -> str:
        """`host:port` for the header, once started."""
        return f"{self.host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self.ready = self.waiter.ready = True
        log.info("answers listened for at %s", self.address)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections[task] = writer
        try:
            await self._read(reader)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the worker stopped or lost the connection (or we stop); it opens another
        finally:
            if task is not None:
                self._connections.pop(task, None)
            writer.close()

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while True:
            head = await reader.readexactly(FRAME_LENGTH.size)
            (size,) = FRAME_LENGTH.unpack(head)
            if size > MAX_FRAME_BYTES:
                log.warning("a frame of %d bytes is not an answer: connection closed", size)
                return
            raw = await reader.readexactly(size)
            if not is_rank(raw):
                self.waiter.take(raw)
            elif self.ranks is not None:
                self.ranks.take(raw)

    async def stop(self) -> None:
        """Close the listener and its connections (closed, not cancelled: asyncio 3.11 logs a
        cancelled connection handler as an error), then release the requests still waiting."""
        self.ready = self.waiter.ready = False
        if self._server is not None:
            self._server.close()
        for writer in self._connections.values():
            writer.close()  # the handler's read ends: IncompleteReadError
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=5.0)
        if self._server is not None:
            await self._server.wait_closed()
        self.waiter.stop()  # no answer can come now: release the requests still waiting
        if self.ranks is not None:
            self.ranks.stop()


class NotApplied(Exception):
    """The worker dead-lettered the command instead of folding it (`EventRefused`)."""

    def __init__(self, refused: EventRefused) -> None:
        super().__init__(refused.reason)
        self.refused = refused


class ProgressWaiter:
    """Resolves the futures of the requests this process waits for by event id, with the
    answers the workers push (`take`, called by the `AnswerListener`); an answer nobody waits
    for (any more) is skipped unparsed.

    An answer is pushed as soon as the worker has folded the event, before its transaction
    commits. The fold is deterministic over the partition's order and the event is in the log
    already, so a transaction that aborts (the worker crashed or was fenced) is redone by the
    next owner with the very same progress; only a rules change between the two makes them
    differ (docs/fast-path.md)."""

    def __init__(self) -> None:
        self.ready = False  # whether answers can reach it (its listener listens)
        self._pending: dict[str, asyncio.Future[Progress]] = {}

    def expect(self, event_id: str) -> asyncio.Future[Progress]:
        """A future for the Progress of `event_id`; register before publishing."""
        future: asyncio.Future[Progress] = asyncio.get_running_loop().create_future()
        self._pending[event_id] = future
        return future

    def forget(self, event_id: str) -> None:
        """Release `event_id`'s entry; a no-op once its Progress has resolved it."""
        future = self._pending.pop(event_id, None)
        if future is not None and not future.done():
            future.cancel()

    def take(self, raw: bytes) -> None:
        event_id = progress_event_id(raw)  # cheaper than decoding every other one's record
        if event_id is None:
            return
        future = self._pending.pop(event_id, None)
        if future is None or future.done():
            return
        try:
            record = decode_record(raw)
        except InvalidRecord as exc:
            future.set_exception(exc)
            return
        if isinstance(record, Progress):
            future.set_result(record)
        elif isinstance(record, EventRefused):
            future.set_exception(NotApplied(record))

    def stop(self) -> None:
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()


class _Ranks:
    """The mover's rank changes caused by one event, as they arrive."""

    __slots__ = ("arrived", "by_id")

    def __init__(self) -> None:
        self.by_id: dict[str, RankChanged] = {}
        self.arrived = asyncio.Event()


class RankWaiter:
    """Collects the movers' rank changes the ranking stage pushes for the events this process
    waits for (`take`, called by the listener). A rank change names its cause, the
    `ScoreChanged` id, which ends with the event id (the gateway's ids are hex, without a
    colon). Registered at publish time, before the event is written, so that no rank change
    can come first; the request learns which ones to wait for from its Progress
    (`Progress.scores`).

    A rank is pushed when the ranking stage has folded the score change, which it reads
    read_committed: after the worker's commit, before its own. Its fold is deterministic over
    its partition's order from committed rankings, so a transaction of its that aborts is
    redone with the same ranks, as for the progress."""

    def __init__(self) -> None:
        self._pending: dict[str, _Ranks] = {}

    def expect(self, event_id: str) -> None:
        self._pending[event_id] = _Ranks()

    def forget(self, event_id: str) -> None:
        self._pending.pop(event_id, None)

    async def ranks(
        self, event_id: str, ids: Sequence[str], within_s: float
    ) -> dict[str, RankChanged]:
        """The rank changes with these ids (a `ScoreChanged` id + ":rank") that arrive within
        `within_s`, by id; fewer when the ranking stage is late (or saw nothing to move)."""
        box = self._pending.get(event_id)
        if box is None:
            return {}
        deadline = asyncio.get_running_loop().time() + within_s
        while not all(i in box.by_id for i in ids):
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            box.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(box.arrived.wait(), left)
        return {i: box.by_id[i] for i in ids if i in box.by_id}

    def take(self, raw: bytes) -> None:
        cause = rank_cause(raw)
        if cause is not None and cause.rpartition(":")[2] not in self._pending:
            return  # nobody here waits for it (any more): skipped undecoded
        try:
            record = decode_leaderboard_record(raw)
        except InvalidRecord:
            return  # not the gateway's to judge: the topic's consumers dead-letter it
        if not isinstance(record, RankChanged):
            return
        box = self._pending.get(record.cause.rpartition(":")[2])
        if box is not None:
            box.by_id[record.id] = record
            box.arrived.set()

    def stop(self) -> None:
        self._pending.clear()
