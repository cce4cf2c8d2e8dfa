"""`podium tick`: settle the streaks, the time points triggers and the anniversary
achievements of inactive users by writing `ClockTicked` commands to `podium.events` (so a
replay sees the very same ticks).

Reads the latest states from `podium.state`; for every user with an active streak whose
streak a tick at `at_ms` would change (a missed period: freeze consumed or streak lost, or a
freeze earned; a missed day off only pauses it, which no fact reports and no tick needs),
with a time points trigger whose interval has ended since its last command, or with an
anniversary achievement whose day has come, writes one tick keyed by the user id. The
tick's event id is `tick:{at_ms}:{user}`, so running the same tick twice changes nothing
(the fold drops a repeated event id). Run it from cron, e.g. hourly; the fold applies
`close_periods` as of `tick_settles_at` (the tick's time less the streak's grace).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from processors.core import points
from processors.core.fold import anniversary_due, close_periods, tick_settles_at
from processors.runtime import kafka, kafka_async
from processors.runtime.changelog import read_latest
from schemas.commands import ClockTicked, encode_command
from schemas.rules import Rules
from schemas.state import UserState, decode_state
from schemas.topics import Names
from schemas.wire import InvalidRecord

log = logging.getLogger("podium.tick")


@dataclass(frozen=True, slots=True)
class TickConfig:
    """What `podium tick` needs (built from the settings by the CLI)."""

    bootstrap: str
    names: Names


def ticks_due(latest: dict[str, bytes], at_ms: int, rules: Rules) -> list[ClockTicked]:
    """The ticks to write for these states (user id -> state bytes)."""
    out = []
    for uid, raw in sorted(latest.items()):
        state = _state(uid, raw)
        if state is None:
            continue
        due = (bool(rules.points_index.time) and points.due(state, at_ms, rules)) or (
            anniversary_due(state, at_ms, rules)
        )
        if not due and state.streak.length == 0:
            continue
        if due or close_periods(state, tick_settles_at(at_ms, rules), rules)[1]:
            out.append(ClockTicked(event_id=f"tick:{at_ms}:{uid}", time_ms=at_ms, user_id=uid))
    return out


def _state(uid: str, raw: bytes) -> UserState | None:
    """The user's state, or None when no tick can be written for it: a key that is not UTF-8
    (read with surrogate escapes: no user's) or a state that does not decode (the worker
    waits at that user's next event: docs/runtime.md). Either is logged, never a stop for
    every other user's tick."""
    try:
        uid.encode()
        return decode_state(raw)
    except UnicodeEncodeError:
        log.warning("no tick for a state keyed by bytes that are not UTF-8")
    except InvalidRecord as err:
        log.warning(
            "no tick for %r: its state does not decode (%s)",
            uid[:64],
            err.reason,
            extra={"user_id": uid},
        )
    return None


async def emit_ticks(config: TickConfig, rules: Rules, at_ms: int) -> int:
    """Write the due ticks; returns how many."""
    names = config.names
    count = await kafka.wait_for_topic(config.bootstrap, names.state, within=10.0)
    # the workers write on: a state of their newest transaction, still unreadable, gets its
    # tick at the next run
    latest = await read_latest(config.bootstrap, names.state, range(count), settle=False)
    ticks = [t for users in latest.values() for t in ticks_due(users, at_ms, rules)]
    config_ = kafka.producer_config(config.bootstrap, client_id="podium-tick", linger_ms=5)
    producer = kafka_async.AsyncProducer(config_)
    try:  # keyed by user id: the producer's partitioner puts each on its user's partition
        records = [(tick.user_id.encode(), encode_command(tick)) for tick in ticks]
        await producer.send_all(names.events, records)
    finally:
        await producer.close()
    log.info("wrote %d ticks at %d to %s", len(ticks), at_ms, names.events)
    return len(ticks)
