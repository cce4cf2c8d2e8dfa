"""`send_all`'s one future for many deliveries (`kafka_async._Batch`): it settles once every
record handed over is in, with the count or the first failure, and a refusal part-way counts
only the records handed over. The delivery callbacks are called by hand, from another thread
as librdkafka's poll thread would."""

from __future__ import annotations

import asyncio
import threading

import pytest
from confluent_kafka import KafkaError, KafkaException

from processors.runtime.kafka_async import _Batch


def _from_another_thread(*calls: tuple[object, ...]) -> None:
    def run() -> None:
        for batch, err in calls:
            batch.delivered(err, None)  # type: ignore[attr-defined]

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()


async def test_the_future_settles_with_the_count_once_every_delivery_is_in() -> None:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[int] = loop.create_future()
    batch = _Batch(loop, future, 3)
    _from_another_thread((batch, None), (batch, None))
    await asyncio.sleep(0.01)
    assert not future.done()  # two of three
    _from_another_thread((batch, None))
    assert await asyncio.wait_for(future, 1) == 3


async def test_a_failed_delivery_fails_the_future_after_the_others() -> None:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[int] = loop.create_future()
    batch = _Batch(loop, future, 3)
    timed_out = KafkaError(KafkaError._MSG_TIMED_OUT)
    _from_another_thread((batch, None), (batch, timed_out))
    await asyncio.sleep(0.01)
    assert not future.done()
    _from_another_thread((batch, KafkaError(KafkaError._TRANSPORT)))
    with pytest.raises(KafkaException) as failed:
        await asyncio.wait_for(future, 1)
    assert failed.value.args[0].code() == KafkaError._MSG_TIMED_OUT  # the first failure


async def test_records_refused_at_once_are_not_waited_for() -> None:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[int] = loop.create_future()
    batch = _Batch(loop, future, 5)
    _from_another_thread((batch, None), (batch, None))  # two handed over and delivered
    batch.drop(3)  # the third was refused: it and the two after it never reach librdkafka
    assert await asyncio.wait_for(future, 1) == 2
