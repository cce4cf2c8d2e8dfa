"""What the fold has produced and no transaction has committed yet: the runtime's uncommitted
buffer (`runner.Runtime`). Pure bookkeeping, no I/O.

- keyed records (a changelog: `podium.state`, `podium.ranking.state`): the last value of each
  key per (topic, partition), so a user's state is written once per commit however many of
  their events were folded since the last one; a value None is a tombstone (the compacted
  topic forgets the key);
- records (facts, progress, points, scores, rank changes, dead letters, a dropped run's
  leaves): in the order the fold made them, each to its (topic, partition); partition -1
  lets the producer choose. They are written before the keyed records, so a keyed record
  (a tombstone) follows an ordered one of its key (the leave the projector reads first);
- the input offsets: per input partition, the next offset to read (what the commit sends
  with `send_offsets_to_transaction`).

A commit takes the whole outbox (`swap`) and the fold goes on into a fresh one. It is due
(`due_at`) a commit interval after its first entry, or sooner once a request waits on it: a
score change whose rank a gateway waits for reaches the ranker only after this commit.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

Headers = list[tuple[str, bytes]]
# topic, partition (-1: any), key, value (None: a tombstone), headers (None: none)
Out = tuple[str, int, bytes | None, bytes | None, Headers | None]


@dataclass
class Outbox:
    keyed: dict[tuple[str, int], dict[bytes, bytes | None]] = field(default_factory=dict)
    records: list[Out] = field(default_factory=list)
    offsets: dict[int, int] = field(default_factory=dict)  # input partition -> next offset
    events: int = 0  # folded events (the ranker: score changes) it commits
    started: float = 0.0  # monotonic time of its first entry (0: empty)
    size: int = 0  # records and keyed writes added (a key written twice counts twice)
    awaited: float = 0.0  # monotonic time a request first waited on its commit (0: none)

    def keep(self, topic: str, partition: int, items: Iterable[tuple[bytes, bytes | None]]) -> None:
        """Keyed records: only each key's last value is written (None: a tombstone)."""
        kept = self.keyed.setdefault((topic, partition), {})
        for key, value in items:
            kept[key] = value
            self.size += 1

    def add(self, topic: str, partition: int, items: Iterable[tuple[bytes | None, bytes]]) -> None:
        for key, value in items:
            self.records.append((topic, partition, key, value, None))
            self.size += 1

    def add_headed(
        self, topic: str, partition: int, items: Iterable[tuple[bytes, bytes, Headers | None]]
    ) -> None:
        """Records with headers (a score change naming the gateway waiting for its rank: that
        request waits on this outbox's commit, which makes it `awaited`)."""
        for key, value, headers in items:
            self.records.append((topic, partition, key, value, headers))
            self.size += 1
            if headers is not None and not self.awaited:
                self.awaited = time.monotonic()

    def advance(self, partition: int, next_offset: int, events: int, now: float) -> None:
        """The input partition's records up to `next_offset` are folded into this outbox."""
        self.offsets[partition] = next_offset
        self.events += events
        if not self.started:
            self.started = now

    def __bool__(self) -> bool:
        return bool(self.offsets)

    def due_at(self, interval_s: float, awaited_s: float) -> float:
        """When a commit should take it: `interval_s` after its first entry, or `awaited_s`
        after a request first waited on its commit, whichever comes first."""
        at = self.started + interval_s
        return min(at, self.awaited + awaited_s) if self.awaited else at

    def produced(self) -> Iterator[Out]:
        """Every record to write: the ordered ones, then each key's last value."""
        yield from self.records
        for (topic, partition), kept in self.keyed.items():
            for key, value in kept.items():
                yield topic, partition, key, value, None
