"""A participant's daily history on a ranking (`processors.core.rank_history`), its Redis layout
(`schemas.views`) and its rendering as Trophy's `LeaderboardEvent`s
(`ingest.http.api_leaderboards.history_json`), against an independent model: per UTC day
(epoch ms integer-divided by a day's milliseconds), the rank and value before the day's first
change and after its last."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fnmatch import fnmatchcase

from hypothesis import given
from hypothesis import strategies as st
from trophy.types import LeaderboardEvent

from ingest.http.api_leaderboards import history_json
from processors.board_views import BoardKeys, HistoryKeys
from processors.core.rank_history import fold_history, utc_day
from schemas.leaderboards import RankChanged
from schemas.views import (
    HISTORY_DAYS,
    HistoryDay,
    Keys,
    history_member,
    parse_history_member,
)
from tests.sent import sent

D = Decimal
DAY_MS = 86_400_000
EPOCH = date(1970, 1, 1).toordinal()
JAN_15 = date(2025, 1, 15).toordinal()
JAN_15_MS = (JAN_15 - EPOCH) * DAY_MS

ranks = st.one_of(st.none(), st.integers(1, 9))
values = st.one_of(st.none(), st.integers(-5, 9).map(D), st.sampled_from([D("2.5"), D("-0.5")]))
# (day offset, ms within the day, previous rank, rank, previous value, value)
steps = st.lists(
    st.tuples(st.integers(0, 6), st.integers(0, DAY_MS - 1), ranks, ranks, values, values),
    max_size=30,
)


def change(
    seq: int, at_ms: int, before: tuple[int | None, D | None], after: tuple[int | None, D | None]
) -> RankChanged:
    return RankChanged(
        id=f"u:score:b:all::e{seq}:rank",
        cause=f"u:score:b:all::e{seq}",
        board="b",
        run="all",
        group="",
        user_id="u",
        time_ms=at_ms,
        previous_rank=before[0],
        rank=after[0],
        previous_value=before[1],
        value=after[1],
        reached_ms=at_ms,
        participants=9,
    )


def changes_of(
    raw: list[tuple[int, int, int | None, int | None, D | None, D | None]],
) -> list[RankChanged]:
    return [
        change(i, JAN_15_MS + day * DAY_MS + ms, (pr, pv), (r, v))
        for i, (day, ms, pr, r, pv, v) in enumerate(raw)
    ]


def model(changes: list[RankChanged]) -> dict[int, HistoryDay]:
    """Obviously right: group by day, take the first change's before and the last's after."""
    by_day: dict[int, list[RankChanged]] = {}
    for c in changes:
        by_day.setdefault(EPOCH + c.time_ms // DAY_MS, []).append(c)
    return {
        day: HistoryDay(day, cs[0].previous_rank, cs[-1].rank, cs[0].previous_value, cs[-1].value)
        for day, cs in by_day.items()
    }


def test_the_key_layout() -> None:
    keys = Keys("p:")
    assert keys.rank_history("top|2025-01-13|plan=pro", "ann") == (
        "p:rank-history:top|2025-01-13|plan=pro:ann"
    )
    assert (keys.rank_history_epoch, keys.rank_history_rebuilding) == (
        "p:rank-history-epoch",
        "p:rank-history-rebuilding",
    )
    history, boards = HistoryKeys(keys), BoardKeys(keys)
    for key in (keys.rank_history("top|all|", "u"), history.epoch, history.rebuilding):
        assert fnmatchcase(key, history.pattern) and not fnmatchcase(key, boards.pattern), key
    for key in (keys.board("top|all|"), keys.board_members("top|all|"), boards.epoch):
        assert not fnmatchcase(key, history.pattern), key


@given(st.integers(1, 800_000), ranks, ranks, values, values)
def test_a_day_round_trips_through_its_member(
    day: int, prev_rank: int | None, rank: int | None, prev: D | None, value: D | None
) -> None:
    entry = HistoryDay(day, prev_rank, rank, prev, value)
    assert parse_history_member(history_member(entry).encode()) == entry


def test_a_day_keeps_its_first_before_and_its_last_after() -> None:
    noon = JAN_15_MS + DAY_MS // 2
    days = fold_history(
        {},
        [
            change(1, noon, (None, None), (5, D(1000))),
            change(2, noon + 1, (5, D(1000)), (3, D(3000))),
            change(3, JAN_15_MS + DAY_MS, (3, D(3000)), (2, D("4500.5"))),  # next midnight
        ],
    )
    assert days == {
        JAN_15: HistoryDay(JAN_15, None, 3, None, D(3000)),
        JAN_15 + 1: HistoryDay(JAN_15 + 1, 3, 2, D(3000), D("4500.5")),
    }
    assert utc_day(JAN_15_MS - 1) == JAN_15 - 1


@given(steps)
def test_the_fold_equals_the_model(
    raw: list[tuple[int, int, int | None, int | None, D | None, D | None]],
) -> None:
    changes = changes_of(raw)
    assert fold_history({}, changes) == model(changes)


@given(steps, st.integers(0, 30), st.integers(0, 30))
def test_replaying_a_suffix_or_splitting_into_batches_changes_nothing(
    raw: list[tuple[int, int, int | None, int | None, D | None, D | None]], cut: int, back: int
) -> None:
    changes = changes_of(raw)
    cut = min(cut, len(changes))
    first = fold_history({}, changes[:cut])
    assert fold_history(first, changes[cut:]) == model(changes)
    redelivered = changes[max(cut - back, 0) :]  # at least once: a suffix comes again
    assert fold_history(fold_history({}, changes), redelivered) == model(changes)


@given(steps, st.integers(0, 4))
def test_only_the_latest_days_are_kept(
    raw: list[tuple[int, int, int | None, int | None, D | None, D | None]], keep: int
) -> None:
    changes = changes_of(raw)
    want = model(changes)
    kept = sorted(want)[-keep:] if keep else []
    assert fold_history({}, changes, keep) == {day: want[day] for day in kept}
    assert HISTORY_DAYS == 100  # Trophy's numEvents maximum


def test_history_renders_the_latest_days_oldest_first() -> None:
    days = [
        HistoryDay(JAN_15 + 2, 3, 2, D(3000), D("4500.9")),
        HistoryDay(JAN_15, None, 5, None, D(1000)),
        HistoryDay(JAN_15 + 1, 5, 3, D(1000), D(3000)),
    ]
    events = [LeaderboardEvent.model_validate(e) for e in sent(history_json(days, 10))]
    assert [(e.date, e.previous_rank, e.rank, e.previous_value, e.value) for e in events] == [
        ("2025-01-15", None, 5, None, 1000),
        ("2025-01-16", 5, 3, 1000, 3000),
        ("2025-01-17", 3, 2, 3000, 4500),
    ]
    assert events[0].timestamp.isoformat() == "2025-01-15T00:00:00+00:00"
    assert [e["date"] for e in sent(history_json(days, 2))] == ["2025-01-16", "2025-01-17"]
    assert sent(history_json(days, 0)) == []


def test_history_shows_values_only_while_on_the_board() -> None:
    days = [
        HistoryDay(JAN_15, None, None, D(7), D(9)),  # beyond the cap all day: not a snapshot
        HistoryDay(JAN_15 + 1, None, 3, D(9), D("12.5")),  # pulled onto the board
        HistoryDay(JAN_15 + 2, 3, None, D("12.5"), None),  # left the ranking
    ]
    assert [(e["previousValue"], e["value"]) for e in sent(history_json(days, 10))] == [
        (None, 12),
        (12, None),
    ]
    assert [e["date"] for e in sent(history_json(days, 1))] == ["2025-01-17"]
