"""Each catch-all handler of the gateway's Kafka shell counts what it caught (ingest.telemetry):
a supervisor step that fails, a producer that does not close, a rank consumer that
stops. No broker: the failing collaborator is a stub that raises."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from ingest import telemetry
from ingest.kafka import Publisher, _close


def value(counter: Any) -> float:
    return counter._value.get()


async def counted(counter: Any, run: Callable[[], Any]) -> float:
    """Start `run()` as a task, wait (a bounded number of loop turns) until `counter` moved,
    stop the task; how much it moved."""
    before = value(counter)
    task = asyncio.create_task(run())
    for _ in range(100):
        if value(counter) > before:
            break
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return value(counter) - before


class CloseFails:
    async def close(self, within_s: float = 5.0) -> None:
        raise RuntimeError("the connection is gone")


async def fails() -> None:
    raise RuntimeError("boom")


async def test_a_producer_that_does_not_close_is_counted() -> None:
    before = value(telemetry.PRODUCER_CLOSE_ERRORS)
    await _close(CloseFails(), 1.0)  # type: ignore[arg-type]
    assert value(telemetry.PRODUCER_CLOSE_ERRORS) == before + 1


async def test_a_failed_supervisor_step_is_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    publisher = Publisher("unused:9092", "podium.events")

    async def step(failures: int) -> int:
        await fails()
        return failures

    monkeypatch.setattr(publisher, "_step", step)
    assert await counted(telemetry.SUPERVISOR_ERRORS, publisher._supervise) == 1
    assert publisher.ready is False
