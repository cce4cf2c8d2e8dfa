"""Leaderboards end to end through Trophy's own Python SDK: the worker, `podium ranker`, the
projector and the gateway as real processes on the real broker and Redis, rules
`tests/rules/boards.toml`. Six authors write words (one ties another's total later, one
writes a decimal, one goes down, one has no plan); then the three leaderboard reads, with the
SDK's models, equal rankings computed here from the events sent alone: total desc, then when
the total was reached (the events are sent one at a time, a few milliseconds apart, so the
gateway stamps them in sending order), then user id; values rounded down. Each user's
history (one UTC day: all events are sent today) equals the rank and value before the user's
first rank change and after the last, both computed from the same rankings before and after
each event.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import redis
from trophy.errors import NotFoundError, UnprocessableEntityError

from tests.integration.gateway.conftest import Podium, eventually, start_podium
from tests.rules import BOARDS_PATH

pytestmark = pytest.mark.integration
METRIC = "words-written"
USERS: dict[str, dict[str, Any]] = {
    "ann": {"id": "ann", "name": "Ann", "attributes": {"plan": "pro"}},
    "bob": {"id": "bob", "name": "Bob", "attributes": {"plan": "free"}},
    "cy": {"id": "cy", "attributes": {"plan": "pro"}},
    "dee": {"id": "dee", "name": "Dee", "attributes": {"plan": "free"}},
    "eve": {"id": "eve", "name": "Eve", "attributes": {"plan": "pro"}},
    "fay": {"id": "fay", "name": "Fay"},  # no plan: on no board broken down by plan
}
# in sending order: cy ties ann's 100 after her, bob reaches 100 later still, ann drops to 90
EVENTS = [
    ("ann", "100"),
    ("bob", "60"),
    ("cy", "100"),
    ("bob", "40"),
    ("dee", "250.5"),
    ("eve", "30"),
    ("ann", "-10"),
    ("fay", "70"),
]
Row = tuple[str, str | None, int, int]  # user, name, rank, value


def expected(plan: str | None = None, cap: int | None = None, upto: int = len(EVENTS)) -> list[Row]:
    """The ranking of the first `upto` of `EVENTS` (among the users on `plan`, when given),
    first `cap` only."""
    total: dict[str, Decimal] = {}
    reached: dict[str, int] = {}
    for seq, (uid, value) in enumerate(EVENTS[:upto]):
        total[uid] = total.get(uid, Decimal(0)) + Decimal(value)
        reached[uid] = seq
    users = [u for u in total if plan is None or USERS[u].get("attributes", {}).get("plan") == plan]
    users.sort(key=lambda u: (-total[u], reached[u], u))
    rows = [(u, USERS[u].get("name"), i + 1, math.floor(total[u])) for i, u in enumerate(users)]
    return rows[:cap]


@pytest.fixture(scope="module")
def podium(
    kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Podium]:
    with ExitStack() as stack:
        home = tmp_path_factory.mktemp("podium-boards")
        # a generous wait: each answer waits for the ranker's rank changes too
        pod = start_podium(kafka_bootstrap, redis_url, home, rules=BOARDS_PATH, wait_s=15.0)
        stack.callback(pod.stop)
        pod.start_ranker()
        yield pod
        pod.check_alive()


def _rows(board: Any) -> list[Row]:
    return [(r.user_id, r.user_name, r.rank, r.value) for r in board.rankings]


def utc_today() -> str:
    return datetime.now(UTC).date().isoformat()


@pytest.fixture(scope="module")
def sent(podium: Podium) -> tuple[list[Any], set[str]]:
    """Send `EVENTS` in order; the SDK's `EventResponse` of each, and the UTC dates the
    sending spanned."""
    trophy = podium.trophy()
    answers = []
    to_midnight = 86_400 - time.time() % 86_400
    if to_midnight < 300:  # send them all on one UTC day, so each history day is known
        time.sleep(to_midnight + 1)
    first = utc_today()
    for uid, value in EVENTS:
        answers.append(trophy.metrics.event(key=METRIC, user=USERS[uid], value=float(value)))
        time.sleep(0.005)  # distinct receive milliseconds, in sending order
    want = expected()

    def ranked() -> None:
        assert _rows(trophy.leaderboards.get(key="top-writers", limit=100)) == want

    eventually(ranked, within=30, every=0.2)
    return answers, {first, utc_today()}


@pytest.fixture(scope="module")
def played(sent: tuple[list[Any], set[str]]) -> list[Any]:
    return sent[0]


def rank_of(uid: str, rows: list[Row]) -> int | None:
    return next((rank for u, _, rank, _ in rows if u == uid), None)


def test_each_events_answer_carries_its_ranks(played: list[Any]) -> None:
    """`EventResponse.leaderboards`: every board the event moved its user on, with the rank
    after and before it from the independent rankings of the events up to it and before it;
    the capped board's threshold is the last value on it once full, else 0."""
    for seq, ((uid, _), answer) in enumerate(zip(EVENTS, played, strict=True)):
        plan = USERS[uid].get("attributes", {}).get("plan")
        boards = answer.leaderboards
        assert sorted(boards) == sorted(["top-writers", "podium", *(["top-by-plan"] * bool(plan))])
        for key, before, after in (
            ("top-writers", expected(upto=seq), expected(upto=seq + 1)),
            ("top-by-plan", expected(plan, upto=seq), expected(plan, upto=seq + 1)),
            ("podium", expected(cap=3, upto=seq), expected(cap=3, upto=seq + 1)),
        ):
            if key not in boards:
                continue
            got = boards[key]
            assert (got.rank, got.previous_rank) == (
                rank_of(uid, after),
                rank_of(uid, before),
            ), (seq, key)
        full = expected(upto=seq + 1)
        assert boards["podium"].threshold == (full[2][3] if len(full) >= 3 else 0), seq
        assert boards["top-writers"].threshold == 0
        if plan:
            assert boards["top-by-plan"].breakdown_attribute_values[0].value == plan


