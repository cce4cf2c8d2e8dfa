"""Liveness and readiness of a Podium process, from what its consumer loops show.

- Live: the event loop turns (a heartbeat task ticks every second) and each consumer loop
  polled its consumer within `live_poll_s` or is in a known wait (committing, taking
  partitions, rebuilding the views: each an await on the broker or Redis), so a broker outage
  never fails liveness, while a fold that spins or a loop stuck outside those waits does.
- Ready: the process owns partitions, and each owned partition is at most `ready_lag_records`
  behind its topic's end, from a lag sample no older than `stale_s` (`processors.runtime.lag`
  takes them); a loop in a wait marked `unready` (the projector's rebuild) is not ready.

Pure but for the clock, which is an argument: the probes' HTTP server
(`processors.runtime.ops_server`) asks from its own thread, so the loop's state is read, never
changed, here; a loop writes only its `Pulse`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    reason: str


class Pulse:
    """What one consumer loop shows its probes: when it last polled, the partitions it owns
    and the known waits it is in (several tasks of the loop may wait at once: counted)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.last_poll = clock()  # a loop that has not polled yet counts from its start
        self.owned: Collection[int] = ()
        self.waits: dict[str, int] = {}  # what it waits for -> how many tasks wait for it
        self.since = self.last_poll  # when the first of the current waits began
        self.unready = 0  # waits that make the process not ready (a rebuild)

    def polled(self) -> None:
        self.last_poll = self.clock()

    @property
    def waiting(self) -> str | None:
        try:
            return next(iter(tuple(self.waits)), None)
        except RuntimeError:  # changed by the loop's thread during the copy
            return "a wait"

    @contextmanager
    def wait(self, what: str, *, unready: bool = False) -> Iterator[None]:
        """A known wait: the loop polls no more meanwhile, and is not wedged (an await on the
        broker or Redis). Leaving it counts as a turn of the loop."""
        if not self.waits:
            self.since = self.clock()
        self.waits[what] = self.waits.get(what, 0) + 1
        self.unready += unready
        try:
            yield
        finally:
            self.unready -= unready
            left = self.waits.pop(what) - 1
            if left:
                self.waits[what] = left
            self.last_poll = self.clock()


class Heartbeat:
    """The event loop's own turn: a task that notes the time every `every_s`. A fold that
    spins blocks it, a wait on the broker does not."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.last = clock()

    async def run(self, every_s: float = 1.0) -> None:
        while True:
            self.last = self.clock()
            await asyncio.sleep(every_s)


def liveness(pulse: Pulse, now: float, bound_s: float, beat: float) -> Verdict:
    """Alive: the event loop turns (`beat`, the heartbeat's last turn, is recent) and the
    consumer loop polled recently or is in a known wait."""
    if now - beat > bound_s:
        return Verdict(False, f"the event loop has not turned for {now - beat:.1f} s")
    waiting = pulse.waiting
    if waiting is not None:
        return Verdict(True, f"waiting ({waiting}) for {now - pulse.since:.1f} s")
    silent = now - pulse.last_poll
    if silent <= bound_s:
        return Verdict(True, f"last poll {silent:.1f} s ago")
    return Verdict(False, f"no poll for {silent:.1f} s (the bound is {bound_s:g} s)")


@dataclass
class Watched:
    """One consumer loop as the probes and the lag sampler see it: its group and topic, its
    pulse, and the latest lag sample of its owned partitions (written by the sampler)."""

    group: str
    topic: str
    pulse: Pulse
    lag: Mapping[int, int] = field(default_factory=dict)  # partition -> records behind
    sampled_at: float | None = None


def owned_now(pulse: Pulse) -> tuple[int, ...]:
    """The loop's owned partitions, copied (the loop's thread may change them meanwhile)."""
    for _ in range(3):
        try:
            return tuple(sorted(pulse.owned))
        except RuntimeError:  # changed size during the copy
            continue
    return tuple(sorted(pulse.owned))


def readiness(loops: Sequence[Watched], now: float, max_lag: int, stale_s: float) -> Verdict:
    owned = 0
    for loop in loops:
        if loop.pulse.unready:
            return Verdict(False, f"{loop.group}: {loop.pulse.waiting}")
        partitions = owned_now(loop.pulse)
        owned += len(partitions)
        if not partitions:
            continue
        lag, at = loop.lag, loop.sampled_at  # the sampler replaces both, never changes them
        if at is None or now - at > stale_s:
            return Verdict(False, f"{loop.group}: no recent lag sample")
        unknown = [p for p in partitions if p not in lag]
        if unknown:
            return Verdict(False, f"{loop.group}: lag not sampled yet for partitions {unknown}")
        behind = {p: lag[p] for p in partitions if lag[p] > max_lag}
        if behind:
            return Verdict(False, f"{loop.group}: behind by more than {max_lag} records: {behind}")
    if owned == 0:
        return Verdict(False, "owns no partitions")
    return Verdict(True, f"owns {owned} partitions, each within {max_lag} records of the end")


@dataclass
class LoopProbes:
    """The probes of a consumer process (worker, ranker, projector): its loops' verdicts."""

    loops: list[Watched]
    heartbeat: Heartbeat
    live_s: float = 30.0
    max_lag: int = 10_000
    stale_s: float = 30.0
    clock: Callable[[], float] = time.monotonic

    def live(self) -> Verdict:
        now = self.clock()
        if not self.loops:
            return Verdict(True, "starting")
        beat = self.heartbeat.last
        verdicts = [liveness(loop.pulse, now, self.live_s, beat) for loop in self.loops]
        failed = [v for v in verdicts if not v.ok]
        return failed[0] if failed else verdicts[0]

    def ready(self) -> Verdict:
        return readiness(self.loops, self.clock(), self.max_lag, self.stale_s)
