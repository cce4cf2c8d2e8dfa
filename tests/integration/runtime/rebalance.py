"""How long each input partition went unserved at each change of the worker group, read from
the workers' own logs (`processors.runtime.runner`): a partition is served by a worker from
its "took partitions" line until its "revoked partitions", "lost partitions" or "partitions
[..]: uncommitted work dropped" line (a failed commit: retaken at once), or, for a worker
stopped without one, the moment the test stopped it; a gap runs from the end of one service
to the start of the next. Gaps that start together belong to one rebalance (a round): a
worker's join is seen by the group only once its process has started and joined, so rounds
are found from the logs, not from when the test asked for a change."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import datetime

STAMP = r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \w+ [\w.]+: "
LINE = re.compile(STAMP + r"(took|revoked|lost) partitions \[([\d, ]*)\]")
# a failed commit: every owned partition dropped, retaken from its commit
DROPPED = re.compile(STAMP + r"partitions \[([\d, ]*)\]: uncommitted work (dropped)")


@dataclass(frozen=True)
class Gap:
    partition: int
    start: float  # epoch seconds: the partition's previous service ended
    end: float  # the next began

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Round:
    """The gaps of one rebalance, and the last change the test asked for before it."""

    after: str
    gaps: list[Gap]

    @property
    def longest(self) -> float:
        return max(g.seconds for g in self.gaps)


def moments(log: str) -> list[tuple[float, str, list[int]]]:
    """(epoch seconds, "took" or "revoked", partitions) of each such line of a log; lost
    partitions, and those a failed commit dropped, count as revoked."""
    out = []
    for line in log.splitlines():
        took = LINE.match(line)
        if took is not None:
            what = "took" if took[2] == "took" else "revoked"
            out.append((_epoch(took[1]), what, _numbers(took[3])))
        elif (dropped := DROPPED.match(line)) is not None:
            out.append((_epoch(dropped[1]), "revoked", _numbers(dropped[2])))
    return out


def _numbers(listed: str) -> list[int]:
    return [int(p) for p in listed.split(",") if p.strip()]


def _epoch(stamp: str) -> float:
    """A log line's time (this machine's local time, as the logs write it)."""
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()  # noqa: DTZ007


def services(log: str, stopped_at: float | None) -> list[tuple[int, float, float]]:
    """(partition, from, to) of each time this worker served a partition."""
    serving: dict[int, float] = {}
    out = []
    for when, what, parts in moments(log):
        for p in parts:
            if what == "took":
                serving[p] = when
            elif p in serving:
                out.append((p, serving.pop(p), when))
    end = float("inf") if stopped_at is None else stopped_at
    out += [(p, since, max(end, since)) for p, since in serving.items()]
    return out


def gaps(logs: dict[str, str], stopped: dict[str, float]) -> list[Gap]:
    """Every gap between two services of a partition, by start."""
    spans: dict[int, list[tuple[float, float]]] = {}
    for name, log in logs.items():
        for p, since, until in services(log, stopped.get(name)):
            spans.setdefault(p, []).append((since, until))
    out = []
    for p, served in sorted(spans.items()):
        served.sort()
        for (_, end), (start, _) in itertools.pairwise(served):
            if start > end:
                out.append(Gap(p, end, start))
    return sorted(out, key=lambda g: g.start)


def rounds(found: list[Gap], changes: list[tuple[float, str]], apart: float = 2.0) -> list[Round]:
    """The gaps grouped by rebalance: a gap starting more than `apart` seconds after the
    previous one starts a new round. `changes`: (epoch seconds, what) the test asked for."""
    out: list[Round] = []
    last = float("-inf")
    for gap in found:
        if gap.start - last > apart:
            asked = [what for at, what in changes if at <= gap.start]
            out.append(Round(asked[-1] if asked else "start", []))
        out[-1].gaps.append(gap)
        last = gap.start
    return out
