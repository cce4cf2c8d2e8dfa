"""Raw broker throughput: an idempotent acks=all producer and a getmany consumer, no fold."""

from __future__ import annotations

import asyncio
import os
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

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


def main() -> None:
    count = 50_000 if os.environ.get("PODIUM_BENCH_QUICK") else 500_000
    with bench_services() as (bootstrap, _):
        asyncio.run(_run(bootstrap, count))


if __name__ == "__main__":
    main()