def test_rankings_equal_the_independent_order(podium: Podium, played: list[Any]) -> None:
    trophy = podium.trophy()
    board = trophy.leaderboards.get(key="top-writers")
    assert (board.key, board.status, board.rank_by, board.metric_key) == (
        "top-writers",
        "active",
        "metric",
        METRIC,
    )
    assert _rows(board) == expected()
    assert _rows(trophy.leaderboards.get(key="top-writers", offset=1, limit=2)) == expected()[1:3]
    assert _rows(trophy.leaderboards.get(key="top-writers", run="2025-01-15")) == expected()
    around = trophy.leaderboards.get(key="top-writers", user_id="ann", limit=2)
    place = [r[0] for r in expected()].index("ann")
    assert _rows(around) == expected()[place : place + 2]
    assert trophy.leaderboards.get(key="top-writers", user_id="nobody").rankings == []


def test_breakdown_groups_and_the_cap(podium: Podium, played: list[Any]) -> None:
    trophy = podium.trophy()
    for plan in ("pro", "free"):
        got = trophy.leaderboards.get(key="top-by-plan", user_attributes=f"plan:{plan}")
        assert _rows(got) == expected(plan=plan), plan
    assert _rows(trophy.leaderboards.get(key="podium", limit=10)) == expected(cap=3)
    with pytest.raises(UnprocessableEntityError):
        trophy.leaderboards.get(key="top-by-plan")  # which group: required
    with pytest.raises(UnprocessableEntityError):
        trophy.leaderboards.get(key="top-writers", limit=1001)
    with pytest.raises(NotFoundError):
        trophy.leaderboards.get(key="bottom-writers")


def test_a_users_standing(podium: Podium, played: list[Any]) -> None:
    trophy = podium.trophy()
    for uid in USERS:
        for key, rows in (
            ("top-writers", expected()),
            ("top-by-plan", expected(plan=USERS[uid].get("attributes", {}).get("plan"))),
            ("podium", expected(cap=3)),
        ):
            mine = [(rank, value) for u, _, rank, value in rows if u == uid]
            if key == "top-by-plan" and "attributes" not in USERS[uid]:
                mine = []  # no plan: in no group
            got = trophy.users.leaderboard(id=uid, key=key)
            assert (got.rank, got.value) == (mine[0] if mine else (None, None)), (uid, key)
    with pytest.raises(NotFoundError):
        trophy.users.leaderboard(id="nobody", key="top-writers")


