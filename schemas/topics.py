"""The topic catalogue: every Kafka topic Podium reads or writes, with its key, value type,
partition count and configuration. No other module spells a topic name.

A deployment (or a test) may put all topics under a namespace prefix; `Topic.named(prefix)`
gives the concrete name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Generic, TypeVar, get_args

from schemas import commands, leaderboards, records, state, webhooks

FOREVER = "-1"
WEEK_MS = str(7 * 24 * 3600 * 1000)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Codec(Generic[T]):
    """How one side (key or value) of a topic's records is written and read."""

    type: Any  # the decoded type (a class or a union of classes)
    encode: Callable[[T], bytes]
    decode: Callable[[bytes], T]
    description: str


def _raw(raw: bytes) -> bytes:
    return raw


USER_ID: Codec[str] = Codec(str, str.encode, bytes.decode, "user id (UTF-8)")
ORIGINAL_KEY: Codec[bytes] = Codec(bytes, _raw, _raw, "the dead record's original key bytes")
COMMAND: Codec[commands.Command] = Codec(
    commands.Command,
    commands.encode_command,
    commands.decode_command,
    "Command (schemas.commands)",
)
STATE_VALUE: Codec[state.UserState] = Codec(
    state.UserState, state.encode_state, state.decode_state, "UserState (schemas.state)"
)


def _records(kind: Any, name: str) -> Codec[Any]:
    """A derived record topic's codec; decoding any other record type is refused."""

    def decode(raw: bytes) -> Any:
        rec = records.decode_record(raw)
        if not isinstance(rec, kind):
            raise commands.InvalidRecord(
                f"type: expected a {name} record, got {type(rec).__name__}"
            )
        return rec

    return Codec(kind, records.encode_record, decode, f"{name} (schemas.records)")


RANKING_KEY: Codec[str] = Codec(
    str, str.encode, bytes.decode, "ranking key board|run|group (UTF-8)"
)


def _leaderboard(kind: Any, name: str) -> Codec[Any]:
    """A leaderboard record topic's codec; decoding the other record type is refused."""

    def decode(raw: bytes) -> Any:
        rec = leaderboards.decode_leaderboard_record(raw)
        if not isinstance(rec, kind):
            raise commands.InvalidRecord(
                f"type: expected a {name} record, got {type(rec).__name__}"
            )
        return rec

    return Codec(
        kind, leaderboards.encode_leaderboard_record, decode, f"{name} (schemas.leaderboards)"
    )


@dataclass(frozen=True, slots=True)
class Topic:
    """One topic: its name, the codecs of its keys and values, partitions and config."""

    name: str
    key: Codec[Any]
    value: Codec[Any]
    partitions: int
    config: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def named(self, prefix: str = "") -> str:
        return f"{prefix}{self.name}"

    def __hash__(self) -> int:  # a topic is its name (the config mapping is not hashable)
        return hash(self.name)


def _config(**entries: str) -> Mapping[str, str]:
    return MappingProxyType({k.replace("_", "."): v for k, v in entries.items()})


EVENTS = Topic(
    "podium.events",
    key=USER_ID,
    value=COMMAND,
    partitions=12,
    config=_config(cleanup_policy="delete", retention_ms=FOREVER, retention_bytes=FOREVER),
)
EVENTS_DLQ = Topic(
    "podium.events.dlq",
    key=ORIGINAL_KEY,
    value=_records(records.DeadLetter, "DeadLetter"),
    partitions=1,
    config=_config(cleanup_policy="delete", retention_ms=FOREVER),
)
STATE = Topic(
    "podium.state",
    key=USER_ID,
    value=STATE_VALUE,
    partitions=12,
    config=_config(cleanup_policy="compact", min_compaction_lag_ms="0"),
)
PROGRESS = Topic(
    "podium.progress",
    key=USER_ID,
    # a command's answer: its Progress, or EventRefused when it was dead-lettered
    value=_records(records.Progress | records.EventRefused, "Progress or EventRefused"),
    # a feed, not aligned with the events: the users of the events' partition p go to
    # progress_partition(p, count). One partition is one produce request and one marker per
    # transaction instead of twelve (librdkafka sends a request per partition)
    partitions=1,
    config=_config(cleanup_policy="delete", retention_ms=WEEK_MS),
)
ACHIEVEMENTS = Topic(
    "podium.achievements",
    key=USER_ID,
    value=_records(records.AchievementCompleted, "AchievementCompleted"),
    partitions=12,
    config=_config(cleanup_policy="delete", retention_ms=FOREVER),
)
STREAKS = Topic(
    "podium.streaks",
    key=USER_ID,
    value=_records(records.StreakChanged, "StreakChanged"),
    partitions=12,
    config=_config(cleanup_policy="delete", retention_ms=FOREVER),
)

