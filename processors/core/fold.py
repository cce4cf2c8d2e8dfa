"""The pure fold: one user's state and one command in, the new state and its records out.

Reads commands from `podium.events` (via the runtime); its records go to `podium.progress`
(`Progress`, exactly one per command, first), `podium.achievements` (`AchievementCompleted`),
`podium.streaks` (`StreakChanged`), `podium.points` (`PointsChanged`) and `podium.scores`
(`ScoreChanged`, only when the rules have leaderboards). No I/O, no clock, no await: time is
the command's own. Each concern lives in its own module (users, metrics, streaks,
achievements, points, leaderboards); this one only composes them.

It reads "facts, then progress": the command becomes one `Moment`, each concern returns its
part of the new state and its facts, and `evolve` builds the one `Progress` last, from them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from processors.core import achievements as ach
from processors.core import metrics, points, streaks
from processors.core.leaderboards import Standing, score_changes
from processors.core.moment import Moment
from processors.core.periods import local_ordinal
from processors.core.users import new_user, upsert
from schemas.commands import (
    AchievementAwarded,
    ClockTicked,
    Command,
    MetricTracked,
    UserIdentified,
)
from schemas.leaderboards import BoardScore, ScoreChanged
from schemas.records import (
    AchievementCompleted,
    CommandType,
    PointsChanged,
    Progress,
    StreakChanged,
)
from schemas.rules import Rules
from schemas.state import MetricDay, PointsState, UserState
from schemas.values import Value, replace

FoldRecord = Progress | AchievementCompleted | StreakChanged | PointsChanged | ScoreChanged
ZERO = Decimal(0)
_exact_add = metrics.exact_add


class _Folded(Value, frozen=True):
    """What the command's own concerns (users, metrics, streaks, achievements) made of it:
    the state after them, the moment they saw, and what its `Progress` reports."""

    state: UserState
    moment: Moment
    kind: CommandType
    done: list[AchievementCompleted]
    changes: list[StreakChanged]
    extended: bool = False
    metric: str | None = None
    total: Decimal | None = None
    key: str | None = None


def _moment(state: UserState, event_id: str, time_ms: int) -> Moment:
    """The command as every concern sees it: the user's zone and attributes as they are."""
    return Moment.of(state.user_id, event_id, time_ms, state.tz, state.attributes)


