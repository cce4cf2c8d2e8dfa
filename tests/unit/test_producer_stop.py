"""Stopping a partition's producer never swallows cancellation: a worker told to stop while
a producer is stopping is cancelled, not left running as if the stop had finished. A failure
to stop is logged and counted instead of raised."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from processors.runtime import telemetry
from processors.runtime.partition import stop_producer


def stop_errors() -> float:
    return sum(
        sample.value
        for family in telemetry.PRODUCER_STOP_ERRORS.collect()
        for sample in family.samples
        if sample.name.endswith("_total")
    )


class HangingProducer:
    """A producer whose stop never finishes (a broker that does not answer)."""

    def __init__(self) -> None:
        self.stopping = asyncio.Event()

    async def stop(self) -> None:
        self.stopping.set()
        await asyncio.Event().wait()


class FailingProducer:
    async def stop(self) -> None:
        raise RuntimeError("connection reset")


async def test_cancelling_a_stop_cancels_the_caller() -> None:
    producer = HangingProducer()
    task = asyncio.create_task(stop_producer(cast(Any, producer), "tx-1"))
    await producer.stopping.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()


async def test_a_failed_stop_is_counted_not_raised() -> None:
    before = stop_errors()
    await stop_producer(cast(Any, FailingProducer()), "tx-2")
    assert stop_errors() == before + 1
