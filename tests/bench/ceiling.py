"""The ceiling beside the runtime peers: the worker's fold and the encoding of every output it
publishes, in one process, without Kafka.

The same events as bench_runtime's (`data.events`, the same seed, the same rules) are built
as bytes in memory and split by the producer's partitioner (murmur2) into 12 partitions
before the clock starts; then each partition is folded in batches of `worker_max_records`
records, round robin, by `processors.runtime.batch.fold_batch` (decode from bytes, validate,
fold, encode every derived record and each changed state once per batch), and any dead
letter is encoded too. Timed: the fold loop alone (wall and CPU). Prints one
`CEILING {json}` line: events, seconds, CPU seconds and the records per output topic (the
catalogue's names).

Run: `python -m tests.bench.launch tests.bench.ceiling COUNT USERS RULES_PATH`.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

from deploy.settings import Settings
from processors.runtime.batch import Effects, fold_batch
from processors.runtime.kafka import partition_of
from processors.runtime.store import StateStore
from schemas.records import encode_record
from schemas.rules import Rules
from schemas.rules_parse import load_rules
from schemas.topics import EVENTS, EVENTS_DLQ, SCORES, STATE
from tests.bench.data import events


@dataclass(frozen=True)
class Report:
    """The ceiling's figures; printed as one `CEILING {json}` line."""

    events: int
    seconds: float  # the fold loop's wall time
    cpu: float  # its CPU seconds
    counts: dict[str, int]  # records per output topic (catalogue names)

    def line(self) -> str:
        return "CEILING " + json.dumps(asdict(self))

    @classmethod
    def find(cls, text: str) -> Report | None:
        """The report in a process's output (None: it printed none)."""
        for line in text.splitlines():
            if line.startswith("CEILING "):
                return cls(**json.loads(line.removeprefix("CEILING ")))
        return None


class Rec(NamedTuple):
    offset: int
    key: bytes | None
    value: bytes | None


def count_outputs(effects: Effects, counts: Counter[str]) -> None:
    """Add the records the worker would publish for `effects` to `counts`, by topic name."""
    counts[STATE.name] += len(effects.encoded_states)
    for topic, items in effects.derived.items():
        counts[topic.name] += len(items)
    counts[SCORES.name] += sum(len(items) for items in effects.scores.values())
    counts[EVENTS_DLQ.name] += len(effects.dead)


def partitioned(items: Iterable[tuple[bytes, bytes]], partitions: int) -> list[list[Rec]]:
    """The records of each partition, with their offsets, as the producer would place them."""
    out: list[list[Rec]] = [[] for _ in range(partitions)]
    for key, value in items:
        records = out[partition_of(key, partitions)]
        records.append(Rec(len(records), key, value))
    return out


def fold_all(parts: Sequence[Sequence[Rec]], rules: Rules, batch: int) -> Counter[str]:
    """Fold every partition in batches of `batch`, round robin; the outputs counted."""
    counts: Counter[str] = Counter()
    stores = [StateStore() for _ in parts]
    longest = max((len(records) for records in parts), default=0)
    for start in range(0, longest, batch):
        for p, records in enumerate(parts):
            chunk = records[start : start + batch]
            if not chunk:
                continue
            effects = fold_batch(stores[p], chunk, rules, EVENTS.name, p)
            for dead in effects.dead:
                encode_record(dead)
            count_outputs(effects, counts)
    return counts


def main(argv: Sequence[str] = ()) -> None:
    count, users, rules_path = argv or sys.argv[1:]
    rules = load_rules(Path(rules_path))
    parts = partitioned(events(int(count), int(users)), EVENTS.partitions)
    batch = Settings().worker_max_records
    wall0, cpu0 = time.perf_counter(), time.process_time()
    counts = fold_all(parts, rules, batch)
    seconds, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    print(Report(int(count), seconds, cpu, dict(counts)).line(), flush=True)


if __name__ == "__main__":
    main()
