"""Liveness and readiness (processors.runtime.health) on a hand-driven clock: a loop that stops
polling is not live, one in a known wait (a commit, a take: a broker outage) is, unless the
event loop itself stopped turning; a process is ready only while it owns partitions that are
each caught up within the bound, from a recent lag sample."""

from __future__ import annotations

from processors.runtime.health import (
    Heartbeat,
    LoopProbes,
    Pulse,
    Watched,
    liveness,
    readiness,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def probes(clock: Clock, *loops: Watched) -> LoopProbes:
    return LoopProbes(
        list(loops), Heartbeat(clock), live_s=30, max_lag=100, stale_s=20, clock=clock
    )


def test_a_loop_that_stops_polling_is_not_live() -> None:
    clock = Clock()
    pulse = Pulse(clock)
    clock.now += 29
    assert liveness(pulse, clock.now, 30, beat=clock.now).ok  # 29 s since its start
    pulse.polled()
    clock.now += 30
    assert liveness(pulse, clock.now, 30, beat=clock.now).ok  # exactly the bound
    clock.now += 0.5
    verdict = liveness(pulse, clock.now, 30, beat=clock.now)
    assert not verdict.ok and "no poll for 30.5 s" in verdict.reason


def test_a_known_wait_is_live_however_long_while_the_event_loop_turns() -> None:
    clock = Clock()
    pulse = Pulse(clock)
    with pulse.wait("committing"):
        clock.now += 600  # a broker outage: the commit waits ten minutes
        verdict = liveness(pulse, clock.now, 30, beat=clock.now - 1)
        assert verdict.ok and "committing" in verdict.reason
        # a fold that spins blocks the event loop: its heartbeat stops, the wait is no excuse
        stalled = liveness(pulse, clock.now, 30, beat=clock.now - 31)
        assert not stalled.ok and "event loop" in stalled.reason
    # leaving the wait counts as a turn: not wedged right after a long commit
    assert liveness(pulse, clock.now + 1, 30, beat=clock.now).ok
    assert not liveness(pulse, clock.now + 31, 30, beat=clock.now + 31).ok


def test_overlapping_waits_of_several_tasks_end_with_the_last() -> None:
    clock = Clock()
    pulse = Pulse(clock)
    first, second = pulse.wait("committing"), pulse.wait("committing")
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # one partition's commit ends, another's goes on
    assert pulse.waiting == "committing"
    second.__exit__(None, None, None)
    assert pulse.waiting is None and pulse.waits == {}


def test_the_probes_fail_liveness_with_the_first_stalled_loop() -> None:
    clock = Clock()
    quick, stalled = Watched("g1", "t1", Pulse(clock)), Watched("g2", "t2", Pulse(clock))
    heart = probes(clock, quick, stalled)
    clock.now += 40
    heart.heartbeat.last = clock.now
    quick.pulse.polled()
    verdict = heart.live()
    assert not verdict.ok and "no poll for 40.0 s" in verdict.reason


def sampled(loop: Watched, at: float, lag: dict[int, int]) -> Watched:
    loop.lag, loop.sampled_at = lag, at
    return loop


def test_ready_only_while_owning_partitions_each_within_the_bound() -> None:
    clock = Clock()
    loop = Watched("podium.worker", "podium.events", Pulse(clock))
    verdict = readiness([loop], clock.now, 100, 20)
    assert not verdict.ok and verdict.reason == "owns no partitions"
    loop.pulse.owned = {0: "owned", 3: "owned"}  # the runner's dict: its keys are partitions
    assert "no recent lag sample" in readiness([loop], clock.now, 100, 20).reason
    sampled(loop, clock.now, {0: 5})
    assert "not sampled yet for partitions [3]" in readiness([loop], clock.now, 100, 20).reason
    sampled(loop, clock.now, {0: 5, 3: 101})
    behind = readiness([loop], clock.now, 100, 20)
    assert not behind.ok and "{3: 101}" in behind.reason
    sampled(loop, clock.now, {0: 5, 3: 100})
    assert readiness([loop], clock.now, 100, 20).ok
    assert not readiness([loop], clock.now + 21, 100, 20).ok  # the sample went stale


def test_a_process_with_several_loops_is_ready_when_one_owns_partitions() -> None:
    """Two projectors share the board loops' single partitions: the one that owns only a
    state partition is ready too."""
    clock = Clock()
    state, boards = Watched("p", "state", Pulse(clock)), Watched("b", "boards", Pulse(clock))
    state.pulse.owned = {1}
    sampled(state, clock.now, {1: 0})
    sampled(boards, clock.now, {})
    assert probes(clock, state, boards).ready().ok


def test_a_rebuild_makes_the_process_not_ready_while_it_lives() -> None:
    clock = Clock()
    loop = sampled(Watched("p", "state", Pulse(clock)), clock.now, {0: 0})
    loop.pulse.owned = {0}
    with loop.pulse.wait("rebuilding the views", unready=True):
        clock.now += 100
        verdict = readiness([loop], clock.now - 100, 100, 20)
        assert not verdict.ok and "rebuilding the views" in verdict.reason
        assert liveness(loop.pulse, clock.now, 30, beat=clock.now).ok
    assert readiness([loop], clock.now - 100, 100, 20).ok
