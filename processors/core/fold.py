"""The pure fold: one user's state and one command in, the new state and its records out.

Reads commands from `podium.events` (via the runtime); its records go to `podium.progress`
(`Progress`, exactly one per command, first), `podium.achievements` (`AchievementCompleted`),
`podium.streaks` (`StreakChanged`), `podium.points` (`PointsChanged`) and `podium.scores`
(`ScoreChanged`, only when the rules have leaderboards). No I/O, no clock, no await: time is
the command's own. Each concern lives in its own module (users, metrics, streaks,
achievements, points, leaderboards); this one only composes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from processors.core import achievements as ach
from processors.core import metrics, points, streaks
from processors.core.leaderboards import Moment, Standing, score_changes
from processors.core.periods import local_ordinal
from processors.core.users import new_user, upsert
from schemas.commands import (
    AchievementAwarded,
    ClockTicked,
    Command,
    MetricTracked,
    UserIdentified,
)
from schemas.leaderboards import ScoreChanged
from schemas.records import (
    AchievementCompleted,
    CommandType,
    PointsChanged,
    Progress,
    StreakChanged,
)
from schemas.rules import Rules
from schemas.state import MetricDay, StreakState, UserState
from schemas.values import replace

FoldRecord = Progress | AchievementCompleted | StreakChanged | PointsChanged | ScoreChanged
ZERO = Decimal(0)
_exact_add = metrics.exact_add


def _build(
    s: UserState,
    *,
    events: tuple[str, ...],
    time_ms: int,
    totals: object = None,
    idempotency: object = None,
    done: object = None,
    streak: StreakState | None = None,
) -> UserState:
    """The next state in one `replace` (one copy, however many fields change)."""
    return replace(
        s,
        updated_ms=max(s.updated_ms, time_ms),
        events=s.events + 1,
        totals=s.totals if totals is None else totals,
        idempotency=s.idempotency if idempotency is None else idempotency,
        recent_events=events,
        achievements=s.achievements if done is None else done,
        streak=s.streak if streak is None else streak,
    )


def _progress(
    state: UserState,
    command: Command,
    kind: CommandType,
    rules: Rules,
    *,
    metric: str | None = None,
    replayed: bool = False,
    key: str | None = None,
    done: list[AchievementCompleted] | None = None,
    extended: bool = False,
) -> Progress:
    return Progress(
        id=f"{state.user_id}:progress:{command.event_id}",
        event_id=command.event_id,
        user_id=state.user_id,
        command=kind,
        time_ms=command.time_ms,
        metric=metric,
        total=None if metric is None else state.totals.get(metric, ZERO),
        replayed=replayed,
        idempotency_key=key,
        achievements=tuple(done) if done else (),
        streak=streaks.snapshot(state.streak, rules, extended),
    )


_KINDS: dict[type, CommandType] = {
    MetricTracked: "metric",
    UserIdentified: "user",
    AchievementAwarded: "achievement",
    ClockTicked: "tick",
}


def evolve(
    state: UserState | None, command: Command, rules: Rules
) -> tuple[UserState, list[FoldRecord]]:
    """Apply one command; the records start with exactly one `Progress`.

    A command whose event id was seen recently, or a metric event whose idempotency key was
    seen for that metric, changes nothing: its Progress says `replayed=True`.
    """
    before = state
    if state is None:
        if isinstance(command, ClockTicked):
            state = new_user(command.user_id, command.time_ms, rules)
        else:
            state = new_user(command.user.id, command.time_ms, rules, command.user)
    event_id = command.event_id
    fingerprint = event_id if len(event_id) <= 40 else metrics.event_fingerprint(event_id)
    recent = state.recent_events
    if fingerprint in recent:
        return state, [_replayed(state, command, rules)]
    bound = rules.limits.recent_event_ids  # 0: remember none
    if len(recent) >= bound:
        events = (*recent[len(recent) - bound + 1 :], fingerprint) if bound else ()
    else:
        events = (*recent, fingerprint)
    if isinstance(command, MetricTracked):
        new, records = _metric(state, command, rules, events)
    elif isinstance(command, ClockTicked):
        new, records = _tick(state, command, rules, events)
    else:
        new, records = _identify_or_award(state, command, rules, events)
    if records[0].replayed:  # type: ignore[union-attr]
        return new, records
    if rules.points:
        new, records = _with_points(before, new, command, records, rules)
    if rules.leaderboards:
        new = _score(state, new, command, rules, records)
    return new, records


def _with_points(
    before: UserState | None,
    new: UserState,
    command: Command,
    records: list[FoldRecord],
    rules: Rules,
) -> tuple[UserState, list[FoldRecord]]:
    """The command's points, after its other effects: the state with the changed systems,
    its `Progress` carrying the `PointsChanged` facts, which follow the other records."""
    systems, facts = points.apply(before, new, command, records[1:], rules)
    if systems is None:
        return new, records
    new = replace(new, points=systems)
    if not facts:
        return new, records
    progress = replace(records[0], points=tuple(facts))
    return new, [progress, *records[1:], *facts]


def _replayed(state: UserState, command: Command, rules: Rules) -> Progress:
    metric = command.metric if isinstance(command, MetricTracked) else None
    key = command.idempotency_key if isinstance(command, MetricTracked) else None
    return _progress(
        state, command, _KINDS[type(command)], rules, metric=metric, replayed=True, key=key
    )


def _days(
    state: UserState, metric: str, day: int, value: Decimal, total: Decimal, bound: int
) -> Mapping[str, tuple[MetricDay, ...]]:
    out = dict(state.metric_days)
    out[metric] = metrics.record_day(out.get(metric, ()), day, value, total, bound)
    return out


def _metric(
    state: UserState, cmd: MetricTracked, rules: Rules, events: tuple[str, ...]
) -> tuple[UserState, list[FoldRecord]]:
    # The hot path: positional calls, one `replace` of the state and one Progress, on purpose.
    metric, key = cmd.metric, cmd.idempotency_key
    keys = state.idempotency if key is None else _remember_key(state, metric, key, rules)
    if keys is None:
        return state, [_replayed(state, cmd, rules)]
    before = state.attributes
    state = upsert(state, cmd.user)
    totals = dict(state.totals)
    total = totals[metric] = _exact_add(totals.get(metric, ZERO), cmd.value)
    changes: list[StreakChanged] = []
    uid, eid, at = state.user_id, cmd.event_id, cmd.time_ms
    attrs, have, day = state.attributes, state.achievements, local_ordinal(at, state.tz)
    streak, extended = streaks.advance(
        state.streak, rules, state.tz, at, uid, eid, metric, cmd.value, changes
    )
    done = ach.on_metric(have, rules, metric, total, cmd.attributes, attrs, uid, eid, at)
    if extended and rules.streak_achievements:
        done += ach.on_streak(have, rules, streak.length, attrs, uid, eid, at)
    if rules.anniversaries and state.sign_up_date is not None:
        done += ach.on_anniversary(have, rules, state.sign_up_date, day, attrs, uid, eid, at)
    if done or attrs is not before:  # otherwise no composite can have become complete
        done += ach.on_composites(have, done, rules, attrs, uid, eid, at)
    new = replace(
        state,
        updated_ms=at if at > state.updated_ms else state.updated_ms,
        events=state.events + 1,
        totals=totals,
        idempotency=keys,
        recent_events=events,
        achievements=ach.merged(have, done) if done else have,
        streak=streak,
        metric_days=_days(state, metric, day, cmd.value, total, rules.limits.metric_days),
    )
    progress = Progress(
        id=f"{uid}:progress:{eid}",
        event_id=eid,
        user_id=uid,
        command="metric",
        time_ms=at,
        metric=metric,
        total=total,
        idempotency_key=key,
        achievements=tuple(done),
        streak=streaks.snapshot(streak, rules, extended),
    )
    return new, [progress, *done, *changes]


def _remember_key(
    state: UserState, metric: str, key: str, rules: Rules
) -> Mapping[str, tuple[str, ...]] | None:
    """The idempotency keys with `key` remembered for `metric`; None when already seen."""
    key_hash = metrics.short_hash(key)
    keys = state.idempotency
    if key_hash in keys.get(metric, ()):
        return None
    return metrics.remember_key(keys, metric, key_hash, rules.limits.idempotency_keys_per_metric)


def _tick(
    state: UserState, cmd: ClockTicked, rules: Rules, events: tuple[str, ...]
) -> tuple[UserState, list[FoldRecord]]:
    """Time passed: settle the streak (as of the tick's time less the grace), and complete
    the anniversaries the user's local date has reached (with the composites they finish),
    so an inactive user gets them too."""
    settled, changes = close_periods(
        state, tick_settles_at(cmd.time_ms, rules), rules, event_id=cmd.event_id
    )
    done = _on_anniversary(settled, cmd, rules, [])
    if done:
        attrs, have = settled.attributes, settled.achievements
        done += ach.on_composites(
            have, done, rules, attrs, settled.user_id, cmd.event_id, cmd.time_ms
        )
    new = _build(
        settled,
        events=events,
        time_ms=cmd.time_ms,
        done=ach.merged(settled.achievements, done) if done else None,
    )
    return new, [_progress(new, cmd, "tick", rules, done=done), *done, *changes]


def _on_anniversary(
    state: UserState, cmd: Command, rules: Rules, done: list[AchievementCompleted]
) -> list[AchievementCompleted]:
    """`done` with the anniversary achievements the user reaches at this command (the user's
    local date at its time, in the zone the user has after it)."""
    if not rules.anniversaries or state.sign_up_date is None:
        return done
    day = local_ordinal(cmd.time_ms, state.tz)
    return done + ach.on_anniversary(
        state.achievements,
        rules,
        state.sign_up_date,
        day,
        state.attributes,
        state.user_id,
        cmd.event_id,
        cmd.time_ms,
    )


def anniversary_due(state: UserState, at_ms: int, rules: Rules) -> bool:
    """Whether a tick at `at_ms` would complete an anniversary achievement for this user."""
    tick = ClockTicked(event_id="due", time_ms=at_ms, user_id=state.user_id)
    return bool(_on_anniversary(state, tick, rules, []))


def _identify_or_award(
    state: UserState,
    cmd: UserIdentified | AchievementAwarded,
    rules: Rules,
    events: tuple[str, ...],
) -> tuple[UserState, list[FoldRecord]]:
    state = upsert(state, cmd.user)
    state, changes = close_periods(state, cmd.time_ms, rules, event_id=cmd.event_id)
    uid, eid, at, attrs, have = (
        state.user_id,
        cmd.event_id,
        cmd.time_ms,
        state.attributes,
        state.achievements,
    )
    if isinstance(cmd, AchievementAwarded):
        done = ach.on_api(have, rules, cmd.achievement, attrs, uid, eid, at)
        kind: CommandType = "achievement"
    else:  # a profile change may satisfy user-attribute filters
        done = [
            rec
            for metric, total in sorted(state.totals.items())
            for rec in ach.on_metric(have, rules, metric, total, None, attrs, uid, eid, at)
        ]
        done += ach.on_streak(have, rules, state.streak.length, attrs, uid, eid, at)
        kind = "user"
    done = _on_anniversary(state, cmd, rules, done)
    done += ach.on_composites(have, done, rules, attrs, uid, eid, at)
    new = _build(state, events=events, time_ms=at, done=ach.merged(have, done) if done else None)
    return new, [_progress(new, cmd, kind, rules, done=done), *done, *changes]


def _score(
    old: UserState, new: UserState, cmd: Command, rules: Rules, out: list[FoldRecord]
) -> UserState:
    """The score step, last (after points): the user's board scores after the command took
    `old` to `new` (totals, points totals, streak length, attributes), its `ScoreChanged`
    records appended to `out` and their ids on the command's `Progress` (`out[0]`), so the
    gateway knows which rank changes answer the event."""
    if not rules.leaderboards:
        return new
    held = new.board_scores
    scores, changed = score_changes(
        rules.leaderboards,
        held,
        Standing(old.totals, _points_totals(old), old.streak.length),
        Standing(new.totals, _points_totals(new), new.streak.length),
        Moment(new.user_id, cmd.event_id, cmd.time_ms, new.tz, new.attributes),
    )
    if changed:
        progress = out[0]
        assert isinstance(progress, Progress)
        out[0] = replace(progress, scores=tuple(c.id for c in changed))
        out.extend(changed)
    return new if scores is held else replace(new, leaderboards=scores)


def _points_totals(state: UserState) -> dict[str, Decimal]:
    return {key: Decimal(system.total) for key, system in state.points.items()}


def tick_settles_at(tick_ms: int, rules: Rules) -> int:
    """The instant up to which a tick at `tick_ms` settles the streak: `tick_grace_seconds`
    earlier, so an event stamped just before a period's end (a client's clock, a retried
    request) that is logged after the tick still counts for its period. From the tick's own
    time, never the wall clock: a replay settles alike."""
    grace = 0 if rules.streak is None else rules.streak.tick_grace_ms
    return tick_ms - grace


def close_periods(
    state: UserState, at_ms: int, rules: Rules, *, event_id: str = ""
) -> tuple[UserState, list[FoldRecord]]:
    """Settle streak loss and freeze use (and freeze auto-earn) up to `at_ms`.

    Returns the state (the same object when nothing changed) and the `StreakChanged` facts;
    no `Progress` (that belongs to a command). `event_id` tags the facts with their cause.
    """
    changes: list[StreakChanged] = []
    streak, _ = streaks.advance(
        state.streak, rules, state.tz, at_ms, state.user_id, event_id, None, ZERO, changes
    )
    if streak is state.streak:
        return state, []
    return replace(state, streak=streak), list(changes)