POINTS = Topic(
    "podium.points",
    key=USER_ID,
    value=_records(records.PointsChanged, "PointsChanged"),
    partitions=12,
    config=_config(cleanup_policy="delete", retention_ms=FOREVER),
)
SCORES = Topic(
    "podium.scores",
    key=RANKING_KEY,
    value=_leaderboard(leaderboards.ScoreChanged, "ScoreChanged"),
    partitions=12,  # a ranking's changes all go to ranking_partition(key, 12), not the user's
    config=_config(cleanup_policy="delete", retention_ms=FOREVER, retention_bytes=FOREVER),
)
LEADERBOARDS = Topic(
    "podium.leaderboards",
    key=RANKING_KEY,
    value=_leaderboard(leaderboards.RankChanged, "RankChanged"),
    partitions=12,  # the ranker writes to its input's partition: as many as podium.scores
    config=_config(cleanup_policy="delete", retention_ms=FOREVER, retention_bytes=FOREVER),
)

RANKING_STATE = Topic(
    "podium.ranking.state",
    key=Codec(str, str.encode, bytes.decode, "board|run|group|user (UTF-8)"),
    value=_leaderboard(leaderboards.ScoreChanged, "ScoreChanged"),
    partitions=12,  # the ranker's changelog: partition p holds the rankings of scores' p
    config=_config(cleanup_policy="compact", min_compaction_lag_ms="0"),
)
"""The ranking stage's compacted changelog: per participant of each ranking, the last score
change it applied (value None: the participant left), so a restore reads one record per
participant rather than all of `podium.scores`."""

WEBHOOKS_DLQ = Topic(
    "podium.webhooks.dlq",
    key=Codec(str, str.encode, bytes.decode, "delivery id (UTF-8)"),
    value=Codec(
        webhooks.WebhookDeadLetter,
        webhooks.encode_webhook_record,
        webhooks.decode_webhook_record,
        "WebhookDeadLetter (schemas.webhooks)",
    ),
    partitions=1,
    config=_config(cleanup_policy="delete", retention_ms=FOREVER),
)
"""The webhook dispatcher's dead letters: deliveries that exhausted their retries (`podium
webhooks redeliver` sends them again) and fact records it could not decode."""
WEBHOOK_FACTS: tuple[Topic, ...] = (ACHIEVEMENTS, STREAKS, POINTS, LEADERBOARDS)
"""The derived topics the webhook dispatcher turns into Trophy's webhooks."""

CATALOGUE: tuple[Topic, ...] = (
    EVENTS,
    EVENTS_DLQ,
    STATE,
    PROGRESS,
    ACHIEVEMENTS,
    STREAKS,
    POINTS,
    SCORES,
    LEADERBOARDS,
    RANKING_STATE,
    WEBHOOKS_DLQ,
)
FACTS: tuple[Topic, ...] = (ACHIEVEMENTS, STREAKS, POINTS)
"""The user-keyed fact topics: every record a fact with a deterministic id (a replay reads
their ids and emits only facts never emitted)."""
FOLD_OUTPUTS: tuple[Topic, ...] = (PROGRESS, *FACTS, SCORES)
"""The topics the fold's derived records go to, one record type each (its value codec's type):
the worker, the replay and `podium tail` route by it."""
_OUTPUT_OF_TYPE: Mapping[type, Topic] = MappingProxyType(
    {kind: t for t in FOLD_OUTPUTS for kind in get_args(t.value.type) or (t.value.type,)}
)
PARTITION_ALIGNED: tuple[Topic, ...] = tuple(
    t for t in CATALOGUE if t.key is USER_ID and t is not PROGRESS
)
"""The topics keyed by user id whose partition p holds the users of `podium.events`' p: their
partition counts must agree (a derived record goes to its input's partition number; the
changelog is restored, and the facts are read by a replay, partition by partition).
`podium.progress` is keyed by user id too, but has a count of its own (`progress_partition`)."""
RANKING_ALIGNED: tuple[Topic, ...] = (SCORES, LEADERBOARDS, RANKING_STATE)
"""The topics keyed by ranking whose partition p holds the rankings of `podium.scores`' p (the
ranker writes to its input's partition number): their counts must agree too."""


