"""Consumer lag, sampled off the hot path: every few seconds, for each watched loop
(`processors.runtime.health.Watched`), the group's committed offsets and the topic's end
offsets of the partitions the loop owns, read from the broker; the difference goes to
`podium_consumer_lag_records{group, topic, partition}` and to the loop's readiness.

A process reports the partitions it owns, so the sum over a group's members is the group's
lag. The end offset is read_committed's (the last stable offset): a partition written in
transactions (`podium.scores`, `podium.state`) ends with a commit marker after its last
record, and a member that committed past that record alone shows a lag of 1 (the ranker);
one that commits its position (the projector) shows 0.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from confluent_kafka import Consumer, TopicPartition
from prometheus_client import Gauge

from processors.runtime import kafka, telemetry
from processors.runtime.health import Watched, owned_now

log = logging.getLogger("podium.lag")


@dataclass(frozen=True, slots=True)
class Offsets:
    """A group's committed offsets and a topic's first and end offsets, by partition."""

    committed: Mapping[int, int]  # a partition without a commit is absent
    starts: Mapping[int, int]
    ends: Mapping[int, int]


def records_behind(offsets: Offsets, partitions: Sequence[int]) -> dict[int, int]:
    """Records between each partition's committed offset and its end. Without a commit the
    group starts at the first offset (auto_offset_reset=earliest), so all of them count."""
    behind: dict[int, int] = {}
    for p in partitions:
        if p not in offsets.ends:
            continue
        at = offsets.committed.get(p, offsets.starts.get(p, 0))
        behind[p] = max(0, offsets.ends[p] - at)
    return behind


ReadOffsets = Callable[[str, str, Sequence[int]], Awaitable[Offsets]]


class BrokerOffsets:
    """Reads `Offsets` from the broker through one read_committed consumer per group
    (`kafka.consumer`, never subscribed, never committing), kept between samples: the group's
    committed offsets, and each partition's first offset and read_committed end (the last
    stable offset: a read_committed consumer's ListOffsets asks for it). Not through an admin
    client: librdkafka 2.16 aborted the process (an `rd_kafka_enq_once` assertion) when an
    admin request to a group coordinator timed out while the brokers were away."""

    def __init__(self, bootstrap: str, timeout_s: float = 10.0) -> None:
        self.bootstrap = bootstrap
        self.timeout_s = timeout_s  # each request's: a failed sample ages, the next retries
        self.consumers: dict[str, Consumer] = {}

    async def __call__(self, group: str, topic: str, partitions: Sequence[int]) -> Offsets:
        consumer = self.consumers.get(group)
        if consumer is None:
            consumer = self.consumers[group] = kafka.consumer(self.bootstrap, group)
        return await asyncio.to_thread(self.read, consumer, topic, partitions)

    def read(self, consumer: Consumer, topic: str, partitions: Sequence[int]) -> Offsets:
        wait = self.timeout_s
        tps = [TopicPartition(topic, p) for p in partitions]
        committed = consumer.committed(tps, timeout=wait)
        marks = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), wait, cached=False)
            for p in partitions
        }
        return Offsets(
            {tp.partition: tp.offset for tp in committed if tp.offset >= 0},  # -1001: never
            {p: low for p, (low, _) in marks.items()},
            {p: high for p, (_, high) in marks.items()},
        )

    async def close(self) -> None:
        consumers, self.consumers = list(self.consumers.values()), {}
        for consumer in consumers:
            await asyncio.to_thread(consumer.close)


class LagSampler:
    """Samples the watched loops' lag every `every_s` seconds, and runs the process's other
    samples (`also`: gauges worked out on the loop, such as the ranker's rankings)."""

    def __init__(
        self,
        read: ReadOffsets,
        every_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.read = read
        self.every_s = every_s
        self.clock = clock
        self.loops: list[Watched] = []
        self.also: list[Callable[[], None]] = []
        self.failing = False  # the last sample failed (logged once per outage)

    async def run(self) -> None:
        while True:
            await self.sample()
            await asyncio.sleep(self.every_s)

    async def sample(self) -> None:
        try:
            for loop in self.loops:
                await self.sample_loop(loop)
            self.failing = False
        except Exception as err:  # the broker away: the last sample ages, readiness says so
            if not self.failing:
                log.warning("sampling the consumer lag failed: %r", err)
            self.failing = True
        for hook in self.also:
            try:
                hook()
            except Exception:  # a gauge that fails is logged; the lag goes on being sampled
                log.exception("a sample of the process's gauges failed")

    async def sample_loop(self, loop: Watched) -> None:
        partitions = owned_now(loop.pulse)
        behind: dict[int, int] = {}
        if partitions:
            offsets = await self.read(loop.group, loop.topic, partitions)
            behind = records_behind(offsets, partitions)
        gauge = telemetry.CONSUMER_LAG
        for p in set(loop.lag) - set(behind):  # no longer owned here
            gauge.remove(loop.group, loop.topic, str(p))
        for p, records in behind.items():
            gauge.labels(loop.group, loop.topic, str(p)).set(records)
        loop.lag, loop.sampled_at = behind, self.clock()


def mirror_lag(loop: Watched, gauge: Gauge) -> Callable[[], None]:
    """A sampler hook that shows `loop`'s latest lag in `gauge` too, labelled by partition
    (the projector's `podium_views_behind_records`: its state loop's lag)."""
    shown: set[int] = set()

    def show() -> None:
        for p in shown - set(loop.lag):
            gauge.remove(str(p))
        for p, records in loop.lag.items():
            gauge.labels(str(p)).set(records)
        shown.clear()
        shown.update(loop.lag)

    return show
