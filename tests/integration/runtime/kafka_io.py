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
from typing import Protocol, cast

from confluent_kafka import KafkaError, KafkaException, Producer

from deploy.settings import REPO_DIR
from processors.runtime import kafka
from processors.runtime.kafka import Record

KeyValue = tuple[bytes | None, bytes]


class Consumed(Protocol):
    """A record as the tests read it back (`processors.runtime.kafka.Record`). The topics they
    read carry no tombstones, so its value is typed as bytes; a tombstone would fail the
    test's decode loudly."""

    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes: ...
    @property
    def headers(self) -> list[tuple[str, bytes]]: ...


def _producer(bootstrap: str) -> Producer:
    return kafka.producer(bootstrap, client_id="podium-tests", linger_ms=20, batch_size=512 << 10)


def send(producer: Producer, topic: str, items: Iterable[KeyValue]) -> int:
    """Hand `items` over and wait for every delivery; the count (raises on a failed one)."""
    failed: list[KafkaError] = []

    def delivered(err: KafkaError | None, _msg: object) -> None:
        if err is not None:
            failed.append(err)

    count = 0
    for key, value in items:
        while True:
            try:
                producer.produce(topic, value, key, on_delivery=delivered)
                break
            except BufferError:  # the producer's queue is full: let it drain
                producer.poll(0.05)
        producer.poll(0)
        count += 1
    if producer.flush(60) or failed:
        raise KafkaException(failed[0] if failed else KafkaError(KafkaError._MSG_TIMED_OUT))
    return count


async def produce(bootstrap: str, topic: str, items: Iterable[KeyValue]) -> int:
    """Send with the murmur2 partitioner (the Java client's), idempotent, acks=all; returns
    the count."""
    return await asyncio.to_thread(send, _producer(bootstrap), topic, list(items))


def _partitions(bootstrap: str, topic: str) -> range:
    return range(kafka.count_partitions(kafka.admin(bootstrap), topic))


def _read_topic(bootstrap: str, topic: str, isolation: str) -> dict[int, list[Record]]:
    parts = _partitions(bootstrap, topic)
    committed = isolation == "read_committed"
    if committed:
        ends = settled_ends(bootstrap, topic, parts)
    else:
        ends = kafka.end_offsets(bootstrap, topic, parts, committed=False)
    out: dict[int, list[Record]] = {p: [] for p in parts}
    for batch in kafka.read_range(bootstrap, topic, parts, ends=ends, committed=committed):
        for rec in batch:
            out[rec.partition].append(rec)
    return out


async def read_topic(
    bootstrap: str, topic: str, isolation: str = "read_committed"
) -> dict[int, list[Consumed]]:
    """Every record of every partition up to the end offsets taken at the start."""
    got = await asyncio.to_thread(_read_topic, bootstrap, topic, isolation)
    return cast(dict[int, list[Consumed]], got)


def settled_ends(bootstrap: str, topic: str, parts: range, within: float = 15.0) -> dict[int, int]:
    """The last stable offsets once no transaction is open on `parts` (`kafka.settled_ends`),
    or as they stand after `within` seconds of a flow that never pauses."""
    try:
        return kafka.settled_ends(bootstrap, topic, parts, within=within)
    except kafka.Unsettled:
        return kafka.end_offsets(bootstrap, topic, parts)


def _committed_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    return kafka.committed_offsets(bootstrap, group, topic, _partitions(bootstrap, topic))


async def committed_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    return await asyncio.to_thread(_committed_offsets, bootstrap, group, topic)


async def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """Each partition's high watermark."""
    parts = await asyncio.to_thread(_partitions, bootstrap, topic)
    return await asyncio.to_thread(kafka.end_offsets, bootstrap, topic, parts, committed=False)


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

    async def logged(self, text: str, within: float) -> None:
        """Until the process's log holds `text` (fails naming it, with the log's tail)."""
        deadline = time.monotonic() + within
        while text not in self.log():
            if time.monotonic() > deadline:
                name = " ".join(self.command)
                raise AssertionError(
                    f"{name} logged no {text!r} in {within} s: {self.log()[-2000:]}"
                )
            await asyncio.sleep(0.2)


async def feed(
    bootstrap: str,
    topic: str,
    items: Sequence[KeyValue],
    *,
    chunk: int = 2_000,
    pause: float = 0.25,
) -> None:
    """Produce `items` in chunks with pauses in between: a flow, not one burst."""
    producer = _producer(bootstrap)
    for start in range(0, len(items), chunk):
        await asyncio.to_thread(send, producer, topic, items[start : start + chunk])
        await asyncio.sleep(pause)


async def backlog(bootstrap: str, group: str, topic: str) -> int:
    """How many records of `topic` the group has not committed yet."""
    ends = await end_offsets(bootstrap, topic)
    committed = await committed_offsets(bootstrap, group, topic)
    return sum(ends[p] - committed[p] for p in ends)
