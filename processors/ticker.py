"""`podium tick`: settle the streaks and the time points triggers of inactive users by writing
`ClockTicked` commands to `podium.events` (so a replay sees the very same ticks).

Reads the latest states from `podium.state`; for every user with an active streak whose
streak a tick at `at_ms` would change (a missed period: freeze consumed or streak lost, or a
freeze earned), or with a time points trigger interval ended since its last command, writes
one tick keyed by the user id. The tick's event id is
`tick:{at_ms}:{user}`, so running the same tick twice changes nothing (the fold drops a
repeated event id). Run it from cron, e.g. hourly; the fold applies `close_periods`.
"""

from __future__ import annotations

import logging

from aiokafka import AIOKafkaProducer

from deploy.settings import Settings
from processors import points
from processors.fold import close_periods
from processors.runtime.changelog import partition_count, read_latest
from schemas.commands import ClockTicked, encode_command
from schemas.rules import Rules, load_rules
from schemas.state import decode_state
from schemas.topics import Names

log = logging.getLogger("podium.tick")


def ticks_due(latest: dict[str, bytes], at_ms: int, rules: Rules) -> list[ClockTicked]:
    """The ticks to write for these states (user id -> state bytes)."""
    out = []
    for uid, raw in sorted(latest.items()):
        state = decode_state(raw)
        if rules.points_index.time and points.due(state, at_ms, rules):
            out.append(ClockTicked(event_id=f"tick:{at_ms}:{uid}", time_ms=at_ms, user_id=uid))
            continue
        if state.streak.length == 0:
            continue
        _, changes = close_periods(state, at_ms, rules)
        if changes:
            out.append(ClockTicked(f"tick:{at_ms}:{uid}", at_ms, uid))
    return out


async def emit_ticks(settings: Settings, at_ms: int, rules: Rules | None = None) -> int:
    """Write the due ticks; returns how many."""
    rules = rules or load_rules(settings.rules_path)
    names = Names(settings.topic_prefix)
    count = await partition_count(settings.bootstrap, names.state)
    latest = await read_latest(settings.bootstrap, names.state, range(count))
    ticks = [t for users in latest.values() for t in ticks_due(users, at_ms, rules)]
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    try:
        for tick in ticks:
            await producer.send(names.events, encode_command(tick), key=tick.user_id.encode())
        await producer.flush()
    finally:
        await producer.stop()
    log.info("wrote %d ticks at %d to %s", len(ticks), at_ms, names.events)
    return len(ticks)
