"""`podium tail TOPIC`: print any topic of the catalogue live, one readable line per record."""

from __future__ import annotations

from datetime import UTC, datetime

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, TopicPartition

from deploy.settings import Settings
from processors.runtime import kafka, kafka_async
from schemas.commands import Command, MetricTracked
from schemas.leaderboards import RankChanged, ScoreChanged
from schemas.records import (
    AchievementCompleted,
    DeadLetter,
    PointsChanged,
    Progress,
    StreakChanged,
)
from schemas.state import UserState
from schemas.topics import BY_SHORT_NAME as TOPICS
from schemas.webhooks import WebhookDeadLetter


def _at(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def describe(topic: str, raw: bytes | None) -> str:
    """One line for a record of `topic` (`schemas.topics.BY_SHORT_NAME`), decoded with the
    topic's codec."""
    if raw is None:
        return "(tombstone)"
    try:
        value = TOPICS[topic].value.decode(raw)
    except Exception as exc:  # any decode failure is shown, never raised: this only prints
        return f"(undecodable: {getattr(exc, 'reason', exc)})"
    return _line(value)


def _line(value: object) -> str:
    match value:
        case Progress():
            return _progress(value)
        case AchievementCompleted():
            return (
                f"{_at(value.achieved_at_ms)}  user {value.user_id}  completed "
                f"{value.achievement!r} ({value.trigger}){_backfilled(value.backfilled)}"
            )
        case StreakChanged():
            return (
                f"{_at(value.time_ms)}  user {value.user_id}  streak {value.kind}  length "
                f"{value.length} ({value.frequency}, period {value.period_start})"
            )
        case PointsChanged():
            level = f"  level {value.previous_level} -> {value.level}" if value.level else ""
            return (
                f"{_at(value.time_ms)}  user {value.user_id}  {value.system} {value.added:+}  "
                f"total {value.total}{level}{_backfilled(value.backfilled)}"
            )
        case ScoreChanged() | RankChanged():
            return _board(value)
        case UserState():
            return f"user {value.user_id}  state applied through offset {value.offset}"
        case DeadLetter():
            return f"dead letter {value.id}: {value.reason}"
        case WebhookDeadLetter():
            return (
                f"{_at(value.time_ms)}  webhook {value.webhook_type or '(undecodable fact)'} to "
                f"{value.endpoint}, user {value.user_id}: {value.reason} ({value.id})"
            )
    return _command(value)  # type: ignore[arg-type]  # podium.events: the value is a Command


def _command(cmd: Command) -> str:
    if isinstance(cmd, MetricTracked):
        return (
            f"{_at(cmd.time_ms)}  user {cmd.user.id}  {cmd.metric} "
            f"{cmd.value:+}  event {cmd.event_id}"
        )
    return f"{_at(cmd.time_ms)}  {type(cmd).__name__}  event {cmd.event_id}"


def _progress(rec: Progress) -> str:
    extra = f"  {rec.metric} total {rec.total}" if rec.metric else ""
    done = ", ".join(a.achievement for a in rec.achievements)
    streak = f"  streak {rec.streak.length}" if rec.streak else ""
    replay = "  (replayed)" if rec.replayed else ""
    unlocked = f"  unlocked: {done}" if done else ""
    return f"{_at(rec.time_ms)}  user {rec.user_id}  {rec.command}{extra}{streak}{unlocked}{replay}"


def _backfilled(flag: bool) -> str:
    return "  backfilled" if flag else ""


def _board(rec: ScoreChanged | RankChanged) -> str:
    where = f"{rec.board} run {rec.run}" + (f" group {rec.group}" if rec.group else "")
    if isinstance(rec, RankChanged):
        return (
            f"{_at(rec.time_ms)}  user {rec.user_id}  {where}  rank {rec.previous_rank} -> "
            f"{rec.rank}  value {rec.value}  of {rec.participants}"
        )
    return f"{_at(rec.time_ms)}  user {rec.user_id}  {where}  score {rec.previous} -> {rec.value}"


async def tail(settings: Settings, name: str, from_beginning: bool, limit: int = 0) -> None:
    topic = TOPICS[name].named(settings.topic_prefix)
    try:
        count = await kafka.wait_for_topic(settings.bootstrap, topic, within=5.0)
    except kafka.TopicMissing:
        print(f"topic {topic} does not exist (is the stack up? `podium up`)")
        return
    consumer = kafka_async.async_consumer(settings.bootstrap, client_id="podium-tail")
    try:
        start = OFFSET_BEGINNING if from_beginning else OFFSET_END
        consumer.client.assign([TopicPartition(topic, p, start) for p in range(count)])
        each = "partition" if count == 1 else "partitions"
        print(f"tailing {topic} ({count} {each}); Ctrl-C stops", flush=True)
        shown = 0
        while True:
            for msg in await consumer.consume(500, 0.5):
                if not kafka.is_record(msg):
                    continue
                print(describe(name, msg.value()), flush=True)
                shown += 1
                if limit and shown >= limit:
                    return
    finally:
        await consumer.close()
