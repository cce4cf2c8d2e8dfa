"""Consumer lag (processors.runtime.lag): records between the committed offset and the end,
for the partitions a loop owns, shown in `podium_consumer_lag_records` and kept for readiness;
a partition no longer owned leaves the gauge; a failed sample keeps the last one, which ages.
The broker is replaced by a hand-written offsets reader."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import REGISTRY

from processors.runtime.health import Pulse, Watched
from processors.runtime.lag import LagSampler, Offsets, records_behind


def test_records_behind_from_the_commit_or_the_first_offset() -> None:
    offsets = Offsets(
        committed={0: 40, 1: 75}, starts={0: 0, 1: 10, 2: 30}, ends={0: 50, 1: 75, 2: 42}
    )
    # 0: 50 - 40; 1: caught up; 2: never committed, so from its first offset 30; 5: no end
    assert records_behind(offsets, [0, 1, 2, 5]) == {0: 10, 1: 0, 2: 12}


def test_a_commit_beyond_the_read_end_is_no_negative_lag() -> None:
    assert records_behind(Offsets({0: 9}, {0: 0}, {0: 7}), [0]) == {0: 0}


class Reader:
    def __init__(self) -> None:
        self.offsets = Offsets({}, {}, {})
        self.calls: list[tuple[str, str, tuple[int, ...]]] = []
        self.fail = False

    async def __call__(self, group: str, topic: str, partitions: Sequence[int]) -> Offsets:
        self.calls.append((group, topic, tuple(partitions)))
        if self.fail:
            raise ConnectionError("broker away")
        return self.offsets


def gauge(group: str, partition: int) -> float | None:
    return REGISTRY.get_sample_value(
        "podium_consumer_lag_records",
        {"group": group, "topic": "lag.events", "partition": str(partition)},
    )


async def test_the_sampler_shows_the_owned_partitions_and_drops_the_revoked() -> None:
    reader, now = Reader(), [50.0]
    sampler = LagSampler(reader, clock=lambda: now[0])
    loop = Watched("lag.group", "lag.events", Pulse())
    sampler.loops.append(loop)
    counted: list[int] = []
    sampler.also.append(lambda: counted.append(1))
    await sampler.sample()
    assert reader.calls == [] and loop.lag == {} and counted == [1]  # owns none: no read
    loop.pulse.owned = {2: None, 4: None}
    reader.offsets = Offsets({2: 100, 4: 7}, {2: 0, 4: 0}, {2: 130, 4: 7})
    await sampler.sample()
    assert reader.calls == [("lag.group", "lag.events", (2, 4))]
    assert loop.lag == {2: 30, 4: 0} and loop.sampled_at == 50.0
    assert (gauge("lag.group", 2), gauge("lag.group", 4)) == (30.0, 0.0)
    loop.pulse.owned = {4: None}  # partition 2 went to another member
    now[0] = 55.0
    await sampler.sample()
    assert gauge("lag.group", 2) is None and gauge("lag.group", 4) == 0.0
    reader.fail, now[0] = True, 60.0
    await sampler.sample()  # the broker away: the last sample stays, with its time
    assert loop.lag == {4: 0} and loop.sampled_at == 55.0 and sampler.failing
    assert counted == [1, 1, 1, 1]  # the other samples run all the same


async def test_a_failing_gauge_hook_does_not_stop_the_sampling() -> None:
    reader = Reader()
    sampler = LagSampler(reader, clock=lambda: 7.0)
    loop = Watched("lag.hooks", "lag.events", Pulse())
    loop.pulse.owned = {1: None}
    reader.offsets = Offsets({1: 3}, {1: 0}, {1: 5})
    sampler.loops.append(loop)

    def broken() -> None:
        raise ValueError("a gauge that fails")

    sampler.also.append(broken)
    await sampler.sample()
    await sampler.sample()
    assert loop.lag == {1: 2} and loop.sampled_at == 7.0 and len(reader.calls) == 2
