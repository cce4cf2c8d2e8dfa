"""Properties of the fold, checked on random command streams (hypothesis)."""

from __future__ import annotations

import gc
from datetime import date
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processors.core.fold import close_periods, evolve
from processors.core.periods import period_bounds
from schemas.commands import ClockTicked, Command, MetricTracked
from schemas.records import AchievementCompleted, PointsChanged, Progress, StreakChanged
from schemas.rules import Rules
from schemas.state import UserState, decode_state, encode_state
from tests.unit.reference import Reference
from tests.unit.reference_points import RefChange, RefSystem
from tests.unit.strategies import RULES, make_rules, streams

FAST = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def uid(cmd: Command) -> str:
    return cmd.user_id if isinstance(cmd, ClockTicked) else cmd.user.id


def fold_all(
    commands: list[Command], rules: Rules = RULES, states: dict[str, UserState] | None = None
) -> tuple[dict[str, UserState], list]:
    states = dict(states or {})
    out = []
    for cmd in commands:
        state, records = evolve(states.get(uid(cmd)), cmd, rules)
        states[uid(cmd)] = state
        out.append(records)
    return states, out


@FAST
@given(streams())
def test_every_command_yields_exactly_one_progress_first(commands: list[Command]) -> None:
    _, outputs = fold_all(commands)
    for cmd, records in zip(commands, outputs, strict=True):
        assert isinstance(records[0], Progress)
        assert records[0].event_id == cmd.event_id
        assert not any(isinstance(r, Progress) for r in records[1:])


@FAST
@given(streams(), st.data())
def test_a_replayed_command_changes_nothing(commands: list[Command], data: st.DataObject) -> None:
    states, _ = fold_all(commands)
    again = data.draw(st.sampled_from(commands))
    before = states[uid(again)]
    after, records = evolve(before, again, RULES)
    assert after == before
    assert encode_state(after) == encode_state(before)
    assert len(records) == 1
    assert isinstance(records[0], Progress) and records[0].replayed


@FAST
@given(streams())
def test_users_are_independent(commands: list[Command]) -> None:
    together, _ = fold_all(commands)
    for user in {uid(c) for c in commands}:
        alone, _ = fold_all([c for c in commands if uid(c) == user])
        assert encode_state(alone[user]) == encode_state(together[user])


@FAST
@given(streams(), st.data())
def test_folding_from_a_snapshot_equals_folding_from_scratch(
    commands: list[Command], data: st.DataObject
) -> None:
    cut = data.draw(st.integers(0, len(commands)))
    whole, whole_out = fold_all(commands)
    head, _ = fold_all(commands[:cut])
    restored = {u: decode_state(encode_state(s)) for u, s in head.items()}
    resumed, resumed_out = fold_all(commands[cut:], states=restored)
    assert {u: encode_state(s) for u, s in resumed.items()} == {
        u: encode_state(s) for u, s in whole.items()
    }
    assert resumed_out == whole_out[cut:]


@FAST
@given(streams())
def test_replaying_the_log_yields_byte_identical_state(commands: list[Command]) -> None:
    first, _ = fold_all(commands)
    second, _ = fold_all(commands)
    assert {u: encode_state(s) for u, s in first.items()} == {
        u: encode_state(s) for u, s in second.items()
    }


@FAST
@given(streams())
def test_longest_is_at_least_current_and_history_is_bounded(commands: list[Command]) -> None:
    states, _ = fold_all(commands)
    for state in states.values():
        assert state.streak.longest >= state.streak.length >= 0
        assert len(state.streak.history) <= RULES.streak.history_periods  # type: ignore[union-attr]
        assert 0 <= state.streak.freezes <= 3


@FAST
@given(streams())
def test_total_is_the_exact_sum_of_accepted_values(commands: list[Command]) -> None:
    states, outputs = fold_all(commands)
    sums: dict[tuple[str, str], Decimal] = {}
    for cmd, records in zip(commands, outputs, strict=True):
        if isinstance(cmd, MetricTracked) and not records[0].replayed:
            key = (cmd.user.id, cmd.metric)
            sums[key] = sums.get(key, Decimal(0)) + cmd.value
    for (user, metric), expected in sums.items():
        assert states[user].totals[metric] == expected


@FAST
@given(streams())
def test_achievements_complete_once_and_never_revoke(commands: list[Command]) -> None:
    states, outputs = fold_all(commands)
    seen: set[str] = set()
    for records in outputs:
        for rec in records:
            if isinstance(rec, AchievementCompleted):
                assert rec.id not in seen
                seen.add(rec.id)
    for user, state in states.items():
        assert {f"{user}:{k}" for k in state.achievements} == {
            i for i in seen if i.startswith(f"{user}:")
        }


