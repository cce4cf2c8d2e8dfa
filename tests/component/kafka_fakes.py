"""Fakes of confluent-kafka's Consumer and transactional Producer for the runtime's component
tests (`processors.runtime.runner.Runtime`): a broker in one object (`FakeKafka`) that keeps
each input partition's log, the group's committed offsets and every committed record. They
claim nothing about Kafka; they let a test hold a commit, fail one, or move a partition.

A commit of the fake producer applies its records and offsets together (a transaction); an
aborted one applies nothing. `read_latest` (patched into the runtime) reads the committed
records of a changelog topic, as the real one reads `podium.state`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from processors.runtime import runner
from processors.runtime.runner import Runtime, RuntimeConfig
from schemas.topics import Names

NAMES = Names("t.")


@dataclass
class FakeMessage:
    topic_: str
    partition_: int
    offset_: int
    key_: bytes | None
    value_: bytes | None
    headers_: list[tuple[str, bytes]] | None = None

    def error(self) -> None:
        return None

    def partition(self) -> int:
        return self.partition_

    def offset(self) -> int:
        return self.offset_

    def key(self) -> bytes | None:
        return self.key_

    def value(self) -> bytes | None:
        return self.value_

    def headers(self) -> list[tuple[str, bytes]] | None:
        return self.headers_


@dataclass
class FakeKafka:
    topic: str
    logs: dict[int, list[FakeMessage]] = field(default_factory=dict)
    committed_offsets: dict[int, int] = field(default_factory=dict)
    committed: list[tuple[str, int, bytes | None, bytes]] = field(default_factory=list)
    commits: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def append(self, partition: int, key: bytes, value: bytes, headers: Any = None) -> None:
        with self.lock:
            log = self.logs.setdefault(partition, [])
            log.append(FakeMessage(self.topic, partition, len(log), key, value, headers))

    def latest(self, topic: str, partitions: Iterable[int]) -> dict[int, dict[str, bytes]]:
        out: dict[int, dict[str, bytes]] = {p: {} for p in partitions}
        for t, p, key, value in self.committed:
            if t == topic and p in out and key is not None:
                out[p][key.decode()] = value
        return out


class FakeConsumer:
    def __init__(self, kafka: FakeKafka) -> None:
        self.kafka = kafka
        self.position: dict[int, int] = {}  # assigned partition -> next offset to deliver
        self.paused: set[int] = set()
        self.rebalances: list[tuple[str, list[int]]] = []  # ("assign" | "revoke", partitions)
        self.callbacks: dict[str, Callable[..., None]] = {}
        self.generation = 1
        self.closed = False

    def subscribe(self, topics: list[str], **callbacks: Callable[..., None]) -> None:
        self.callbacks = callbacks

    def rebalance(self, kind: str, partitions: list[int]) -> None:
        """Have the next fetch call `on_<kind>` for these partitions, as librdkafka does."""
        self.rebalances.append((kind, partitions))

    def _serve(self) -> None:
        while self.rebalances:
            kind, partitions = self.rebalances.pop(0)
            tps = [TopicPartition(self.kafka.topic, p) for p in partitions]
            if kind != "assign":
                self.generation += 1
            self.callbacks[f"on_{kind}"](self, tps)
            if kind == "assign":
                for p in partitions:
                    self.position.setdefault(p, 0)
            else:
                for p in partitions:
                    self.position.pop(p, None)

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[FakeMessage]:
        self._serve()
        out: list[FakeMessage] = []
        with self.kafka.lock:
            for p, at in self.position.items():
                if p in self.paused:
                    continue
                taken = self.kafka.logs.get(p, [])[at : at + num_messages - len(out)]
                out += taken
                self.position[p] = at + len(taken)
        return out

    def poll(self, timeout: float = -1) -> FakeMessage | None:
        got = self.consume(1)
        if not got:
            time.sleep(min(timeout, 0.005))
            return None
        return got[0]

    def committed(self, tps: list[TopicPartition], timeout: float = -1) -> list[TopicPartition]:
        offsets = self.kafka.committed_offsets
        return [
            TopicPartition(tp.topic, tp.partition, offsets.get(tp.partition, -1001)) for tp in tps
        ]

    def incremental_assign(self, tps: list[TopicPartition]) -> None:
        for tp in tps:
            self.position[tp.partition] = max(tp.offset, 0)

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition(self.kafka.topic, p) for p in self.position]

    def seek(self, tp: TopicPartition) -> None:
        self.position[tp.partition] = max(tp.offset, 0)

    def pause(self, tps: list[TopicPartition]) -> None:
        self.paused |= {tp.partition for tp in tps}

    def resume(self, tps: list[TopicPartition]) -> None:
        self.paused -= {tp.partition for tp in tps}

    def consumer_group_metadata(self) -> int:
        return self.generation

    def close(self) -> None:
        self.closed = True
        revoke = self.callbacks.get("on_revoke")
        if revoke is not None and self.position:
            revoke(self, [TopicPartition(self.kafka.topic, p) for p in self.position])
        self.position.clear()


class FakeProducer:
    """Transactions on the fake broker. `gate`: each commit waits for it to be set; `fail`:
    what the next commits raise (then aborted); `fatal`: whether that error is fatal."""

    def __init__(self, kafka: FakeKafka, consumer: FakeConsumer, gate: threading.Event) -> None:
        self.kafka = kafka
        self.consumer = consumer
        self.gate = gate
        self.fail: list[KafkaError] = []
        self.open: list[tuple[str, int, bytes | None, bytes]] = []
        # the records produced with headers: topic, key, headers
        self.headed: list[tuple[str, bytes | None, list[tuple[str, bytes]]]] = []
        self.offsets: list[TopicPartition] = []
        self.aborts = 0
        self.began = 0
        self.hung: threading.Event | None = None  # set: its commits wait for this one instead

    def init_transactions(self, timeout: float = -1) -> None:
        pass

    def begin_transaction(self) -> None:
        self.began += 1
        self.open, self.offsets = [], []

    def produce(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        partition: int = -1,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        self.open.append((topic, partition, key, value))
        if headers:
            self.headed.append((topic, key, headers))

    def send_offsets_to_transaction(
        self, offsets: list[TopicPartition], meta: int, timeout: float
    ) -> None:
        if meta != self.consumer.generation:
            raise KafkaException(KafkaError(KafkaError.ILLEGAL_GENERATION, txn_requires_abort=True))
        self.offsets = offsets

    def commit_transaction(self, timeout: float = -1) -> None:
        if self.hung is not None:
            self.hung.wait(10)
            raise KafkaException(KafkaError(KafkaError._FENCED, "fenced", fatal=True))
        assert self.gate.wait(10), "a test never released a commit"
        if self.fail:
            raise KafkaException(self.fail.pop(0))
        with self.kafka.lock:
            self.kafka.committed += self.open
            for tp in self.offsets:
                self.kafka.committed_offsets[tp.partition] = tp.offset
            self.kafka.commits += 1

    def abort_transaction(self, timeout: float = -1) -> None:
        self.aborts += 1
        self.open, self.offsets = [], []

    def poll(self, timeout: float = 0) -> int:
        return 0


@dataclass
class Harness:
    kafka: FakeKafka
    consumer: FakeConsumer
    producers: list[FakeProducer]
    gate: threading.Event
    runtime: Runtime

    @property
    def producer(self) -> FakeProducer:
        return self.producers[-1]

    @property
    def began(self) -> int:
        """Transactions begun, by every producer so far."""
        return sum(p.began for p in self.producers)


def harness(stage: Any, monkeypatch: Any, *, pusher: Any = None, **config: Any) -> Harness:
    """A runtime over the fakes; commits pass until a test clears `gate`."""
    kafka = FakeKafka(stage.input_topic)
    consumer = FakeConsumer(kafka)
    gate = threading.Event()
    gate.set()
    producers: list[FakeProducer] = []

    def new_producer() -> FakeProducer:
        producers.append(FakeProducer(kafka, consumer, gate))
        return producers[-1]

    async def read_latest(
        bootstrap: str, topic: str, partitions: Iterable[int]
    ) -> dict[int, dict[str, bytes]]:
        assert topic == stage.changelog
        return kafka.latest(topic, partitions)

    monkeypatch.setattr(runner, "read_latest", read_latest)
    settings = {"commit_interval_s": 0.02, "fence_backoff_s": 0.05, **config}
    runtime = Runtime(
        stage,
        RuntimeConfig("unused:9092", "t.worker.0", **settings),
        pusher=pusher,
        consumer=consumer,  # type: ignore[arg-type]
        new_producer=new_producer,  # type: ignore[arg-type]
    )
    return Harness(kafka, consumer, producers, gate, runtime)


async def until(condition: Callable[[], bool], within: float = 5.0) -> None:
    import asyncio

    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        await asyncio.sleep(0.005)
