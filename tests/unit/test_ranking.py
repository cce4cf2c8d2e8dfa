"""The exact ordering of a ranking against an independent model: a dict of entries sorted from
scratch after every change (value descending, then the time the value was reached, then the
user id)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from processors.core.ranking import Entry, Move, Ranking, Rankings
from schemas.leaderboards import ScoreChanged, encode_leaderboard_record
from schemas.rules import Leaderboard

D = Decimal
USERS = [f"u{i}" for i in range(8)]
values = st.one_of(
    st.none(),
    st.integers(-3, 6).map(Decimal),
    st.sampled_from([D("2.5"), D("2.50"), D("-0.5"), D("6.0")]),
)
ops = st.lists(st.tuples(st.sampled_from(USERS), values, st.integers(0, 5)), max_size=60)


class Model:
    """Sorts everything from scratch: slow and obviously right."""

    def __init__(self, cap: int | None) -> None:
        self.cap = cap
        self.entries: dict[str, tuple[Decimal, int]] = {}

    def order(self) -> list[str]:
        return sorted(self.entries, key=lambda u: (-self.entries[u][0], self.entries[u][1], u))

    def shown(self, user: str) -> int | None:
        order = self.order()
        if user not in self.entries:
            return None
        rank = order.index(user) + 1
        return None if self.cap is not None and rank > self.cap else rank


def check_move(model: Model, ranking: Ranking, user: str, value: Decimal | None, t: int) -> None:
    old = model.entries.get(user)
    shown_before = {u: model.shown(u) for u in USERS}
    if value is None:
        model.entries.pop(user, None)
    else:
        model.entries[user] = (value, t)
    new = model.entries.get(user)
    moves = ranking.apply(user, value, t)
    if old == new:
        assert moves == []
        return
    mover = Move(
        user,
        shown_before[user],
        model.shown(user),
        None if old is None else old[0],
        None if new is None else new[0],
        None if new is None else new[1],
    )
    assert moves[0] == mover
    crossed = {
        u: (shown_before[u], model.shown(u))
        for u in USERS
        if u != user and (shown_before[u] is None) != (model.shown(u) is None)
    }
    assert {m.user_id: (m.previous_rank, m.rank) for m in moves[1:]} == crossed
    assert all(
        (m.previous_value, m.reached_ms) == (m.value, model.entries[m.user_id][1])
        and m.value == model.entries[m.user_id][0]
        for m in moves[1:]
    )
    assert len(moves) <= 2


def check_reads(model: Model, ranking: Ranking, offset: int, limit: int) -> None:
    order = model.order()
    assert [(e.rank, e.user_id, e.value) for e in ranking.entries()] == [
        (i + 1, u, model.entries[u][0]) for i, u in enumerate(order)
    ]
    for u in USERS:
        assert ranking.rank(u) == model.shown(u)
        assert ranking.position(u) == (order.index(u) + 1 if u in order else None)
    visible = order if model.cap is None else order[: model.cap]
    assert [e.user_id for e in ranking.page(offset, limit)] == visible[offset : offset + limit]
    full = model.cap is not None and len(order) >= model.cap
    expected = model.entries[order[model.cap - 1]][0] if full and model.cap else None
    assert ranking.threshold() == expected
    assert len(ranking) == len(order)


@settings(max_examples=300)
@given(ops, st.one_of(st.none(), st.integers(1, 5)), st.integers(0, 8), st.integers(0, 8))
def test_the_ordering_equals_an_independent_sort(
    changes: list[tuple[str, Decimal | None, int]], cap: int | None, offset: int, limit: int
) -> None:
    model, ranking = Model(cap), Ranking(cap)
    for user, value, t in changes:
        check_move(model, ranking, user, value, t)
    check_reads(model, ranking, offset, limit)


@given(ops, st.one_of(st.none(), st.integers(1, 5)))
def test_a_bulk_build_equals_the_changes_one_by_one(
    changes: list[tuple[str, Decimal | None, int]], cap: int | None
) -> None:
    ranking = Ranking(cap)
    final: dict[str, tuple[Decimal, int]] = {}
    for user, value, t in changes:
        ranking.apply(user, value, t)
        if value is None:
            final.pop(user, None)
        else:
            final[user] = (value, t)
    built = Ranking.build(((u, v, t) for u, (v, t) in final.items()), cap)
    assert list(built.entries()) == list(ranking.entries())
    assert built.threshold() == ranking.threshold()


def test_ties_go_to_whoever_reached_the_value_first_not_to_arrival_order() -> None:
    r = Ranking()
    r.apply("late", D(50), 2_000)  # arrives first, reached 50 later
    r.apply("early", D(50), 1_000)
    r.apply("zed", D(50), 1_000)  # same value, same time: the user id decides
    assert [e.user_id for e in r.entries()] == ["early", "zed", "late"]


def test_a_decrease_reorders_and_reaching_a_value_again_counts_from_then() -> None:
    r = Ranking()
    r.apply("a", D(10), 1)
    r.apply("b", D(20), 2)
    assert r.apply("b", D(10), 3) == [Move("b", 1, 2, D(20), D(10), 3)]  # a had 10 first
    assert [e.user_id for e in r.entries()] == ["a", "b"]
    assert r.apply("b", None, 4) == [Move("b", 2, None, D(10), None, None)]
    assert r.apply("b", None, 5) == [] and len(r) == 1


def test_pages_and_pages_around_a_user() -> None:
    r = Ranking.build((f"u{i:02}", D(100 - i), i) for i in range(30))
    assert r.page(0, 3) == [Entry(1, "u00", D(100)), Entry(2, "u01", D(99)), Entry(3, "u02", D(98))]
    assert [e.rank for e in r.page(28, 10)] == [29, 30]
    assert [e.user_id for e in r.around("u10", -1, 3)] == ["u09", "u10", "u11"]
    assert r.around("nobody", 0, 5) == [] and r.page(5, 0) == []


def test_a_capped_board_shows_the_top_and_its_threshold() -> None:
    r = Ranking(cap=2)
    r.apply("a", D(5), 1)
    assert r.threshold() is None  # room left: anyone gets on
    r.apply("b", D(7), 2)
    r.apply("c", D(1), 3)
    assert (r.rank("c"), r.position("c"), r.threshold()) == (None, 3, D(5))
    assert r.apply("c", D(6), 4) == [
        Move("c", None, 2, D(1), D(6), 4),
        Move("a", 2, None, D(5), D(5), 1),
    ]


def board(key: str, cap: int | None = None) -> Leaderboard:
    return Leaderboard(key, key, "metric", anchor=1, metric="words", max_participants=cap)


def change(
    user: str, value: Decimal | None, t: int, previous: Decimal | None = None
) -> ScoreChanged:
    return ScoreChanged(
        id=f"{user}:score:top::e{t}",
        board="top",
        run="all",
        group="",
        user_id=user,
        event_id=f"e{t}",
        time_ms=t,
        previous=previous,
        value=value,
    )


def test_the_stage_emits_the_mover_and_the_one_who_crossed_the_cap() -> None:
    stage = Rankings({"top": board("top", cap=1)})
    first = stage.apply(change("a", D(3), 1))
    second = stage.apply(change("b", D(4), 2))
    assert [(r.id, r.user_id, r.previous_rank, r.rank) for r in first + second] == [
        ("a:score:top::e1:rank", "a", None, 1),
        ("b:score:top::e2:rank", "b", None, 1),
        ("b:score:top::e2:rank:a", "a", 1, None),
    ]
    assert second[0].threshold == D(4) and second[0].participants == 2
    assert stage.apply(change("b", D(4), 2)) == []  # a redelivered change is a no-op


@given(st.lists(st.tuples(st.sampled_from(USERS), values, st.integers(0, 5)), max_size=40))
def test_replaying_the_scores_reproduces_every_rank_record_byte_for_byte(
    changes: list[tuple[str, Decimal | None, int]],
) -> None:
    def run() -> list[bytes]:
        stage = Rankings({"top": board("top", cap=3)})
        return [
            encode_leaderboard_record(rec)
            for user, value, t in changes
            for rec in stage.apply(change(user, value, t))
        ]

    assert run() == run()


@given(ops, st.one_of(st.none(), st.integers(1, 5)))
def test_a_restored_stage_equals_the_stage_that_applied_every_change(
    changes: list[tuple[str, Decimal | None, int]], cap: int | None
) -> None:
    boards = {"top": board("top", cap=cap)}
    live = Rankings(boards)
    log = [change(user, value, t) for user, value, t in changes]
    for rec in log:
        live.apply(rec)
    restored = Rankings.restore(boards, log)
    model = Model(cap)
    for user, value, t in changes:
        if value is None:
            model.entries.pop(user, None)
        else:
            model.entries[user] = (value, t)
    expected = [(i + 1, u, model.entries[u][0]) for i, u in enumerate(model.order())]
    got = restored.rankings.get("top|all|")
    assert [(e.rank, e.user_id, e.value) for e in (got.entries() if got else [])] == expected
    if got is not None:
        assert got.cap == cap and got.threshold() == live.get("top", "top|all|").threshold()
    # the retention's clock and the users whose entry is a leave come back too
    assert (restored.clock_ms, restored.left) == (live.clock_ms, live.left)
    # the next change emits the same records from either
    nxt = change("u0", D(9), 9)
    assert restored.apply(nxt) == live.apply(nxt)
