"""The live projector commits its consumer offsets at most once a second (and once more when
it stops), not after every batch. The consumer and the clock are fakes; `run` is the real loop.
Re-applying what a crash left uncommitted changes nothing (every view write is a
compare-and-set or a set member), so committing less often costs no correctness."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

import pytest

from processors import projector

SECONDS_PER_BATCH = 0.25  # the fake clock moves this much per consume


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


class FakeConsumer:
    """Hands out `batches` records, one batch per call, then nothing; counts commits."""

    def __init__(self, clock: Clock, batches: int, stop: asyncio.Event) -> None:
        self.clock, self.left, self.stop_event = clock, batches, stop
        self.commits: list[float] = []

    def subscribe(self, topics: list[str]) -> None:
        pass

    async def close(self) -> None:
        pass

    async def records(self, max_records: int, within_s: float) -> list[Any]:
        self.clock.now += SECONDS_PER_BATCH
        if self.left == 0:
            self.stop_event.set()
            return []
        self.left -= 1
        return [SimpleNamespace(value=b"{}")]

    async def commit(self) -> None:
        self.commits.append(self.clock.now)

    def assignment(self) -> set[Any]:
        return set()


class FakeRedis:
    async def exists(self, *keys: str) -> int:
        return len(keys)  # the epoch marker is there: no rebuild


class CountingProjector:
    def __init__(self) -> None:
        self.redis, self.keys, self.applied = (
            FakeRedis(),
            SimpleNamespace(epoch="e", rebuilding="r"),
            0,
        )

    async def apply(self, values: Iterable[bytes | None]) -> int:
        self.applied += len(list(values))
        return 0


async def test_offsets_are_committed_at_most_once_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    clock, stop = Clock(), asyncio.Event()
    fake = FakeConsumer(clock, batches=40, stop=stop)  # 40 batches over 10 fake seconds
    monkeypatch.setattr(projector, "time", clock)
    monkeypatch.setattr(projector, "consumer", lambda *a, **k: fake)
    proj = CountingProjector()

    await projector.run("unused:9092", "podium.state", "group", proj, stop)  # type: ignore[arg-type]

    assert proj.applied == 40
    gaps = [b - a for a, b in zip(fake.commits, fake.commits[1:], strict=False)]
    assert all(gap >= projector.COMMIT_INTERVAL_S for gap in gaps[:-1])  # the last: at stop
    # one commit per second of fake time (10 s), and the final one for what came after
    assert 9 <= len(fake.commits) <= 12
    assert fake.commits[-1] >= 1000.0 + 40 * SECONDS_PER_BATCH  # the last batch is committed
