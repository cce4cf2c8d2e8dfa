"""Raw broker throughput: an idempotent acks=all producer and a getmany consumer, no fold;
then `ingest.client.EventClient.send_many` (validated, stamped commands straight to
`podium.events`, one record batch per partition), timed as building the commands and as
sending them; then the floor of a synchronous answer's Kafka steps, one at a time on an
otherwise idle broker: a produce acknowledged (the gateway's producer settings) and a
transaction of one record committed (the worker's producer settings)."""

from __future__ import annotations

import asyncio
import os
import statistics
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from deploy.stack import create_topics
from ingest.client import EventClient
from processors.runtime.partition import ProducerConfig, start_producer
from schemas.rules_parse import load_rules
from tests.bench.data import METRICS, RULES
from tests.bench.services import bench_services

TOPIC = "bench.raw"


async def _run(bootstrap: str, count: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(TOPIC, 12, 1)])
    await admin.close()
    payload = b'{"type":"metric","value":"750","user":{"id":"18"}}'
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=256 * 1024,
        compression_type="lz4",
    )
    await producer.start()
    started = time.perf_counter()
    for i in range(count):
        await producer.send(TOPIC, payload, key=str(i % 100_000).encode())
    await producer.flush()
    produce_s = time.perf_counter() - started
    await producer.stop()

    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=bootstrap,
        group_id="bench.raw",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    seen = 0
    started = time.perf_counter()
    while seen < count:
        batch = await consumer.getmany(timeout_ms=500, max_records=20_000)
        seen += sum(len(recs) for recs in batch.values())
    consume_s = time.perf_counter() - started
    await consumer.stop()
    print(f"produce (idempotent, acks=all, lz4): {count / produce_s:>10,.0f} records/s")
    print(f"consume (getmany):                   {count / consume_s:>10,.0f} records/s")


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


async def _floor(bootstrap: str, count: int = 300) -> None:
    """Latency of one acknowledged produce and of one small committed transaction, each
    waited for before the next (nothing else on the broker but this process). Transactions
    through the worker's own producer (`start_producer`): as it is (linger 5 ms, aiokafka's
    retry back-offs: 100 ms, and 20 ms after CONCURRENT_TRANSACTIONS), with 5 ms back-offs,
    and with no linger besides, alternating."""
    plain = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=2,
        compression_type="lz4",
    )  # fmt: skip
    await plain.start()
    acks: list[float] = []
    try:
        for i in range(count):
            started = time.perf_counter()
            await plain.send_and_wait(TOPIC, b"x" * 200, key=str(i).encode())
            acks.append(time.perf_counter() - started)
    finally:
        await plain.stop()
    _quantiles("produce acknowledged (gateway's settings)", acks)
    configs = {
        "linger 5 ms, aiokafka's back-offs (the worker's)": ProducerConfig(bootstrap),
        "linger 5 ms, 5 ms back-offs": ProducerConfig(bootstrap, retry_backoff_ms=5),
        "linger 0, 5 ms back-offs": ProducerConfig(bootstrap, linger_ms=0, retry_backoff_ms=5),
    }
    for _ in range(2):
        for label, config in configs.items():
            _quantiles(f"transaction of 1 record, {label}", await _transactions(config, count // 3))


async def _transactions(config: ProducerConfig, count: int) -> list[float]:
    tx = await start_producer(config, "bench.floor")
    times: list[float] = []
    try:
        for i in range(count):
            started = time.perf_counter()
            async with tx.transaction():
                await tx.send(TOPIC, b"x" * 200, key=str(i).encode())
            times.append(time.perf_counter() - started)
    finally:
        await tx.stop()
    return times


def _quantiles(label: str, times: list[float]) -> None:
    q = statistics.quantiles(times, n=100)
    print(f"one at a time, {label:44} p50 {q[49] * 1000:6.2f} ms  p99 {q[98] * 1000:6.2f} ms")


def main() -> None:
    count = 50_000 if os.environ.get("PODIUM_BENCH_QUICK") else 500_000
    with bench_services() as (bootstrap, _):
        asyncio.run(_run(bootstrap, count))
        asyncio.run(_client(bootstrap, count))
        asyncio.run(_floor(bootstrap))


if __name__ == "__main__":
    main()