def test_the_list_of_boards(podium: Podium, played: list[Any]) -> None:
    boards = podium.trophy().leaderboards.all_()
    assert [(b.key, b.status) for b in boards] == [
        ("top-writers", "active"),
        ("top-by-plan", "active"),
        ("podium", "active"),
    ]
    assert boards[1].breakdown_attributes == ["plan"] and boards[2].max_participants == 3


def place(uid: str, rows: list[Row], cap: int | None) -> tuple[int | None, int | None]:
    """The user's rank on the board (None: not a participant, or beyond the cap) and value."""
    mine = [(rank, value) for u, _, rank, value in rows if u == uid]
    if not mine:
        return None, None
    rank, value = mine[0]
    return (rank if cap is None or rank <= cap else None), value


def history_of(uid: str, plan: str | None, cap: int | None) -> list[tuple[Any, ...]]:
    """The user's history on the ranking of `plan` (None: everyone), from the rankings before
    and after each event: the stage records a rank change for the mover, and for whoever the
    move took across the cap; the day runs from the first record's "before" to the last's
    "after", and is no snapshot when the user is off the board at both ends."""
    records = []
    for seq, (mover, _) in enumerate(EVENTS):
        if plan is not None and USERS[mover].get("attributes", {}).get("plan") != plan:
            continue  # a change of another ranking
        before = place(uid, expected(plan, upto=seq), cap)
        after = place(uid, expected(plan, upto=seq + 1), cap)
        if mover == uid or (before[0] is None) != (after[0] is None):
            records.append((before, after))
    if not records:
        return []
    (prev_rank, prev_value), (rank, value) = records[0][0], records[-1][1]
    if prev_rank is None and rank is None:
        return []
    return [
        (
            prev_rank,
            rank,
            None if prev_rank is None else prev_value,
            None if rank is None else value,
        )
    ]


def test_each_users_history_is_the_day_of_its_rank_changes(
    podium: Podium, sent: tuple[list[Any], set[str]]
) -> None:
    """`history`: per user and board one entry for today (UTC), from the rank and value before
    the user's first rank change to those after the last (computed here from the events);
    none where the user is in no group, or stayed off the capped board."""
    (today,) = sent[1]  # one day: the sending waits out the last five minutes before midnight
    trophy = podium.trophy()
    for uid in USERS:
        plan = USERS[uid].get("attributes", {}).get("plan")
        for key, want in (
            ("top-writers", history_of(uid, None, None)),
            ("top-by-plan", history_of(uid, plan, None) if plan else []),
            ("podium", history_of(uid, None, 3)),
        ):

            def recorded(uid: str = uid, key: str = key, want: Any = want) -> None:
                got = trophy.users.leaderboard(id=uid, key=key).history
                rows = [(e.previous_rank, e.rank, e.previous_value, e.value) for e in got]
                assert rows == want, (uid, key)
                assert [e.date for e in got] == [today] * len(want)
                assert all(e.timestamp.isoformat() == f"{today}T00:00:00+00:00" for e in got)

            eventually(recorded, within=30, every=0.2)
    assert trophy.users.leaderboard(id="ann", key="top-writers", num_events=0).history == []


def test_podium_views_rebuild_restores_the_histories(podium: Podium, played: list[Any]) -> None:
    """The histories lost from Redis come back, the same, from `podium.leaderboards`."""
    trophy = podium.trophy()
    before = {uid: trophy.users.leaderboard(id=uid, key="podium").history for uid in USERS}
    assert any(before.values())
    client = redis.Redis.from_url(podium.redis_url)
    client.delete(*client.keys(f"{podium.env['PODIUM_VIEWS_PREFIX']}rank-history:*"))
    assert trophy.users.leaderboard(id="dee", key="podium").history == []
    podium.rebuild_views()

    def restored() -> None:
        got = {uid: trophy.users.leaderboard(id=uid, key="podium").history for uid in USERS}
        assert got == before

    eventually(restored, within=30, every=0.2)
