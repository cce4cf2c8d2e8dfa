"""`podium tail TOPIC`: print a topic live, one readable line per record."""

from __future__ import annotations

from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer

from deploy.settings import Settings
from processors.projector import partitions, stop
from schemas.commands import InvalidRecord, MetricTracked, decode_command
from schemas.leaderboards import RankChanged, decode_leaderboard_record
from schemas.records import (
    AchievementCompleted,
    DeadLetter,
    Progress,
    StreakChanged,
    decode_record,
)
from schemas.topics import (
    ACHIEVEMENTS,
    EVENTS,
    EVENTS_DLQ,
    LEADERBOARDS,
    PROGRESS,
    SCORES,
    STREAKS,
    Topic,
)

TOPICS: dict[str, Topic] = {
    "progress": PROGRESS,
    "achievements": ACHIEVEMENTS,
    "streaks": STREAKS,
    "events": EVENTS,
    "dlq": EVENTS_DLQ,
    "scores": SCORES,
    "leaderboards": LEADERBOARDS,
}


def _at(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def describe(topic: str, raw: bytes | None) -> str:
    """One line for a record of `topic` ("events" or a derived topic)."""
    if raw is None:
        return "(tombstone)"
    try:
        if topic == "events":
            cmd = decode_command(raw)
            if isinstance(cmd, MetricTracked):
                return (
                    f"{_at(cmd.time_ms)}  user {cmd.user.id}  {cmd.metric} "
                    f"{cmd.value:+}  event {cmd.event_id}"
                )
            return f"{_at(cmd.time_ms)}  {type(cmd).__name__}  event {cmd.event_id}"
        if topic in ("scores", "leaderboards"):
            return _describe_board(raw)
        rec = decode_record(raw)
    except InvalidRecord as exc:
        return f"(undecodable: {exc.reason})"
    if isinstance(rec, Progress):
        extra = f"  {rec.metric} total {rec.total}" if rec.metric else ""
        done = ", ".join(a.achievement for a in rec.achievements)
        streak = f"  streak {rec.streak.length}" if rec.streak else ""
        replay = "  (replayed)" if rec.replayed else ""
        unlocked = f"  unlocked: {done}" if done else ""
        return (
            f"{_at(rec.time_ms)}  user {rec.user_id}  {rec.command}{extra}{streak}"
            f"{unlocked}{replay}"
        )
    if isinstance(rec, AchievementCompleted):
        return (
            f"{_at(rec.achieved_at_ms)}  user {rec.user_id}  completed "
            f"{rec.achievement!r} ({rec.trigger}){'  backfilled' if rec.backfilled else ''}"
        )
    if isinstance(rec, StreakChanged):
        return (
            f"{_at(rec.time_ms)}  user {rec.user_id}  streak {rec.kind}  length "
            f"{rec.length} ({rec.frequency}, period {rec.period_start})"
        )
    assert isinstance(rec, DeadLetter)
    return f"dead letter {rec.id}: {rec.reason}"


def _describe_board(raw: bytes) -> str:
    rec = decode_leaderboard_record(raw)
    where = f"{rec.board} run {rec.run}" + (f" group {rec.group}" if rec.group else "")
    if isinstance(rec, RankChanged):
        return (
            f"{_at(rec.time_ms)}  user {rec.user_id}  {where}  rank {rec.previous_rank} -> "
            f"{rec.rank}  value {rec.value}  of {rec.participants}"
        )
    return f"{_at(rec.time_ms)}  user {rec.user_id}  {where}  score {rec.previous} -> {rec.value}"


async def tail(settings: Settings, name: str, from_beginning: bool, limit: int = 0) -> None:
    topic = TOPICS[name].named(settings.topic_prefix)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap,
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        tps = await partitions(consumer, topic)
        if not tps:
            print(f"topic {topic} does not exist (is the stack up? `podium up`)")
            return
        consumer.assign(tps)
        if from_beginning:
            await consumer.seek_to_beginning(*tps)
        else:
            await consumer.seek_to_end(*tps)
        print(f"tailing {topic} ({len(tps)} partitions); Ctrl-C stops", flush=True)
        shown = 0
        async for rec in consumer:
            print(describe(name, rec.value), flush=True)
            shown += 1
            if limit and shown >= limit:
                return
    finally:
        await stop(consumer)
