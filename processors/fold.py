"""The pure fold: one user's state and one command in, the new state and its records out.

Reads commands from `podium.events` (via the runtime); its records go to `podium.progress`
(`Progress`, exactly one per command, first), `podium.achievements` (`AchievementCompleted`)
and `podium.streaks` (`StreakChanged`). No I/O, no clock, no await: time is the command's own.
Each concern lives in its own module (users, metrics, streaks, achievements); this one only
composes them and builds the new state once per command.
"""

from __future__ import annotations

from decimal import Decimal

from processors import achievements as ach
from processors import metrics, streaks
from processors.users import new_user, upsert
from schemas.commands import (
    AchievementAwarded,
    ClockTicked,
    Command,
    MetricTracked,
    UserIdentified,
)
from schemas.records import AchievementCompleted, CommandType, Progress, StreakChanged
from schemas.rules import Rules
from schemas.state import StreakState, UserState

FoldRecord = Progress | AchievementCompleted | StreakChanged
ZERO = Decimal(0)


def _build(s: UserState, *, events: tuple[str, ...], time_ms: int,
           totals: object = None, idempotency: object = None, done: object = None,
           streak: StreakState | None = None) -> UserState:
    """The next state in one construction (no chain of `replace` calls on the hot path)."""
    return UserState(
        s.user_id, s.version, s.email, s.name, s.tz, s.device_tokens, s.subscribe_to_emails,
        s.attributes, s.created_ms, max(s.updated_ms, time_ms), s.events + 1,
        s.totals if totals is None else totals,  # type: ignore[arg-type]
        s.idempotency if idempotency is None else idempotency,  # type: ignore[arg-type]
        events,
        s.achievements if done is None else done,  # type: ignore[arg-type]
        s.streak if streak is None else streak, s.offset,
    )


def _progress(state: UserState, command: Command, kind: CommandType, rules: Rules, *,
              metric: str | None = None, replayed: bool = False, key: str | None = None,
              done: list[AchievementCompleted] | None = None,
              extended: bool = False) -> Progress:
    return Progress(
        id=f"{state.user_id}:progress:{command.event_id}", event_id=command.event_id,
        user_id=state.user_id, command=kind, time_ms=command.time_ms, metric=metric,
        total=None if metric is None else state.totals.get(metric, ZERO),
        replayed=replayed, idempotency_key=key, achievements=tuple(done or ()),
        streak=streaks.snapshot(state.streak, rules, extended),
    )


_KINDS: dict[type, CommandType] = {
    MetricTracked: "metric", UserIdentified: "user", AchievementAwarded: "achievement",
    ClockTicked: "tick",
}


def evolve(
    state: UserState | None, command: Command, rules: Rules
) -> tuple[UserState, list[FoldRecord]]:
    """Apply one command; the records start with exactly one `Progress`.

    A command whose event id was seen recently, or a metric event whose idempotency key was
    seen for that metric, changes nothing: its Progress says `replayed=True`.
    """
    if state is None:
        user_id = command.user_id if isinstance(command, ClockTicked) else command.user.id
        state = new_user(user_id, command.time_ms, rules)
    fingerprint = metrics.short_hash(command.event_id)
    if fingerprint in state.recent_events:
        return state, [_replayed(state, command, rules)]
    events = metrics.remember(state.recent_events, fingerprint, rules.limits.recent_event_ids)
    if isinstance(command, MetricTracked):
        return _metric(state, command, rules, events)
    if isinstance(command, ClockTicked):
        return _tick(state, command, rules, events)
    return _identify_or_award(state, command, rules, events)


def _replayed(state: UserState, command: Command, rules: Rules) -> Progress:
    metric = command.metric if isinstance(command, MetricTracked) else None
    key = command.idempotency_key if isinstance(command, MetricTracked) else None
    return _progress(state, command, _KINDS[type(command)], rules, metric=metric,
                     replayed=True, key=key)


