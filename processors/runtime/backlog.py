"""The records fetched for each owned partition that its task has not taken yet, and which
partitions hold so many that their fetching is paused (the runner's back-pressure).

Pure bookkeeping, no I/O: the runner asks `put` whether to pause a partition and `take`
whether to resume it, and makes the consumer calls itself. Only what `put` paused is ever
resumed here: a partition the runner paused for another reason (lost, blocked) is not
marked, and `discard` forgets the mark of a partition that stops being processed.

A record is queued once: a fetch that delivers again what is committed or already queued
(aiokafka was seen to deliver a partition's first records twice around a seek) adds only what
follows. So the queue of a partition is always the next records after its committed offset,
in order, each once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar


class Record(Protocol):
    @property
    def offset(self) -> int: ...


R = TypeVar("R", bound=Record)


class Backlog(Generic[R]):
    def __init__(self) -> None:
        self.queued: dict[int, list[R]] = {}
        self.next: dict[int, int] = {}  # partition -> the offset after the last one queued
        self.paused: set[int] = set()  # paused here for holding more than `limit`

    def put(self, partition: int, records: Sequence[R], position: int, limit: int) -> bool:
        """Queue the records at or after `position` (the owner's next offset to commit) and
        after those queued before; True when the partition now holds more than `limit` and
        was not paused yet: the caller pauses its fetching."""
        start = max(position, self.next.get(partition, position))
        fresh = [r for r in records if r.offset >= start]
        if not fresh:
            return False
        queue = self.queued.setdefault(partition, [])
        queue.extend(fresh)
        self.next[partition] = fresh[-1].offset + 1
        if len(queue) > limit and partition not in self.paused:
            self.paused.add(partition)
            return True
        return False

    def take(self, partition: int, most: int) -> tuple[list[R], bool]:
        """The oldest `most` records queued (fewer if fewer are), and True when the partition
        was paused here and its queue is now empty: the caller resumes its fetching."""
        queue = self.queued.get(partition, [])
        taken, rest = queue[:most], queue[most:]
        if rest:
            self.queued[partition] = rest
            return taken, False
        self.queued.pop(partition, None)
        if partition in self.paused:
            self.paused.discard(partition)
            return taken, True
        return taken, False

    def discard(self, partition: int) -> None:
        """Forget the partition's queued records, where they ended and its pause (it is
        dropped, lost or blocked: the next owner reads the records again from the committed
        offset)."""
        self.queued.pop(partition, None)
        self.next.pop(partition, None)
        self.paused.discard(partition)
