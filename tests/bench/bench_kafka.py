"""Raw broker throughput: an idempotent acks=all producer and a consumer, no fold; then
`ingest.client.EventClient.send_many` (validated, stamped commands straight to `podium.events`),
timed as building the commands and as sending them; then the asyncio bridges of the producer
under the gateway's publish (50 concurrent requests, each one record waited for): the adapter's
`AsyncProducer` (a poll thread, `call_soon_threadsafe`) against confluent-kafka's own
`AIOProducer`; then the floor of a synchronous answer's Kafka steps, one at a time on an
otherwise idle broker: a produce acknowledged (the gateway's producer settings) and a
transaction of one record committed."""

from __future__ import annotations

import asyncio
import functools
import os
import statistics
import time
from collections.abc import Awaitable, Callable

from confluent_kafka import TopicPartition
from confluent_kafka.admin import NewTopic
from confluent_kafka.aio import AIOProducer

from deploy.stack import create_topics
from ingest.client import EventClient
from processors.runtime import kafka, kafka_async
from schemas.rules_parse import load_rules
from tests.bench.data import METRICS, RULES
from tests.bench.services import bench_services

TOPIC = "bench.raw"
PAYLOAD = b'{"type":"metric","value":"750","user":{"id":"18"}}'


def _raw(bootstrap: str, count: int) -> None:
    admin = kafka.admin(bootstrap)
    for future in admin.create_topics([NewTopic(TOPIC, 12, 1)]).values():
        future.result(30)
    producer = kafka.producer(bootstrap, linger_ms=5, batch_size=256 * 1024)
    started = time.perf_counter()
    for i in range(count):
        while True:
            try:
                producer.produce(TOPIC, PAYLOAD, str(i % 100_000).encode())
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
    producer.flush(60)
    produce_s = time.perf_counter() - started

    consumer = kafka.consumer(bootstrap, max_partition_fetch_bytes=4 * 1024 * 1024)
    consumer.assign([TopicPartition(TOPIC, p, 0) for p in range(12)])
    seen = 0
    started = time.perf_counter()
    while seen < count:
        seen += sum(kafka.is_record(m) for m in consumer.consume(20_000, timeout=0.5))
    consume_s = time.perf_counter() - started
    consumer.close()
    print(f"produce (idempotent, acks=all, lz4): {count / produce_s:>10,.0f} records/s")
    print(f"consume (consume batches):           {count / consume_s:>10,.0f} records/s")


async def _client(bootstrap: str, count: int, chunk: int = 10_000) -> None:
    """EventClient.send_many in chunks of `chunk` commands for 10,000 users."""
    prefix = "bench.client."
    await create_topics(bootstrap, prefix)
    async with EventClient(bootstrap, load_rules(RULES), prefix) as client:
        build_s = send_s = 0.0
        for start in range(0, count, chunk):
            t0 = time.perf_counter()
            commands = [
                client.command(METRICS[i % 10], {"id": f"user-{i % 10_000}"}, 1 + i % 50)
                for i in range(start, min(count, start + chunk))
            ]
            t1 = time.perf_counter()
            await client.send_many(commands)
            build_s, send_s = build_s + t1 - t0, send_s + time.perf_counter() - t1
    print(f"EventClient.command (validate, stamp):  {count / build_s:>10,.0f} events/s")
    print(f"EventClient.send_many (acks=all):      {count / send_s:>10,.0f} events/s")
    print(f"EventClient, both:                     {count / (build_s + send_s):>10,.0f} events/s")


async def _publish_like_the_gateway(
    send: Callable[[bytes], Awaitable[object]], count: int, conns: int = 50
) -> tuple[float, list[float]]:
    """`conns` tasks, each sending one record and waiting for it, `count` in all."""
    times: list[float] = []

    async def one_connection(n: int) -> None:
        for i in range(n, count, conns):
            started = time.perf_counter()
            await send(str(i).encode())
            times.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(one_connection(n) for n in range(conns)))
    return count / (time.perf_counter() - started), times


async def _bridges(bootstrap: str, count: int) -> None:
    config = kafka.producer_config(bootstrap, linger_ms=2, delivery_timeout_s=5)
    for _ in range(2):  # alternating, twice
        ours = kafka_async.AsyncProducer(config)
        send = functools.partial(ours.send, TOPIC, PAYLOAD)
        rate, times = await _publish_like_the_gateway(send, count)
        await ours.close()
        _quantiles(f"AsyncProducer (poll thread), {rate:,.0f} records/s", times, "50 at once")
        # AIOProducer polls only right after it hands a batch over: a delivery acknowledged
        # later is reported at the next produce, so the last waiting sender would wait for
        # good. A task polling it is what an application must add (measured with it).
        theirs = AIOProducer(dict(config), batch_size=1, buffer_timeout=0)
        polling = asyncio.create_task(_poll_forever(theirs))

        async def aio_send(key: bytes, theirs: AIOProducer = theirs) -> object:
            return await (await theirs.produce(TOPIC, PAYLOAD, key))

        rate, times = await _publish_like_the_gateway(aio_send, count)
        polling.cancel()
        await theirs.close()
        label = f"AIOProducer (batch_size=1, a poll task), {rate:,.0f} records/s"
        _quantiles(label, times, "50 at once")


async def _poll_forever(producer: AIOProducer) -> None:
    while True:
        await producer.poll(0.05)


async def _floor(bootstrap: str, count: int = 300) -> None:
    """Latency of one acknowledged produce and of one small committed transaction, each
    waited for before the next (nothing else on the broker but this process)."""
    plain = kafka_async.AsyncProducer(kafka.producer_config(bootstrap, linger_ms=2))
    acks: list[float] = []
    try:
        for i in range(count):
            started = time.perf_counter()
            await plain.send(TOPIC, b"x" * 200, str(i).encode())
            acks.append(time.perf_counter() - started)
    finally:
        await plain.close()
    _quantiles("produce acknowledged (gateway's settings)", acks)
    for linger in (5, 0):
        label = f"transaction of 1 record, linger {linger} ms"
        _quantiles(label, await asyncio.to_thread(_transactions, bootstrap, linger, count // 3))


def _transactions(bootstrap: str, linger_ms: int, count: int) -> list[float]:
    tx = kafka.producer(bootstrap, transactional_id="bench.floor", linger_ms=linger_ms)
    tx.init_transactions(30)
    times: list[float] = []
    for i in range(count):
        started = time.perf_counter()
        tx.begin_transaction()
        tx.produce(TOPIC, b"x" * 200, str(i).encode())
        tx.commit_transaction(30)
        times.append(time.perf_counter() - started)
    return times


def _quantiles(label: str, times: list[float], how: str = "one at a time") -> None:
    q = statistics.quantiles(times, n=100)
    print(f"{how}, {label:44} p50 {q[49] * 1000:6.2f} ms  p99 {q[98] * 1000:6.2f} ms")


def main() -> None:
    count = 50_000 if os.environ.get("PODIUM_BENCH_QUICK") else 500_000
    with bench_services() as (bootstrap, _):
        _raw(bootstrap, count)
        asyncio.run(_client(bootstrap, count))
        asyncio.run(_bridges(bootstrap, count // 25))
        asyncio.run(_floor(bootstrap))


if __name__ == "__main__":
    main()
