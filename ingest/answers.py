"""The gateway's end of the answer channel (`schemas.answers`): a TCP listener to which the
workers push the answers of the events this gateway published, each handed to the
`ProgressWaiter` (ready while the listener listens) as soon as a worker has folded it. The
gateway names the listener's address in the header of each event it waits for (`address`);
it reads nothing of `podium.progress`, so an idle gateway costs the broker nothing.

A connection that sends a frame that cannot be an answer (over `MAX_FRAME_BYTES`) is closed;
an answer nobody waits for any more is skipped by `take`.
"""

from __future__ import annotations

import asyncio
import logging

from ingest.kafka import ProgressWaiter
from schemas.answers import FRAME_LENGTH, MAX_FRAME_BYTES

log = logging.getLogger("podium.gateway")


class AnswerListener:
    def __init__(self, waiter: ProgressWaiter, host: str, port: int = 0) -> None:
        """Listen on `host`:`port` (0: a free port, chosen at start); `host` is also the name
        the workers connect to, so it must be one they can reach."""
        self.waiter = waiter
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
            self.waiter.take(await reader.readexactly(size))

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
