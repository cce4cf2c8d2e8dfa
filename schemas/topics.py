"""The topic catalogue: every Kafka topic Podium reads or writes, with its key, value type,
partition count and configuration. No other module spells a topic name.

A deployment (or a test) may put all topics under a namespace prefix; `Topic.named(prefix)`
gives the concrete name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

FOREVER = "-1"
WEEK_MS = str(7 * 24 * 3600 * 1000)


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    key: str
    value: str
    partitions: int
    config: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def named(self, prefix: str = "") -> str:
        return f"{prefix}{self.name}"


def _config(**entries: str) -> Mapping[str, str]:
    return MappingProxyType({k.replace("_", "."): v for k, v in entries.items()})


EVENTS = Topic(
    "podium.events",
    key="user id",
    value="Command (schemas.commands)",
    partitions=12,
    config=_config(cleanup_policy="delete", retention_ms=FOREVER, retention_bytes=FOREVER),
)
EVENTS_DLQ = Topic(
    "podium.events.dlq",
    key="original key",
    value="DeadLetter (schemas.records)",
    partitions=1,
    config=_config(cleanup_policy="delete", retention_ms=FOREVER),
)
STATE = Topic(
    "podium.state",
    key="user id",
    value="UserState (schemas.state)",
    partitions=12,
    config=_config(cleanup_policy="compact", min_compaction_lag_ms="0"),
)
PROGRESS = Topic(
    "podium.progress",
    key="user id",
    value="Progress (schemas.records)",
    partitions=12,
    config=_config(cleanup_policy="delete", retention_ms=WEEK_MS),
)
ACHIEVEMENTS = Topic(
    "podium.achievements",
    key="user id",
    value="AchievementCompleted (schemas.records)",
    partitions=12,
    config=_config(cleanup_policy="delete", retention_ms=FOREVER),
)
STREAKS = Topic(
    "podium.streaks",
    key="user id",
    value="StreakChanged (schemas.records)",
    partitions=12,
    config=_config(cleanup_policy="delete", retention_ms=FOREVER),
)

POINTS = Topic(
    "podium.points",
    key="user id",
    value="PointsChanged (schemas.points)",
    partitions=12,
    config=_config(cleanup_policy="delete", retention_ms=FOREVER),
)

CATALOGUE: tuple[Topic, ...] = (
    EVENTS,
    EVENTS_DLQ,
    STATE,
    PROGRESS,
    ACHIEVEMENTS,
    STREAKS,
    POINTS,
)


# --- names under a prefix, and the identifiers derived from them ----------------------------


@dataclass(frozen=True, slots=True)
class Names:
    """The concrete topic names, consumer group and transactional ids under one prefix."""

    prefix: str = ""

    @property
    def events(self) -> str:
        return EVENTS.named(self.prefix)

    @property
    def dlq(self) -> str:
        return EVENTS_DLQ.named(self.prefix)

    @property
    def state(self) -> str:
        return STATE.named(self.prefix)

    @property
    def progress(self) -> str:
        return PROGRESS.named(self.prefix)

    @property
    def achievements(self) -> str:
        return ACHIEVEMENTS.named(self.prefix)

    @property
    def streaks(self) -> str:
        return STREAKS.named(self.prefix)

    @property
    def points(self) -> str:
        return POINTS.named(self.prefix)

    @property
    def worker_group(self) -> str:
        """The stream workers' consumer group (its committed offsets say what was applied)."""
        return f"{self.prefix}podium.worker"

    def transactional_id(self, partition: int) -> str:
        """One transactional producer per input partition: a new owner's init fences the old."""
        return f"{self.prefix}podium.worker.{EVENTS.name}.{partition}"
