"""Properties of points on random command streams (hypothesis); the rules are those of
`tests.unit.strategies` (an XP system with a cap, levels and boosts; an energy system with
time triggers). The reference model comparison is in test_fold_properties."""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.commands import ClockTicked, Command
from schemas.records import PointsChanged
from tests.unit.strategies import RULES, streams
from tests.unit.test_fold_properties import fold_all, uid

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(streams())
def test_totals_stay_in_bounds_and_the_facts_add_up_to_them(commands: list[Command]) -> None:
    states, outputs = fold_all(commands)
    added: Counter[tuple[str, str]] = Counter()
    ids: Counter[str] = Counter()
    for records in outputs:
        for rec in records:
            if isinstance(rec, PointsChanged):
                added[(rec.user_id, rec.system)] += rec.added
                assert rec.id == rec.awards[0].id
                assert rec.added == sum(a.points for a in rec.awards)
                assert rec.total == rec.awards[-1].total
                ids.update(a.id for a in rec.awards)
    assert all(n == 1 for n in ids.values()), "an award id repeated"
    for user, state in states.items():
        for key, system in RULES.points.items():
            mine = state.points.get(key)
            total = mine.total if mine else 0
            assert added[(user, key)] == total
            assert 0 <= total <= (system.max_points or total)
            if mine is None:
                continue
            reached = [lv.key for lv in system.levels if lv.points <= total]
            assert mine.level == (reached[-1] if reached else None)
            assert len(mine.awards) <= RULES.limits.points_awards
            assert len(mine.days) <= RULES.limits.points_days
            if mine.days:
                assert mine.days[-1].total == total
                assert [d.day for d in mine.days] == sorted({d.day for d in mine.days})


@FAST
@given(streams(gap_hours=40), st.data())
def test_extra_clock_ticks_between_commands_change_no_total(
    commands: list[Command], data: st.DataObject
) -> None:
    """Time triggers settle the same however often the clock ticks: a tick between two
    commands only settles earlier what a later command or tick settles otherwise. Both runs
    end with a tick per user at the same time, so both are settled up to it.

    No tick goes just before a command that moves the user to another time zone: a tick
    settles the streak in the zone the user has at the tick, and a streak's period never
    moves backwards (docs/semantics.md), so a later move to a zone where it is still the day
    before can differ from the run without the tick (found here: Pacific/Chatham ticked just
    after its midnight, then an event in UTC, where it was still the previous day: the ticked
    streak counts it for the new day and extends, and the streak trigger awards)."""
    ticked: list[Command] = []
    zones: dict[str, str] = {}  # the zone each user seen so far has
    for i, cmd in enumerate(commands):
        prev = commands[i - 1].time_ms if i else cmd.time_ms
        user = uid(cmd)
        given = None if isinstance(cmd, ClockTicked) else cmd.user.tz
        stays = given is None or given == zones.get(user)
        if user in zones and stays and cmd.time_ms > prev and data.draw(st.booleans()):
            when = data.draw(st.integers(prev + 1, cmd.time_ms))
            ticked.append(ClockTicked(event_id=f"tick{i}", time_ms=when, user_id=user))
        zones[user] = given or zones.get(user) or "UTC"
        ticked.append(cmd)
    seen = set(zones)
    end = max(c.time_ms for c in commands) + 3_600_000
    final = [ClockTicked(event_id=f"end-{u}", time_ms=end, user_id=u) for u in sorted(seen)]
    plain, _ = fold_all([*commands, *final])
    with_ticks, _ = fold_all([*ticked, *final])
    for user, state in plain.items():
        for key in RULES.points:
            a, b = state.points.get(key), with_ticks[user].points.get(key)
            assert (a.total if a else 0) == (b.total if b else 0)
            assert dict(a.counts if a else {}) == dict(b.counts if b else {})
