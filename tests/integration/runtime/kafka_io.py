"""Test helpers that talk to the real broker: produce commands, read topics back to their end,
wait for the worker group to catch up, and run `podium worker` as a real subprocess."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from deploy.settings import REPO_DIR

KeyValue = tuple[bytes | None, bytes]


async def produce(bootstrap: str, topic: str, items: Iterable[KeyValue]) -> int:
    """Send with the default (murmur2) partitioner, idempotent, acks=all; returns the count."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=20,
        max_batch_size=512 * 1024,
    )
    await producer.start()
    count = 0
    try:
        for key, value in items:
            await producer.send(topic, value, key=key)
            count += 1
        await producer.flush()
    finally:
        await producer.stop()
    return count


async def partitions_of(bootstrap: str, topic: str) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [meta] = await admin.describe_topics([topic])
        return [TopicPartition(topic, p["partition"]) for p in meta["partitions"]]
    finally:
        await admin.close()


async def read_topic(
    bootstrap: str, topic: str, isolation: str = "read_committed"
) -> dict[int, list[ConsumerRecord[bytes, bytes]]]:
    """Every record of every partition up to the end offsets taken at the start."""
    tps = await partitions_of(bootstrap, topic)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        isolation_level=isolation,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    out: dict[int, list[ConsumerRecord[bytes, bytes]]] = {tp.partition: [] for tp in tps}
    try:
        consumer.assign(tps)
        if isolation == "read_committed":
            ends = await settled_ends(bootstrap, consumer, tps)
        else:
            ends = await consumer.end_offsets(tps)
        todo = {tp for tp in tps if ends[tp] > 0}
        await consumer.seek_to_beginning(*tps)
        while todo:
            batch = await consumer.getmany(*todo, timeout_ms=300, max_records=50_000)
            for tp, recs in batch.items():
                out[tp.partition].extend(recs)
            for tp in list(todo):
                if await consumer.position(tp) >= ends[tp]:
                    todo.discard(tp)
        return out
    finally:
        await consumer.stop()


async def settled_ends(
    bootstrap: str,
    committed: AIOKafkaConsumer,
    tps: list[TopicPartition],
    within: float = 15.0,
) -> dict[TopicPartition, int]:
    """The last stable offsets once no transaction is open on `tps` (each partition's LSO equals
    its high watermark), or as they stand after `within` seconds of a flow that never pauses.

    A producer's commit returns once the coordinator has logged it; the markers that make the
    records readable reach each partition afterwards, one partition at a time. So a group's
    committed offsets (themselves made visible by a marker on `__consumer_offsets`) can show a
    transaction as done while its output partitions still hide its records from read_committed
    readers: reading to the LSO at that moment would miss them."""
    raw = AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_uncommitted")
    await raw.start()
    try:
        deadline = time.monotonic() + within
        while True:
            stable = await committed.end_offsets(tps)
            high = await raw.end_offsets(tps)
            if stable == high or time.monotonic() > deadline:
                return stable
            await asyncio.sleep(0.1)
    finally:
        await raw.stop()


async def committed_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    tps = await partitions_of(bootstrap, topic)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        return {tp.partition: (await consumer.committed(tp)) or 0 for tp in tps}
    finally:
        await consumer.stop()


async def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    tps = await partitions_of(bootstrap, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(tps)
        return {tp.partition: off for tp, off in ends.items()}
    finally:
        await consumer.stop()


async def wait_caught_up(
    bootstrap: str, group: str, topic: str, within: float = 120.0
) -> dict[int, int]:
    """Wait until the group's committed offsets reach the topic's end offsets."""
    deadline = time.monotonic() + within
    ends = await end_offsets(bootstrap, topic)
    while True:
        committed = await committed_offsets(bootstrap, group, topic)
        if all(committed[p] >= ends[p] for p in ends):
            return committed
        if time.monotonic() > deadline:
            behind = {p: (committed[p], ends[p]) for p in ends if committed[p] < ends[p]}
            raise TimeoutError(f"group {group} not caught up after {within} s: {behind}")
        await asyncio.sleep(0.5)


@dataclass
class WorkerProcess:
    """`python -m deploy.cli <command>` with PODIUM_* settings, as a real OS process."""

    env: dict[str, str]
    log_path: Path
    command: Sequence[str] = ("worker",)
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> WorkerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "deploy.cli", *self.command],
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=REPO_DIR,
            )
        return self

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        self.wait(10)

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM and wait (SIGKILL if it will not go)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGCONT)
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


async def feed(
    bootstrap: str,
    topic: str,
    items: Sequence[KeyValue],
    *,
    chunk: int = 2_000,
    pause: float = 0.25,
) -> None:
    """Produce `items` in chunks with pauses in between: a flow, not one burst."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=20,
        max_batch_size=512 * 1024,
    )
    await producer.start()
    try:
        for start in range(0, len(items), chunk):
            for key, value in items[start : start + chunk]:
                await producer.send(topic, value, key=key)
            await producer.flush()
            await asyncio.sleep(pause)
    finally:
        await producer.stop()


async def backlog(bootstrap: str, group: str, topic: str) -> int:
    """How many records of `topic` the group has not committed yet."""
    ends = await end_offsets(bootstrap, topic)
    committed = await committed_offsets(bootstrap, group, topic)
    return sum(ends[p] - committed[p] for p in ends)
