"""A per-partition circuit breaker for the gateway's writes (`ingest.kafka.Publisher`).

When the controller quorum is lost (two of three combined broker-controllers down) the
metadata freezes: every partition still shows a leader and a full in-sync set, yet no write
is acknowledged. Only the writes themselves tell: a write that times out unacknowledged opens
its partitions' breakers, and their writes are refused at once (503, not recorded) for a
cool-down of `FIRST_COOL_DOWN_S`; then one trial write goes through (half-open). A trial that
times out too doubles the cool-down, up to `MAX_COOL_DOWN_S`; an acknowledged write closes
its partition's breaker, and so does any change of its leader or in-sync set in the metadata
(the cluster acted: a dead broker fenced, its partitions moved)."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass

FIRST_COOL_DOWN_S = 10.0
MAX_COOL_DOWN_S = 60.0


@dataclass
class _Open:
    until: float  # refused until then
    cool_down_s: float
    seen: Hashable  # the partition's leader and in-sync set when it opened
    trial: bool = False  # a trial write went through (refused meanwhile: `until` moved on)


class Breaker:
    def __init__(self, trial_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.trial_s = trial_s  # how long a trial write may take (the write's timeout)
        self.clock = clock
        self._open: dict[int, _Open] = {}

    def refuses(self, partition: int) -> bool:
        """Whether a write to `partition` is refused now; False lets one trial through."""
        state, now = self._open.get(partition), self.clock()
        if state is None:
            return False
        if now < state.until:
            return True
        # the others wait for the trial; one that failed otherwise than by timing out
        # (nothing to learn from) is followed by another once it would have timed out
        state.trial, state.until = True, now + self.trial_s
        return False

    def closed(self, partitions: Iterable[int]) -> bool:
        """Whether a write to one of `partitions` could go through now (or as a trial)."""
        now = self.clock()
        return any(
            p not in self._open or self._open[p].until <= now or self._open[p].trial
            for p in partitions
        )

    def timed_out(self, partitions: Iterable[int], seen: Mapping[int, Hashable]) -> None:
        """Writes to `partitions` timed out unacknowledged: open, or after a failed trial
        double the cool-down. A write handed over before the breaker opened fails within
        the cool-down and changes nothing."""
        now = self.clock()
        for p in partitions:
            state = self._open.get(p)
            if state is None:
                then = seen.get(p)
                self._open[p] = _Open(now + FIRST_COOL_DOWN_S, FIRST_COOL_DOWN_S, then)
            elif state.trial:
                state.cool_down_s = min(2 * state.cool_down_s, MAX_COOL_DOWN_S)
                state.until, state.trial = now + state.cool_down_s, False

    def opened(self) -> bool:
        """Whether the breaker of some partition is open (or half-open)."""
        return bool(self._open)

    def acknowledged(self, partitions: Iterable[int]) -> None:
        for p in partitions:
            self._open.pop(p, None)

    def metadata(self, seen: Mapping[int, Hashable]) -> None:
        """Close the breaker of a partition whose leader or in-sync set changed since it
        opened: writes that waited on a dead broker go through once the controller fenced it."""
        for p in [p for p, s in self._open.items() if seen.get(p, s.seen) != s.seen]:
            del self._open[p]