def _metric(state: UserState, cmd: MetricTracked, rules: Rules,
            events: tuple[str, ...]) -> tuple[UserState, list[FoldRecord]]:
    keys = state.idempotency
    if cmd.idempotency_key is not None:
        key_hash = metrics.short_hash(cmd.idempotency_key)
        if key_hash in keys.get(cmd.metric, ()):
            return state, [_replayed(state, cmd, rules)]
        keys = metrics.remember_key(keys, cmd.metric, key_hash,
                                    rules.limits.idempotency_keys_per_metric)
    state = upsert(state, cmd.user)
    total = metrics.add(state.totals.get(cmd.metric), cmd.value)
    totals = dict(state.totals)
    totals[cmd.metric] = total
    changes: list[StreakChanged] = []
    streak, extended = streaks.advance(state.streak, rules, state.tz, cmd.time_ms,
                                       state.user_id, cmd.event_id, cmd.metric, cmd.value,
                                       changes)
    uid, eid, at, attrs = state.user_id, cmd.event_id, cmd.time_ms, state.attributes
    done = ach.on_metric(state.achievements, rules, cmd.metric, total, cmd.attributes, attrs,
                         uid, eid, at)
    if extended:
        done += ach.on_streak(state.achievements, rules, streak.length, attrs, uid, eid, at)
    done += ach.on_composites(state.achievements, done, rules, attrs, uid, eid, at)
    new = _build(state, events=events, time_ms=at, totals=totals, idempotency=keys,
                 done=ach.merged(state.achievements, done) if done else None, streak=streak)
    progress = _progress(new, cmd, "metric", rules, metric=cmd.metric,
                         key=cmd.idempotency_key, done=done, extended=extended)
    return new, [progress, *done, *changes]


def _tick(state: UserState, cmd: ClockTicked, rules: Rules,
          events: tuple[str, ...]) -> tuple[UserState, list[FoldRecord]]:
    settled, changes = close_periods(state, cmd.time_ms, rules, event_id=cmd.event_id)
    new = _build(settled, events=events, time_ms=cmd.time_ms)
    return new, [_progress(new, cmd, "tick", rules), *changes]


def _identify_or_award(state: UserState, cmd: UserIdentified | AchievementAwarded,
                       rules: Rules, events: tuple[str, ...]
                       ) -> tuple[UserState, list[FoldRecord]]:
    state = upsert(state, cmd.user)
    state, changes = close_periods(state, cmd.time_ms, rules, event_id=cmd.event_id)
    uid, eid, at, attrs, have = (state.user_id, cmd.event_id, cmd.time_ms, state.attributes,
                                 state.achievements)
    if isinstance(cmd, AchievementAwarded):
        done = ach.on_api(have, rules, cmd.achievement, attrs, uid, eid, at)
        kind: CommandType = "achievement"
    else:  # a profile change may satisfy user-attribute filters
        done = [rec for metric, total in sorted(state.totals.items())
                for rec in ach.on_metric(have, rules, metric, total, None, attrs, uid, eid, at)]
        done += ach.on_streak(have, rules, state.streak.length, attrs, uid, eid, at)
        kind = "user"
    done += ach.on_composites(have, done, rules, attrs, uid, eid, at)
    new = _build(state, events=events, time_ms=at,
                 done=ach.merged(have, done) if done else None)
    return new, [_progress(new, cmd, kind, rules, done=done), *done, *changes]


def close_periods(
    state: UserState, at_ms: int, rules: Rules, *, event_id: str = ""
) -> tuple[UserState, list[FoldRecord]]:
    """Settle streak loss and freeze use (and freeze auto-earn) up to `at_ms`.

    Returns the state (the same object when nothing changed) and the `StreakChanged` facts;
    no `Progress` (that belongs to a command). `event_id` tags the facts with their cause.
    """
    changes: list[StreakChanged] = []
    streak, _ = streaks.advance(state.streak, rules, state.tz, at_ms, state.user_id, event_id,
                                None, ZERO, changes)
    if streak is state.streak:
        return state, []
    return UserState(
        state.user_id, state.version, state.email, state.name, state.tz, state.device_tokens,
        state.subscribe_to_emails, state.attributes, state.created_ms, state.updated_ms,
        state.events, state.totals, state.idempotency, state.recent_events,
        state.achievements, streak, state.offset,
    ), list(changes)
