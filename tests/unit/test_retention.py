"""Retention of finished leaderboard runs (`processors.core.retention`, `Rankings.admit` and
`drop_expired`, the ranking stage's leaves and tombstones through the outbox). Expected runs
are worked out here by hand from the rule: a run is kept while it is at most `keep_runs` runs
before the run of the date UTC-12 has reached at the stage's clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from processors.core.ranking import Rankings
from processors.core.retention import is_drop, run_dropped
from processors.runtime.outbox import Outbox
from processors.runtime.rank_batch import entry_key, restore_rankings
from processors.runtime.stages import RankStage, Rec
from schemas.leaderboards import (
    ScoreChanged,
    decode_leaderboard_record,
    encode_leaderboard_record,
    ranking_partition,
)
from schemas.rules import Leaderboard
from schemas.rules_parse import parse_rules
from schemas.topics import Names

RULES = """
[metrics.words]
name = "Words"

[[leaderboards]]
key = "weekly"
name = "Weekly"
rank_by = "metric"
metric = "words"
run_unit = "day"
run_interval = 7
keep_runs = 2

[[leaderboards]]
key = "daily"
name = "Daily"
rank_by = "metric"
metric = "words"
run_unit = "day"
keep_runs = 1

[[leaderboards]]
key = "forever"
name = "Forever"
rank_by = "metric"
metric = "words"
"""
BOARDS = parse_rules(RULES, "retention.toml").leaderboards
WEEKLY: Leaderboard = BOARDS["weekly"]  # weeks from Monday (week_start's default)


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def test_a_weekly_board_keeps_the_current_week_and_two_finished() -> None:
    clock = ms("2025-03-20T13:00")  # a Thursday; UTC-12 is on 2025-03-20 too
    kept = {"2025-03-17", "2025-03-10", "2025-03-03"}
    for monday in ("2025-03-17", "2025-03-10", "2025-03-03", "2025-02-24", "2024-12-30"):
        assert run_dropped(WEEKLY, monday, clock) == (monday not in kept), monday


def test_a_run_is_dropped_only_once_every_zone_has_left_the_next_runs() -> None:
    # Monday 2025-03-17 00:00-11:59 UTC: UTC-12 is still on Sunday, in the week of 03-10,
    # so the week of 02-24 is still the second finished one kept
    assert not run_dropped(WEEKLY, "2025-02-24", ms("2025-03-17T11:59"))
    assert run_dropped(WEEKLY, "2025-02-17", ms("2025-03-17T11:59"))
    assert run_dropped(WEEKLY, "2025-02-24", ms("2025-03-17T12:00"))


def test_perpetual_unknown_and_unplaceable_runs_are_never_dropped() -> None:
    late = ms("2099-01-01T00:00")
    assert not run_dropped(BOARDS["forever"], "all", late)
    assert not run_dropped(None, "2025-01-06", late)
    assert not run_dropped(WEEKLY, "not-a-date", late)


def change(board: str, run: str, user: str, value: int | None, at: str, n: int) -> ScoreChanged:
    return ScoreChanged(
        id=f"{user}:score:{board}:{run}::e{n}",
        board=board,
        run=run,
        group="",
        user_id=user,
        event_id=f"e{n}",
        time_ms=ms(at),
        previous=None,
        value=None if value is None else Decimal(value),
    )


def daily_changes(days: int, users: int) -> list[ScoreChanged]:
    """`users` scores on the daily board each day at 13:00 UTC, and on the perpetual one."""
    out: list[ScoreChanged] = []
    start = date(2025, 1, 1)
    for d in range(days):
        day = (start + timedelta(days=d)).isoformat()
        for u in range(users):
            at = f"{day}T13:{u:02d}"
            out.append(change("daily", day, f"u{u}", d + u + 1, at, len(out)))
            out.append(change("forever", "all", f"u{u}", d + u + 1, at, len(out)))
    return out


def test_rankings_of_a_daily_board_stop_growing_and_drop_everyone_of_a_dropped_run() -> None:
    stage = Rankings(BOARDS)
    held = []
    for day in range(10):
        for c in daily_changes(10, 3)[day * 6 : day * 6 + 6]:
            assert stage.admit(c)
            stage.apply(c)
        leaves = stage.drop_expired()
        held.append(len(stage.rankings))
        if day >= 2:  # day d at 13:00: UTC-12 is on day d, so day d-2 and older go
            gone = (date(2025, 1, 1) + timedelta(days=day - 2)).isoformat()
            assert {(c.run, c.user_id) for c in leaves} == {(gone, f"u{u}") for u in range(3)}
            assert all(c.value is None and is_drop(c) for c in leaves)
    # the perpetual ranking, today's and yesterday's
    assert held == [2, 3, 3, 3, 3, 3, 3, 3, 3, 3]
    assert sorted(stage.rankings) == ["daily|2025-01-09|", "daily|2025-01-10|", "forever|all|"]


def test_a_late_change_of_a_dropped_run_is_ranked_nowhere() -> None:
    stage = Rankings(BOARDS)
    stage.apply(change("daily", "2025-01-05", "u1", 5, "2025-01-05T13:00", 1))
    late = change("daily", "2025-01-03", "u2", 9, "2025-01-03T23:00", 2)
    assert not stage.admit(late)
    assert stage.admit(change("daily", "2025-01-04", "u2", 9, "2025-01-04T23:00", 3))


def test_a_participant_who_left_a_dropped_ranking_is_tombstoned_too() -> None:
    stage = Rankings(BOARDS)
    stage.apply(change("daily", "2025-01-01", "u1", 5, "2025-01-01T13:00", 1))
    stage.apply(change("daily", "2025-01-01", "u2", 5, "2025-01-01T13:01", 2))
    stage.apply(change("daily", "2025-01-01", "u2", None, "2025-01-01T13:02", 3))
    stage.apply(change("daily", "2025-01-05", "u1", 1, "2025-01-05T13:00", 4))
    assert sorted(c.user_id for c in stage.drop_expired()) == ["u1", "u2"]


def test_the_stage_writes_a_leave_then_a_tombstone_and_its_changelog_stops_growing() -> None:
    """Each day's changes through the ranking stage's fold into an outbox, as the runtime
    does; each commit's records are written in the order the producer gets them to a
    changelog compacted by hand (last value per key, a tombstone removes the key), which the
    projector reads in that order too; then a restore from it, as the ranker's take does."""
    names = Names()
    stage = RankStage(names, parse_rules(RULES, "retention.toml"), 12)
    changelog: dict[bytes, bytes] = {}
    live = []
    changes = daily_changes(12, 4)
    for day in range(12):
        out = Outbox()
        for c in changes[day * 8 : day * 8 + 8]:
            p = ranking_partition(c.ranking, 12)
            if p not in stage.rankings:
                stage.restore(p, {})
            rec = Rec(out.offsets.get(p, 0), c.ranking.encode(), encode_leaderboard_record(c))
            out.advance(p, stage.fold(p, [rec], out).next_offset, 1, 1.0)
        left = set()  # the keys whose last record read is a dropped run's leave
        for topic, _, key, value, _ in out.produced():
            if topic != names.ranking_state or key is None:
                continue
            if value is None:  # a tombstone comes after its key's leave, in the same commit
                assert key in left, key
                changelog.pop(key)
                continue
            entry = decode_leaderboard_record(value)
            if isinstance(entry, ScoreChanged) and is_drop(entry):
                left.add(key)
            else:
                left.discard(key)
                changelog[key] = value
        live.append(len(changelog))
    stages = stage.rankings
    # per user: the perpetual entry and, once the stage's partition has moved on, today's and
    # yesterday's; a partition that has seen no change since may still hold an older run
    assert live[:2] == [8, 12]
    kept = {k for k in changelog if not k.startswith(b"forever|")}
    runs = {k.split(b"|")[1].decode() for k in kept}
    assert "2025-01-12" in runs and "2025-01-11" in runs
    for key in kept:  # any other run held is held by a partition whose clock is older
        p = ranking_partition(key.rsplit(b"|", 1)[0].decode(), 12)
        assert stages[p].clock_ms < ms("2025-01-12T12:00") or key.split(b"|")[1] >= b"2025-01-11"
    assert max(live) <= 4 + 4 * (2 + 12)
    restored = restore_rankings(BOARDS, changelog.values())
    assert all(decode_leaderboard_record(v).value is not None for v in changelog.values())
    assert len(restored.rankings) == len({k.rsplit(b"|", 1)[0] for k in changelog})
    assert entry_key(changes[-1]) in changelog
