"""The worker's end of the answer channel (`schemas.answers`): each folded event's answer is
written to the gateway that waits for it the moment the fold has it, before the commit.

One connection per gateway address, opened on the first answer for it. `push` never waits:
it hands the frames to the connection's transport (or, while connecting, to a small buffer)
and returns, so the fold's loop never stalls on a gateway. An answer is best-effort: when a
gateway cannot be reached (retried `retry_after_s` later), or more than `max_buffered` bytes
wait for one, the answers for it are dropped and counted, and its requests answer 201 with
`pending: true` as when the worker is late. Nothing is pushed that will not be committed
unless the commit fails, and then the next owner redoes the fold with the same result
(docs/fast-path.md, "Answers leave at the fold").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable

from processors.runtime import telemetry
from schemas.answers import encode_frames, parse_address

log = logging.getLogger("podium.worker")
Clock = Callable[[], float]


class AnswerPusher:
    def __init__(
        self,
        *,
        max_buffered: int = 4 * 1024 * 1024,
        connect_timeout_s: float = 2.0,
        retry_after_s: float = 1.0,
        forget_after_s: float = 60.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.max_buffered = max_buffered
        self.connect_timeout_s = connect_timeout_s
        self.retry_after_s = retry_after_s
        self.forget_after_s = forget_after_s
        self.clock = clock
        self.links: dict[str, _Link] = {}
        self._swept = clock()

    def push(self, answers: Iterable[tuple[str, bytes]]) -> None:
        """Send each (gateway address, encoded answer) without waiting."""
        by_address: dict[str, list[bytes]] = {}
        for address, raw in answers:
            by_address.setdefault(address, []).append(raw)
        now = self.clock()
        for address, raws in by_address.items():
            link = self.links.get(address)
            if link is None:
                link = self.links[address] = _Link(address, self)
            link.send(encode_frames(raws), len(raws), now)
        if now - self._swept > self.forget_after_s:
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        """Close the links no answer went to for `forget_after_s` (a gateway that stopped or
        restarted listens at another address)."""
        self._swept = now
        for address, link in list(self.links.items()):
            if now - link.used > self.forget_after_s:
                link.close()
                del self.links[address]

    async def close(self) -> None:
        for link in self.links.values():
            link.close()
        await asyncio.gather(*(link.closed() for link in self.links.values()))
        self.links.clear()


class _Link:
    """One gateway's connection: open, opening (frames wait in `pending`), or down until
    `down_until` (frames are dropped)."""

    def __init__(self, address: str, pusher: AnswerPusher) -> None:
        self.address = address
        self.pusher = pusher
        self.used = pusher.clock()
        self.down_until = 0.0
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.opening: asyncio.Task[None] | None = None
        self.pending = bytearray()
        self.pending_count = 0

    def send(self, data: bytes, count: int, now: float) -> None:
        self.used = now
        writer = self.writer
        if writer is not None and self._open(writer):
            if writer.transport.get_write_buffer_size() + len(data) > self.pusher.max_buffered:
                _dropped(count)  # the gateway does not read: its requests answer pending
                return
            writer.write(data)
            telemetry.ANSWERS_PUSHED.inc(count)
            return
        if now < self.down_until:
            _dropped(count)
            return
        if len(self.pending) + len(data) > self.pusher.max_buffered:
            _dropped(count)
            return
        self.pending += data
        self.pending_count += count
        if self.opening is None:
            self.opening = asyncio.create_task(self._connect(), name=f"answers {self.address}")

    def _open(self, writer: asyncio.StreamWriter) -> bool:
        """Whether the connection still carries answers; a closed one is let go, and the
        next answer opens another (the gateway restarted at the same address)."""
        if not writer.is_closing() and not (self.reader is not None and self.reader.at_eof()):
            return True
        writer.close()
        self.reader = self.writer = None
        return False

    async def _connect(self) -> None:
        host, port = parse_address(self.address)
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), self.pusher.connect_timeout_s
            )
        except (OSError, TimeoutError) as exc:
            log.warning("cannot push answers to the gateway at %s: %s", self.address, exc)
            self.down_until = self.pusher.clock() + self.pusher.retry_after_s
            _dropped(self.pending_count)
        else:
            self.reader, self.writer = reader, writer
            writer.write(bytes(self.pending))
            telemetry.ANSWERS_PUSHED.inc(self.pending_count)
        finally:
            self.pending.clear()
            self.pending_count = 0
            self.opening = None

    def close(self) -> None:
        if self.opening is not None:
            self.opening.cancel()
        if self.writer is not None:
            self.writer.close()

    async def closed(self) -> None:
        if self.opening is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.opening
        if self.writer is not None:
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()


def _dropped(count: int) -> None:
    if count:
        telemetry.ANSWERS_DROPPED.inc(count)
