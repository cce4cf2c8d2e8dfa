"""The gateway's wait for a Progress never leaks: whatever ends a request (its Progress, the
bounded wait, a refused write, or the client going away, which cancels the handler), the
real `ProgressWaiter`'s pending map is empty afterwards.

The waiter is the real class (it opens nothing; answers are handed to `take`); the publisher
is the fake. A pending entry left behind would stay for the life of the process."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal

import pytest

from ingest.answers import ProgressWaiter
from ingest.http.api import ApiError
from ingest.routes import Gateway
from schemas.commands import MetricTracked, User
from schemas.records import Progress, encode_record
from schemas.rules import Rules
from tests.component.fakes import NOW_MS, FakePublisher, FakeViews


def gateway(rules: Rules, publisher: FakePublisher, waiter: ProgressWaiter) -> Gateway:
    return Gateway(rules, publisher, waiter, FakeViews(), wait_s=5.0, clock=lambda: NOW_MS)


def waiter() -> ProgressWaiter:
    return ProgressWaiter()


def command(event_id: str = "ev-1") -> MetricTracked:
    return MetricTracked(
        event_id=event_id,
        time_ms=NOW_MS,
        user=User(id="u1"),
        metric="words-written",
        value=Decimal(3),
    )


async def until(condition: Callable[[], object], turns: int = 100) -> None:
    """Yield to the loop until `condition()` holds (the request reached its next step)."""
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"not reached within {turns} turns of the loop")


async def test_a_request_cancelled_while_waiting_releases_its_entry(rules: Rules) -> None:
    """The client disconnects after the write, while the gateway waits for the Progress."""
    publisher, w = FakePublisher(), waiter()
    task = asyncio.create_task(gateway(rules, publisher, w).publish_and_wait(command()))
    await until(lambda: publisher.published)  # written; now waiting for its Progress
    assert list(w._pending) == ["ev-1"]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert w._pending == {}


async def test_a_request_cancelled_while_publishing_releases_its_entry(rules: Rules) -> None:
    """The client disconnects while the broker has not yet acknowledged the write."""
    publisher, w = FakePublisher(), waiter()
    publisher.time_out, publisher.timeout_s = True, 30.0  # an acknowledgement that never comes
    task = asyncio.create_task(gateway(rules, publisher, w).publish_and_wait(command()))
    await until(lambda: publisher.calls == 1)
    assert list(w._pending) == ["ev-1"]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert w._pending == {} and publisher.published == []


async def test_answered_timed_out_and_refused_requests_release_their_entries(
    rules: Rules,
) -> None:
    publisher, w = FakePublisher(), waiter()
    gw = gateway(rules, publisher, w)
    answered = asyncio.create_task(gw.publish_and_wait(command("ev-1")))
    await until(lambda: publisher.published)
    w.take(progress_record("ev-1"))
    folded = await answered
    assert folded is not None and isinstance(folded.progress, Progress)

    gw.wait_s = 0.01
    assert await gw.publish_and_wait(command("ev-2")) is None  # Trophy's pending 201

    publisher.fail = True
    with pytest.raises(ApiError):
        await gw.publish_and_wait(command("ev-3"))
    assert w._pending == {}


def progress_record(event_id: str) -> bytes:
    """The bytes of a Progress for `event_id`, as the processor writes them."""
    done = Progress(
        id=f"u1:progress:{event_id}",
        event_id=event_id,
        user_id="u1",
        command="metric",
        time_ms=NOW_MS,
        metric="words-written",
        total=Decimal(3),
    )
    return encode_record(done)