def _check_against_reference(commands: list[Command], rules: Rules) -> None:
    reference = Reference(rules)
    states: dict[str, UserState] = {}
    for cmd in commands:
        expected = reference.apply(cmd)
        state, records = evolve(states.get(uid(cmd)), cmd, rules)
        states[uid(cmd)] = state
        progress = records[0]
        assert isinstance(progress, Progress)
        assert progress.replayed == expected.replayed, cmd
        assert progress.total == expected.total
        assert {a.achievement for a in progress.achievements} == expected.completed, cmd
        facts = [(r.kind, r.id.rsplit(":", 1)[1]) for r in records if isinstance(r, StreakChanged)]
        assert facts == expected.facts, cmd
        ref_user = reference.users[uid(cmd)]
        assert state.streak.length == ref_user.length
        assert state.streak.longest == ref_user.longest
        assert state.streak.freezes == ref_user.freezes
        assert progress.streak is not None
        assert progress.streak.extended == expected.extended
        assert dict(state.achievements) == ref_user.done
        assert {k: v for k, v in state.totals.items()} == ref_user.totals
        _check_history(state, ref_user.kept_periods, rules)
        _check_points(progress, records, expected.points, state, ref_user.points)


def _check_history(
    state: UserState, kept: list[tuple[date, int, bool, bool]], rules: Rules
) -> None:
    """The state's streak history (and which of its periods were paused) is the reference's
    kept periods, the last `history_periods` of them."""
    assert rules.streak is not None
    freq, bound = rules.streak.frequency, rules.streak.history_periods
    paused = set(state.streak.paused_periods)
    mine = [
        (
            date.fromordinal(period_bounds(h.period, freq, rules.week_start)[0]),
            h.length,
            h.used_freeze,
            h.period in paused,
        )
        for h in state.streak.history
    ]
    assert mine == kept[-bound:]
    assert paused <= {h.period for h in state.streak.history}


def _check_points(
    progress: Progress,
    records: list,
    expected: dict[str, RefChange],
    state: UserState,
    ref: dict[str, RefSystem],
) -> None:
    got = {
        c.system: RefChange(
            c.added,
            c.total,
            c.previous_level,
            c.level,
            [(a.trigger, a.points, a.count) for a in c.awards],
        )
        for c in progress.points
    }
    assert got == expected
    assert [r for r in records if isinstance(r, PointsChanged)] == list(progress.points)
    for key, system in ref.items():
        mine = state.points.get(key)
        assert (mine.total if mine else 0) == system.total
        assert (mine.level if mine else None) == system.level
        assert dict(mine.counts if mine else {}) == {k: v for k, v in system.counts.items() if v}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams(gap_hours=40))
def test_fold_agrees_with_the_reference_daily(commands: list[Command]) -> None:
    _check_against_reference(commands, RULES)


RULE_VARIANTS = [
    make_rules("daily", "any", initial=1, amount=1, interval=3, days_off=(6, 0)),
    make_rules("daily", "all", initial=0, amount=0, interval=0, days_off=(1, 3, 5)),
    make_rules("weekly", "all", "sunday", initial=0, amount=1, interval=10),
    make_rules("weekly", "any", "wednesday", initial=2, amount=2, interval=4),
    make_rules("monthly", "any", initial=1, amount=1, interval=20),
    make_rules("daily", "all", initial=0, amount=0, interval=0),
    make_rules("daily", "any", initial=3, amount=3, interval=1),
]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(range(len(RULE_VARIANTS))), st.data())
def test_fold_agrees_with_the_reference_on_rule_variants(which: int, data: st.DataObject) -> None:
    rules = RULE_VARIANTS[which]
    gap = 400 if rules.streak.frequency == "monthly" else 150  # type: ignore[union-attr]
    _check_against_reference(data.draw(streams(gap_hours=gap)), rules)


WEEKENDS_OFF = make_rules(initial=0, amount=0, interval=0, days_off=(6, 0))


@FAST
@given(streams(), st.integers(0, 90 * 24), st.sampled_from([RULES, WEEKENDS_OFF]))
def test_settling_is_independent_of_how_often_the_clock_ticks(
    commands: list[Command], hours: int, rules: Rules
) -> None:
    states, _ = fold_all(commands, rules)
    for state in states.values():
        end = state.updated_ms + hours * 3_600_000
        once, _ = close_periods(state, end, rules)
        stepped = state
        for t in range(state.updated_ms, end + 1, 7 * 3_600_000):
            stepped, _ = close_periods(stepped, t, rules)
        stepped, _ = close_periods(stepped, end, rules)
        assert stepped.streak.length == once.streak.length
        assert stepped.streak.freezes == once.streak.freezes
        assert stepped.streak.covered == once.streak.covered
        assert stepped.streak.paused_periods == once.streak.paused_periods


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_the_fold_creates_no_reference_cycles(commands: list[Command]) -> None:
    """So a worker may raise the cyclic GC's thresholds (or freeze it) safely."""
    gc.collect()
    gc.disable()
    try:
        fold_all(commands)
        assert gc.collect() == 0
    finally:
        gc.enable()
