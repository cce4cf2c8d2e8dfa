"""The answer channel end to end on loopback, no broker: the worker's `AnswerPusher` writes
to the gateway's `AnswerListener`, which hands each answer to the real `ProgressWaiter`.

An answer reaches the request waiting for its event (and one nobody waits for is skipped);
a frame too large to be an answer closes its connection; an unreachable gateway costs the
pusher nothing but dropped answers (counted, retried after `retry_after_s`); a gateway that
restarts at the same address gets answers again on a new connection."""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import pytest

from ingest.answers import AnswerListener, NotApplied, ProgressWaiter
from processors.runtime import telemetry
from processors.runtime.answers import AnswerPusher
from schemas.answers import MAX_FRAME_BYTES
from schemas.records import EventRefused, Progress, encode_record
from tests.component.fakes import NOW_MS


def progress(event_id: str, total: int = 7) -> bytes:
    return encode_record(
        Progress(
            id=f"u1:progress:{event_id}",
            event_id=event_id,
            user_id="u1",
            command="metric",
            time_ms=NOW_MS,
            metric="words-written",
            total=Decimal(total),
        )
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def until(condition: Callable[[], object], within_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "not reached in time"
        await asyncio.sleep(0.005)


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[ProgressWaiter, AnswerListener]]:
    waiter = ProgressWaiter()
    listener = AnswerListener(waiter, "127.0.0.1")
    await listener.start()
    assert waiter.ready
    yield waiter, listener
    await listener.stop()
    waiter.stop()


def counted(counter: object) -> float:
    return counter._value.get()  # type: ignore[attr-defined]


async def test_a_pushed_answer_resolves_the_waiting_request(
    gateway: tuple[ProgressWaiter, AnswerListener],
) -> None:
    waiter, listener = gateway
    assert listener.port > 0 and listener.address == f"127.0.0.1:{listener.port}"
    first, second = waiter.expect("ev-1"), waiter.expect("ev-2")
    pusher = AnswerPusher()
    try:
        pusher.push([(listener.address, progress("ev-9")), (listener.address, progress("ev-1", 3))])
        got = await asyncio.wait_for(first, 5)
        assert (got.event_id, got.total) == ("ev-1", 3)
        assert not second.done() and "ev-9" not in waiter._pending  # nobody waited: skipped
        pusher.push([(listener.address, progress("ev-2", 11))])  # the same connection
        assert (await asyncio.wait_for(second, 5)).total == 11
        assert len(pusher.links) == 1
    finally:
        await pusher.close()


async def test_a_frame_too_large_to_be_an_answer_closes_its_connection(
    gateway: tuple[ProgressWaiter, AnswerListener],
) -> None:
    waiter, listener = gateway
    future = waiter.expect("ev-1")
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    writer.write(struct.pack(">I", MAX_FRAME_BYTES + 1) + progress("ev-1"))
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the listener
    writer.close()
    assert not future.done()


async def test_an_unreachable_gateway_drops_its_answers_until_the_retry() -> None:
    clock = Clock()
    free = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = free.sockets[0].getsockname()[1]
    free.close()
    await free.wait_closed()  # nothing listens at `port` now
    pusher = AnswerPusher(clock=clock, retry_after_s=1.0)
    address = f"127.0.0.1:{port}"
    dropped = counted(telemetry.ANSWERS_DROPPED)
    try:
        pusher.push([(address, progress("ev-1")), (address, progress("ev-2"))])
        link = pusher.links[address]
        await until(lambda: link.opening is None)
        assert counted(telemetry.ANSWERS_DROPPED) == dropped + 2
        pusher.push([(address, progress("ev-3"))])  # down: dropped without a connect
        assert link.opening is None and counted(telemetry.ANSWERS_DROPPED) == dropped + 3

        waiter = ProgressWaiter()
        listener = AnswerListener(waiter, "127.0.0.1", port)
        await listener.start()  # the gateway is back, at the same address
        try:
            future = waiter.expect("ev-4")
            clock.now += 1.5  # after the retry
            pusher.push([(address, progress("ev-4"))])
            assert (await asyncio.wait_for(future, 5)).event_id == "ev-4"
        finally:
            await listener.stop()
    finally:
        await pusher.close()


async def test_a_restarted_gateway_gets_answers_on_a_new_connection() -> None:
    waiter = ProgressWaiter()
    listener = AnswerListener(waiter, "127.0.0.1")
    await listener.start()
    address, port = listener.address, listener.port
    pusher = AnswerPusher()
    try:
        future = waiter.expect("ev-1")
        pusher.push([(address, progress("ev-1"))])
        await asyncio.wait_for(future, 5)
        await listener.stop()  # closes the worker's connection
        await until(lambda: pusher.links[address].reader.at_eof())  # type: ignore[union-attr]

        listener = AnswerListener(waiter, "127.0.0.1", port)
        await listener.start()
        future = waiter.expect("ev-2")
        pusher.push([(address, progress("ev-2"))])  # finds its connection closed: reopens
        pusher.push([(address, progress("ev-2b"))])
        assert (await asyncio.wait_for(future, 5)).event_id == "ev-2"
    finally:
        await listener.stop()
        await pusher.close()


async def test_links_to_gateways_no_longer_answered_are_closed() -> None:
    clock = Clock()
    waiter = ProgressWaiter()
    listener = AnswerListener(waiter, "127.0.0.1")
    await listener.start()
    pusher = AnswerPusher(clock=clock, forget_after_s=60.0)
    try:
        future = waiter.expect("ev-1")
        pusher.push([(listener.address, progress("ev-1"))])
        await asyncio.wait_for(future, 5)
        clock.now += 61
        pusher.push([("127.0.0.1:9", progress("ev-2"))])  # another gateway; the sweep runs
        assert list(pusher.links) == ["127.0.0.1:9"]
    finally:
        await pusher.close()
        await listener.stop()


async def test_a_stopped_listener_closes_its_connections_and_releases_the_waiting(
    caplog: pytest.LogCaptureFixture,
) -> None:
    waiter = ProgressWaiter()
    listener = AnswerListener(waiter, "127.0.0.1")
    await listener.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    await until(lambda: listener._connections)
    future = waiter.expect("ev-1")
    await listener.stop()
    assert future.cancelled() and waiter._pending == {} and not waiter.ready
    assert await asyncio.wait_for(reader.read(), 5) == b""  # the worker's end sees it closed
    writer.close()
    await asyncio.sleep(0.01)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_pushed_refusal_fails_the_waiting_request(
    gateway: tuple[ProgressWaiter, AnswerListener],
) -> None:
    waiter, listener = gateway
    future = waiter.expect("ev-1")
    refused = EventRefused(
        id="u1:progress:ev-1",
        event_id="ev-1",
        user_id="u1",
        reason="metric: unknown",
        dead_letter="dl-1",
    )
    pusher = AnswerPusher()
    try:
        pusher.push([(listener.address, encode_record(refused))])
        with pytest.raises(NotApplied, match="metric: unknown"):
            await asyncio.wait_for(future, 5)
    finally:
        await pusher.close()


async def test_a_pushed_rank_reaches_the_rank_waiter_and_a_progress_the_progress_waiter() -> None:
    """The ranking stage's pushes share the channel: the listener tells a rank frame from an
    answer by its record's type, and one gateway connection may carry both."""
    from ingest.answers import RankWaiter
    from tests.unit.test_rank_waiter import rank as encoded_rank

    cause = "ada:score:words:all::ev-1"  # the helper's: ada, first of one on "words"
    rank = encoded_rank("ev-1", "words")
    waiter, ranks = ProgressWaiter(), RankWaiter()
    listener = AnswerListener(waiter, "127.0.0.1", ranks=ranks)
    await listener.start()
    pusher = AnswerPusher()
    try:
        answered = waiter.expect("ev-1")
        ranks.expect("ev-1")
        pusher.push([(listener.address, rank), (listener.address, progress("ev-1"))])
        assert (await asyncio.wait_for(answered, 5)).total == 7
        got = await ranks.ranks("ev-1", [f"{cause}:rank"], within_s=5.0)
        assert (got[f"{cause}:rank"].rank, got[f"{cause}:rank"].participants) == (1, 1)
    finally:
        await pusher.close()
        await listener.stop()
