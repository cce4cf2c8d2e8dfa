"""The broker's JVM settings side by side: start time, memory, small-transaction rate and the
broker's CPU per transaction, one large transaction's records/s.

Each setting gets a fresh single-node broker (deploy/local.py with other JVM options). On it,
one confluent-kafka transactional producer writes 200-byte records to a 12-partition topic:
300 transactions of 12 records (one per partition) twice — cold, then warm (the JIT has
compiled the hot paths) — with the broker's CPU from /proc/<pid>/stat; then one transaction
of 200,000 records. The warm small-transaction run is repeated with the client's
`retry.backoff.ms` at 5 instead of librdkafka's 100: a transaction's partitions are added
while the broker still writes the previous one's markers, and the broker answers
CONCURRENT_TRANSACTIONS, which the client retries after that back-off.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from pathlib import Path

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from deploy.local import (
    JVM_OPTS,
    QUICK_START_JVM_OPTS,
    SERVING_JVM_OPTS,
    KafkaBroker,
    free_port,
)
from deploy.settings import Settings
from tests.bench.stages import cpu_seconds, rss_mb

BASE = ["-Xms64m", "-Djava.awt.headless=true"]
SETTINGS = {
    "C1 only + SerialGC, 512m (quick-start: the tests)": QUICK_START_JVM_OPTS,
    "C2 (tiered) + SerialGC, 512m (serving: podium up, benchmarks)": SERVING_JVM_OPTS,
    "C2 (tiered) + G1, 512m": [*BASE, "-Xmx512m", "-XX:+UseG1GC"],
    "C2 (tiered) + SerialGC, 256m": [*BASE, "-Xmx256m", "-XX:+UseSerialGC"],
}
PARTITIONS = 12
SMALL_TX, BIG_TX = 300, 200_000
VALUE = b"x" * 200


def _topic(bootstrap: str) -> str:
    name = f"jvm.{uuid.uuid4().hex[:6]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for fut in admin.create_topics([NewTopic(name, PARTITIONS, 1)]).values():
        fut.result(30)
    return name


def _producer(bootstrap: str, **extra: object) -> Producer:
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "transactional.id": f"jvm.{uuid.uuid4().hex[:8]}",
            "linger.ms": 1,
            "batch.size": 1024 * 1024,
            "queue.buffering.max.messages": 1_000_000,
            **extra,
        }
    )
    producer.init_transactions(30)
    return producer


def small_transactions(
    bootstrap: str, topic: str, pid: int, **extra: object
) -> tuple[float, float]:
    """(transactions per second, broker CPU ms per transaction)."""
    producer = _producer(bootstrap, **extra)
    cpu0, started = cpu_seconds(pid), time.perf_counter()
    for _ in range(SMALL_TX):
        producer.begin_transaction()
        for p in range(PARTITIONS):
            producer.produce(topic, VALUE, partition=p)
        producer.commit_transaction(30)
    seconds = time.perf_counter() - started
    cpu = cpu_seconds(pid) - cpu0
    return SMALL_TX / seconds, cpu * 1000 / SMALL_TX


def big_transaction(bootstrap: str, topic: str) -> float:
    """Records per second of one transaction of BIG_TX records."""
    producer = _producer(bootstrap)
    started = time.perf_counter()
    producer.begin_transaction()
    for i in range(BIG_TX):
        while True:
            try:
                producer.produce(topic, VALUE, partition=i % PARTITIONS)
                break
            except BufferError:
                producer.poll(0.01)
    producer.commit_transaction(120)
    return BIG_TX / (time.perf_counter() - started)


def measure(name: str, opts: list[str], home: Path) -> None:
    broker = KafkaBroker(home, free_port(), free_port(), Settings().run_dir / "jars", opts)
    started = time.perf_counter()
    broker.start()
    start_s = time.perf_counter() - started
    pid = broker.pid() or 0
    try:
        rss_start = rss_mb(pid)
        topic = _topic(broker.bootstrap)
        cold, _ = small_transactions(broker.bootstrap, topic, pid)
        warm, cpu_ms = small_transactions(broker.bootstrap, topic, pid)
        quick, quick_cpu = small_transactions(
            broker.bootstrap, topic, pid, **{"retry.backoff.ms": 5}
        )
        big = big_transaction(broker.bootstrap, topic)
        rss_end = rss_mb(pid)
    finally:
        broker.stop()
    print(
        f"  {name:50} start {start_s:4.1f} s  RSS {rss_start:4.0f}→{rss_end:4.0f} MB  "
        f"small tx cold {cold:4.0f}/s warm {warm:4.0f}/s ({cpu_ms:4.1f} ms CPU each), "
        f"backoff 5 ms {quick:4.0f}/s ({quick_cpu:4.1f} ms)  1 tx: {big:8,.0f} rec/s",
        flush=True,
    )


def main() -> None:
    for name, opts in JVM_OPTS.items():
        print(f"  (deploy/local.py {name}: {' '.join(opts)})")
    print(f"  ({os.cpu_count()} cores, shared)")
    for name, opts in SETTINGS.items():
        with tempfile.TemporaryDirectory(prefix="podium-bench-jvm-") as tmp:
            measure(name, opts, Path(tmp))


if __name__ == "__main__":
    main()