def partitioned(
    users: int | None = None,
    rankings: int | None = None,
    topics: tuple[Topic, ...] = CATALOGUE,
    *,
    progress: int | None = None,
) -> tuple[Topic, ...]:
    """The catalogue with `users` partitions on each partition-aligned topic, `rankings` on
    each ranking-aligned one and `progress` on `podium.progress` (None: the catalogue's
    count). Each aligned group moves together, since a derived record goes to its input's
    partition number; the dead letters keep theirs."""
    counts = (
        {t.name: users for t in PARTITION_ALIGNED}
        | {t.name: rankings for t in RANKING_ALIGNED}
        | {PROGRESS.name: progress}
    )
    for count in (users, rankings, progress):
        if count is not None and count < 1:
            raise ValueError(f"a topic needs at least 1 partition, not {count}")
    return tuple(
        replace(t, partitions=n) if (n := counts.get(t.name)) is not None else t for t in topics
    )


def progress_partition(partition: int, progress_partitions: int) -> int:
    """The `podium.progress` partition of the users of `podium.events`' `partition`: each
    user's progress in one partition, in order. When the count divides the events' (1, 2, 3,
    4, 6 of 12) it is where the Java client's partitioner would put the user's key too
    (x mod 12 mod n = x mod n)."""
    return partition % progress_partitions


def output_topic(record_type: type) -> Topic:
    """The topic a derived record of `record_type` goes to (KeyError: not a fold output)."""
    return _OUTPUT_OF_TYPE[record_type]


BY_SHORT_NAME: Mapping[str, Topic] = MappingProxyType(
    {t.name.removeprefix("podium."): t for t in CATALOGUE} | {"dlq": EVENTS_DLQ}
)
"""Every topic by its name without "podium." (the dead letters also as `dlq`): `podium tail`."""

EVENT_ID_OF_PROGRESS: Callable[[bytes], str | None] = records.progress_event_id
"""The gateway's cheap look-up of a `podium.progress` value's event id (beside its codec)."""


# --- names under a prefix, and the identifiers derived from them ----------------------------


@dataclass(frozen=True, slots=True)
class Names:
    """The concrete topic names, consumer groups and transactional ids under one prefix.
    No other module spells a consumer group name."""

    prefix: str = ""

    def of(self, topic: Topic) -> str:
        """The concrete name of a catalogued topic under this prefix."""
        return topic.named(self.prefix)

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
    def scores(self) -> str:
        return SCORES.named(self.prefix)

    @property
    def leaderboards(self) -> str:
        return LEADERBOARDS.named(self.prefix)

    @property
    def ranking_state(self) -> str:
        return RANKING_STATE.named(self.prefix)

    @property
    def worker_group(self) -> str:
        """The stream workers' consumer group (its committed offsets say what was applied)."""
        return f"{self.prefix}podium.worker"

    @property
    def projector_group(self) -> str:
        """The projector's consumer group (its committed offsets say what the views hold)."""
        return f"{self.prefix}podium.projector"

    @property
    def board_views_group(self) -> str:
        """The projector's group for the leaderboard views (`podium.ranking.state`)."""
        return f"{self.prefix}podium.projector.boards"

    @property
    def board_history_group(self) -> str:
        """The projector's group for the participants' daily histories (`podium.leaderboards`)."""
        return f"{self.prefix}podium.projector.history"

    @property
    def ranking_group(self) -> str:
        """The ranking stage's consumer group (its committed offsets on `podium.scores`)."""
        return f"{self.prefix}podium.ranking"

    @property
    def webhooks_dlq(self) -> str:
        return WEBHOOKS_DLQ.named(self.prefix)

    def webhooks_group(self, endpoint: str) -> str:
        """The webhook dispatcher's consumer group of one endpoint (its committed offsets say
        what was delivered or dead-lettered there): one group per endpoint, so a dead endpoint
        holds back only its own offsets."""
        return f"{self.prefix}podium.webhooks.{endpoint}"

    def webhooks_redeliver_group(self, endpoint: str) -> str:
        """`podium webhooks redeliver`'s group of one endpoint on `podium.webhooks.dlq`: what
        an earlier run already sent again."""
        return f"{self.prefix}podium.webhooks.redeliver.{endpoint}"
