"""Where the synchronous answer's time goes, measured from outside the processes: observers
read the events and progress topics as any consumer would, and each event's stages come from
the records' own Kafka timestamps (CreateTime: when the gateway, or the worker, produced the
record) and the moments the observers saw them.

For each event id (found in the event and in its Progress record):
- `event → visible`: event CreateTime → a read_uncommitted consumer sees the event (broker
  append + acks=all + fetch; an upper bound of the gateway's produce ack);
- `fetch + fold`: event CreateTime → the Progress record's CreateTime (the worker's fetch,
  decode, fold, and produce call);
- `uncommitted visible`: Progress CreateTime → a read_uncommitted consumer sees it (what an
  answer-before-commit could use);
- `commit visible`: Progress CreateTime → a read_committed consumer sees it (the rest of the
  batch, the transaction's commit, and one fetch);
- `event → answer`: event CreateTime → read_committed Progress (what today's gateway waits
  for, less its own HTTP and reader time).

Also: CPU seconds of a process from /proc/<pid>/stat, and the transaction markers a topic got
(end offsets moved minus committed records seen: one marker per transaction and partition).
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from confluent_kafka import OFFSET_END, Consumer, TopicPartition

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def event_id_of(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    at = raw.find(b'"eventId":"')
    if at < 0:
        return None
    end = raw.find(b'"', at + 11)
    return raw[at + 11 : end].decode()


@dataclass
class Observer:
    """A thread reading `topics` from their ends: for each record with an event id, when it was
    seen and its Kafka timestamp; for the others, a count per topic."""

    bootstrap: str
    topics: Sequence[str]
    partitions: int
    isolation: str
    seen: dict[tuple[str, str], tuple[float, int]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    _stop: threading.Event = field(default_factory=threading.Event)
    _ready: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Observer:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise TimeoutError(f"observer of {self.topics} did not get its partitions")
        return self

    def __exit__(self, *_: object) -> None:
        time.sleep(1.0)  # the last records of the load
        self._stop.set()
        assert self._thread is not None
        self._thread.join(30)

    def _run(self) -> None:
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": "bench.observer",  # never joined: assign() only
                "enable.auto.commit": False,
                "isolation.level": self.isolation,
                "fetch.wait.max.ms": 10,
            }
        )
        tps = [
            TopicPartition(t, p, OFFSET_END) for t in self.topics for p in range(self.partitions)
        ]
        consumer.assign(tps)
        consumer.consume(1, timeout=1.0)  # resolves the end offsets before the load starts
        self._ready.set()
        try:
            while not self._stop.is_set():
                msgs = consumer.consume(10_000, timeout=0.02)
                now_ms = time.time() * 1000
                for msg in msgs:
                    if msg.error() is not None:
                        continue
                    topic = msg.topic() or ""
                    eid = event_id_of(msg.value())
                    if eid is not None:
                        self.seen[(topic, eid)] = (now_ms, msg.timestamp()[1])
                    self.counts[topic] += 1
        finally:
            consumer.close()


def end_offsets_sum(bootstrap: str, topic: str, partitions: int) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench.offsets"})
    try:
        total = 0
        for p in range(partitions):
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            total += high
        return total
    finally:
        consumer.close()


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


@dataclass(frozen=True)
class Stage:
    name: str
    values: tuple[float, ...]

    def line(self) -> str:
        v = self.values
        med = statistics.median(v) if v else float("nan")
        return f"    {self.name:34} p50 {med:7.1f} ms  p99 {pct(v, 0.99):7.1f} ms  (n={len(v)})"


def stages(
    events_topic: str, progress_topic: str, uncommitted: Observer, committed: Observer
) -> list[Stage]:
    """The per-event stages (see the module docstring) of every event seen everywhere."""
    rows: dict[str, list[float]] = {
        "event → visible (ack upper bound)": [],
        "fetch + fold (→ Progress produced)": [],
        "Progress visible uncommitted": [],
        "Progress visible read_committed": [],
        "event → committed Progress": [],
    }
    names = list(rows)
    for (topic, eid), (ev_seen, ev_ts) in uncommitted.seen.items():
        if topic != events_topic:
            continue
        pr_unc = uncommitted.seen.get((progress_topic, eid))
        pr_com = committed.seen.get((progress_topic, eid))
        if pr_unc is None or pr_com is None:
            continue
        pr_ts = pr_unc[1]
        for name, value in zip(
            names,
            (
                ev_seen - ev_ts,
                pr_ts - ev_ts,
                pr_unc[0] - pr_ts,
                pr_com[0] - pr_ts,
                pr_com[0] - ev_ts,
            ),
            strict=True,
        ):
            rows[name].append(value)
    return [Stage(name, tuple(values)) for name, values in rows.items()]


def show(lines: Iterable[str]) -> None:
    for line in lines:
        print(line, flush=True)