def _build(
    s: UserState, events: tuple[str, ...], time_ms: int, done: dict[str, int] | None
) -> UserState:
    """The next state of a command without a metric, in one `replace`."""
    return replace(
        s,
        updated_ms=max(s.updated_ms, time_ms),
        events=s.events + 1,
        recent_events=events,
        achievements=s.achievements if done is None else done,
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
    folded: _Folded | None
    if isinstance(command, MetricTracked):
        folded = _metric(state, command, rules, events)
        if folded is None:
            return state, [_replayed(state, command, rules)]
    elif isinstance(command, ClockTicked):
        folded = _tick(state, command, rules, events)
    else:
        folded = _identify_or_award(state, command, rules, events)
    return _conclude(before, state, folded, command, rules)


def _conclude(
    before: UserState | None, old: UserState, folded: _Folded, command: Command, rules: Rules
) -> tuple[UserState, list[FoldRecord]]:
    """Points, then leaderboards, then the one `Progress` and the state, from the parts.

    `before` is the stored state (None: first seen), `old` the state the command started
    from; points come after the command's other facts, scores after points."""
    new, moment, done, changes = folded.state, folded.moment, folded.done, folded.changes
    systems: dict[str, PointsState] | None = None
    gained: Sequence[PointsChanged] = ()
    if rules.points:
        facts = (*done, *changes)
        systems, gained = points.apply(before, new.points, moment, command, facts, rules)
    scores: Mapping[str, BoardScore] | None = None
    scored: Sequence[ScoreChanged] = ()
    if rules.leaderboards:
        scores, scored = _score(old, new, new.points if systems is None else systems, moment, rules)
    progress = Progress(
        id=f"{moment.user_id}:progress:{moment.event_id}",
        event_id=moment.event_id,
        user_id=moment.user_id,
        command=folded.kind,
        time_ms=moment.time_ms,
        metric=folded.metric,
        total=folded.total,
        idempotency_key=folded.key,
        achievements=tuple(done),
        streak=streaks.snapshot(new.streak, rules, folded.extended),
        points=tuple(gained),
        scores=tuple([c.id for c in scored]) if scored else (),
    )
    if scores is not None:
        new = replace(new, points=new.points if systems is None else systems, leaderboards=scores)
    elif systems is not None:
        new = replace(new, points=systems)
    return new, [progress, *done, *changes, *gained, *scored]


def _score(
    old: UserState,
    new: UserState,
    systems: Mapping[str, PointsState],
    moment: Moment,
    rules: Rules,
) -> tuple[Mapping[str, BoardScore] | None, list[ScoreChanged]]:
    """The user's board scores after the command took `old` to `new` (totals, `systems`'
    totals, streak length, attributes): None when unchanged, and the `ScoreChanged` records."""
    held = new.board_scores
    scores, changed = score_changes(
        rules.leaderboards,
        held,
        Standing(old.totals, _points_totals(old.points), old.streak.length),
        Standing(new.totals, _points_totals(systems), new.streak.length),
        moment,
    )
    return (None if scores is held else scores), changed


def _replayed(state: UserState, command: Command, rules: Rules) -> Progress:
    metric = command.metric if isinstance(command, MetricTracked) else None
    return Progress(
        id=f"{state.user_id}:progress:{command.event_id}",
        event_id=command.event_id,
        user_id=state.user_id,
        command=_KINDS[type(command)],
        time_ms=command.time_ms,
        metric=metric,
        total=None if metric is None else state.totals.get(metric, ZERO),
        replayed=True,
        idempotency_key=command.idempotency_key if isinstance(command, MetricTracked) else None,
        streak=streaks.snapshot(state.streak, rules, False),
    )


def _days(
    state: UserState, metric: str, day: int, value: Decimal, total: Decimal, bound: int
) -> Mapping[str, tuple[MetricDay, ...]]:
    out = dict(state.metric_days)
    out[metric] = metrics.record_day(out.get(metric, ()), day, value, total, bound)
    return out


def _metric(
    state: UserState, cmd: MetricTracked, rules: Rules, events: tuple[str, ...]
) -> _Folded | None:
    """The metric's total, its day, the streak and the achievements; None: the idempotency
    key was seen for this metric (the command is a replay)."""
    # The hot path: one `replace` of the state, on purpose.
    metric, key = cmd.metric, cmd.idempotency_key
    keys = state.idempotency if key is None else _remember_key(state, metric, key, rules)
    if keys is None:
        return None
    before = state.attributes
    state = upsert(state, cmd.user)
    totals = dict(state.totals)
    total = totals[metric] = _exact_add(totals.get(metric, ZERO), cmd.value)
    at, attrs, have = cmd.time_ms, state.attributes, state.achievements
    day = local_ordinal(at, state.tz)
    moment = Moment(state.user_id, cmd.event_id, at, state.tz, attrs, day)  # `_moment`, inline
    streak, extended, changes = streaks.advance(state.streak, rules, moment, metric, cmd.value)
    done = ach.on_metric(have, rules, metric, total, cmd.attributes, moment)
    if extended and rules.streak_achievements:
        done += ach.on_streak(have, rules, streak.length, moment)
    if rules.anniversaries and state.sign_up_date is not None:
        done += ach.on_anniversary(have, rules, state.sign_up_date, moment)
    if done or attrs is not before:  # otherwise no composite can have become complete
        done += ach.on_composites(have, done, rules, moment)
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
    return _Folded(new, moment, "metric", done, changes, extended, metric, total, key)


def _remember_key(
    state: UserState, metric: str, key: str, rules: Rules
) -> Mapping[str, tuple[str, ...]] | None:
    """The idempotency keys with `key` remembered for `metric`; None when already seen."""
    key_hash = metrics.short_hash(key)
    keys = state.idempotency
    if key_hash in keys.get(metric, ()):
        return None
    return metrics.remember_key(keys, metric, key_hash, rules.limits.idempotency_keys_per_metric)


def _tick(state: UserState, cmd: ClockTicked, rules: Rules, events: tuple[str, ...]) -> _Folded:
    """Time passed: settle the streak (as of the tick's time less the grace), and complete
    the anniversaries the user's local date has reached (with the composites they finish),
    so an inactive user gets them too."""
    settles_at = tick_settles_at(cmd.time_ms, rules)
    settled, changes = _settle(state, _moment(state, cmd.event_id, settles_at), rules)
    moment = _moment(settled, cmd.event_id, cmd.time_ms)
    done = _on_anniversary(settled, moment, rules, [])
    if done:
        done += ach.on_composites(settled.achievements, done, rules, moment)
    merged = ach.merged(settled.achievements, done) if done else None
    new = _build(settled, events, cmd.time_ms, merged)
    return _Folded(new, moment, "tick", done, changes)


def _on_anniversary(
    state: UserState, moment: Moment, rules: Rules, done: list[AchievementCompleted]
) -> list[AchievementCompleted]:
    """`done` with the anniversary achievements the user reaches at this command (the user's
    local date at its time, in the zone the user has after it)."""
    if not rules.anniversaries or state.sign_up_date is None:
        return done
    return done + ach.on_anniversary(state.achievements, rules, state.sign_up_date, moment)


def anniversary_due(state: UserState, at_ms: int, rules: Rules) -> bool:
    """Whether a tick at `at_ms` would complete an anniversary achievement for this user."""
    return bool(_on_anniversary(state, _moment(state, "due", at_ms), rules, []))


def _identify_or_award(
    state: UserState,
    cmd: UserIdentified | AchievementAwarded,
    rules: Rules,
    events: tuple[str, ...],
) -> _Folded:
    state = upsert(state, cmd.user)
    moment = _moment(state, cmd.event_id, cmd.time_ms)
    state, changes = _settle(state, moment, rules)
    have = state.achievements
    if isinstance(cmd, AchievementAwarded):
        done = ach.on_api(have, rules, cmd.achievement, moment)
        kind: CommandType = "achievement"
    else:  # a profile change may satisfy user-attribute filters
        done = [
            rec
            for metric, total in sorted(state.totals.items())
            for rec in ach.on_metric(have, rules, metric, total, None, moment)
        ]
        done += ach.on_streak(have, rules, state.streak.length, moment)
        kind = "user"
    done = _on_anniversary(state, moment, rules, done)
    done += ach.on_composites(have, done, rules, moment)
    new = _build(state, events, cmd.time_ms, ach.merged(have, done) if done else None)
    return _Folded(new, moment, kind, done, changes)


def _points_totals(held: Mapping[str, PointsState]) -> dict[str, Decimal]:
    return {key: Decimal(system.total) for key, system in held.items()}


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
    settled, changes = _settle(state, _moment(state, event_id, at_ms), rules)
    return settled, list(changes)


def _settle(
    state: UserState, moment: Moment, rules: Rules
) -> tuple[UserState, list[StreakChanged]]:
    """The streak settled at the moment (no metric counted), and its facts."""
    streak, _, changes = streaks.advance(state.streak, rules, moment, None, ZERO)
    if streak is state.streak:
        return state, []
    return replace(state, streak=streak), changes
