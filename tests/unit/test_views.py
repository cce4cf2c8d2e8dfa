"""The view document (processors.core.views, written as a schemas.views.UserView): streak
history periods are contiguous, gaps have length 0, dates are the periods' own; totals and
achievements are carried as they are; every day is an ISO date."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from trophy.types import StreakResponse

from ingest.http import api
from ingest.http.api import ApiError
from ingest.views import ViewReader
from processors.core.ranking import Ranking
from processors.core.views import user_view
from schemas.rules import Rules
from schemas.state import HistoryEntry, StreakState, UserState
from schemas.values import replace
from schemas.views import Keys, board_member, decode_view, encode_view
from tests.rules import writing_rules
from tests.sent import sent

RULES = writing_rules()  # daily streak


def _day(iso: str) -> int:
    return date.fromisoformat(iso).toordinal()


def _doc(state: UserState, rules: Rules = RULES) -> Any:
    """The document as the projector stores it, parsed as plain JSON."""
    return json.loads(encode_view(user_view(state, rules)))


def test_history_fills_the_periods_between_kept_ones() -> None:
    kept = (
        HistoryEntry(period=_day("2026-03-01"), length=1),
        HistoryEntry(period=_day("2026-03-02"), length=2),
        HistoryEntry(period=_day("2026-03-05"), length=1, used_freeze=False),
        HistoryEntry(period=_day("2026-03-06"), length=1, used_freeze=True),
        HistoryEntry(period=_day("2026-03-07"), length=1),  # a Saturday off: paused
    )
    state = UserState(
        user_id="u",
        totals={"words-written": Decimal("12.5")},
        achievements={"first-words": 5},
        streak=StreakState(length=1, history=kept, paused=(_day("2026-03-07"),)),
    )
    view = _doc(state)
    assert view["history"] == [
        ["2026-03-01", "2026-03-01", 1, False, False],
        ["2026-03-02", "2026-03-02", 2, False, False],
        ["2026-03-03", "2026-03-03", 0, False, False],
        ["2026-03-04", "2026-03-04", 0, False, False],
        ["2026-03-05", "2026-03-05", 1, False, False],
        ["2026-03-06", "2026-03-06", 1, True, False],
        ["2026-03-07", "2026-03-07", 1, False, True],
    ]
    assert view["totals"] == {"words-written": "12.5"}
    assert view["achievements"] == {"first-words": 5}
    assert view["streak"]["length"] == 1 and view["streak"]["frequency"] == "daily"


def test_history_keeps_the_configured_number_of_periods() -> None:
    start = _day("2026-01-01")
    kept = tuple(HistoryEntry(period=start + 2 * i, length=1) for i in range(40))  # every other day
    view = _doc(UserState(user_id="u", streak=StreakState(history=kept)))
    assert len(view["history"]) == RULES.streak.history_periods == 30  # type: ignore[union-attr]
    assert view["history"][-1][0] == date.fromordinal(start + 78).isoformat()
    assert [h[2] for h in view["history"][-4:]] == [0, 1, 0, 1]


def test_the_view_streak_renders_into_the_sdk_streak_response() -> None:
    """One camelCase streak rendering (ingest.http.render): the view document's streak, read back
    by the HTTP answer, parses into Trophy's own StreakResponse with the state's figures."""
    day = _day("2026-03-10")
    kept = tuple(HistoryEntry(period=day - 2 + i, length=i + 1) for i in range(3))
    streak = StreakState(length=3, longest=5, started=day - 2, covered=day, period=day)
    state = UserState(user_id="u", streak=replace(streak, history=kept))
    assert _doc(state)["streak"]["longest"] == 5
    view = decode_view(encode_view(user_view(state, RULES)))
    answer = StreakResponse.model_validate_json(
        msgspec.json.encode(api.streak_response(view, RULES, 7))
    )
    assert (answer.length, answer.frequency, answer.started) == (3, "daily", "2026-03-08")
    assert (answer.period_start, answer.period_end) == ("2026-03-10", "2026-03-10")
    assert [(h.period_start, h.length) for h in answer.streak_history] == [
        ("2026-03-08", 1),
        ("2026-03-09", 2),
        ("2026-03-10", 3),
    ]


def test_the_view_keeps_each_systems_points_for_the_user_routes() -> None:
    from ingest.http import api_points
    from schemas.state import KeptAward, PointsDay, PointsState
    from tests.rules import points_rules

    rules = points_rules()
    xp = PointsState(
        total=120,
        level="journeyman",
        awards=(
            KeptAward(trigger="welcome", event_id="e1", points=20, time_ms=1_000, total=20),
            KeptAward(
                trigger="per-100-words",
                event_id="e2",
                points=100,
                time_ms=2_000,
                total=120,
                count=10,
                boosts=("pro-double",),
            ),
        ),
        days=(PointsDay(day=_day("2024-04-02"), added=120, total=120),),
    )
    state = UserState(user_id="ann", points={"xp": xp})
    doc = _doc(state, rules)["points"]
    assert doc == {
        "xp": {
            "total": 120,
            "level": "journeyman",
            "awards": [
                ["welcome", "e1", 20, 1_000, 20, 1, []],
                ["per-100-words", "e2", 100, 2_000, 120, 10, ["pro-double"]],
            ],
            "days": [["2024-04-02", 120, 120]],
        }
    }
    standing = decode_view(encode_view(user_view(state, rules))).points["xp"]
    out = sent(api_points.user_points(rules.points["xp"], rules, "ann", standing, 10, 0))
    assert [a["id"] for a in out["awards"]] == [
        "ann:points:xp:per-100-words:e2",
        "ann:points:xp:welcome:e1",
    ]
    assert (out["total"], out["level"]["key"]) == (120, "journeyman")


def test_paused_periods_render_as_used_pause() -> None:
    """`usedFreeze` and `usedPause` are the history rows' fourth and fifth columns."""
    view = decode_view(
        json.dumps(
            {
                "userId": "u",
                "history": [
                    ["2026-03-06", "2026-03-06", 4, False, False],
                    ["2026-03-07", "2026-03-07", 4, False, True],
                    ["2026-03-08", "2026-03-08", 4, True, False],
                ],
            }
        )
    )
    answer = StreakResponse.model_validate_json(
        msgspec.json.encode(api.streak_response(view, RULES, 7))
    )
    assert [
        (h.period_start, h.length, h.used_freeze, h.used_pause) for h in answer.streak_history
    ] == [
        ("2026-03-06", 4, False, False),
        ("2026-03-07", 4, False, True),
        ("2026-03-08", 4, True, False),
    ]
    assert answer.pauses == []


def test_every_day_in_the_document_is_an_iso_date() -> None:
    """Metric days, points days, streak periods and the sign-up date: one format (the ":2"
    layout kept points days as ordinals)."""
    from schemas.state import MetricDay, PointsDay, PointsState

    state = UserState(
        user_id="u",
        sign_up_date="2024-04-01",
        metric_days={
            "words-written": (
                MetricDay(day=_day("2024-04-02"), added=Decimal("2.5"), total=Decimal(5)),
            )
        },
        points={
            "xp": PointsState(total=7, days=(PointsDay(day=_day("2024-04-03"), added=7, total=7),))
        },
        streak=StreakState(history=(HistoryEntry(period=_day("2024-04-02"), length=1),)),
    )
    doc = _doc(state)
    assert doc["signUpDate"] == "2024-04-01"
    assert doc["metricDays"] == {"words-written": [["2024-04-02", "2.5", "5"]]}
    assert doc["points"]["xp"]["days"] == [["2024-04-03", 7, 7]]
    assert doc["history"] == [["2024-04-02", "2024-04-02", 1, False, False]]
    assert decode_view(encode_view(user_view(state, RULES))) == user_view(state, RULES)


OLD_DOC = {  # a ":2" document: points days as ordinals, a history row from before days off
    "userId": "u",
    "totals": {},
    "history": [["2026-03-06", "2026-03-06", 4, False]],
    "points": {"xp": {"total": 7, "level": None, "awards": [], "days": [[739_000, 7, 7]]}},
}


class _OneDocument:
    """A Redis that holds one user's document."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    async def hget(self, key: str, field: str) -> bytes:
        return self.raw


def test_a_document_of_the_older_layout_reads_as_views_being_rebuilt() -> None:
    """Old documents do not decode; the first projector after the upgrade rebuilds them (their
    epoch marker is `epoch:2`, the reader looks for `epoch:3`) and a gateway that meets one
    meanwhile answers 503, as while rebuilding, not a 500."""
    raw = json.dumps(OLD_DOC).encode()
    with pytest.raises(msgspec.ValidationError):
        decode_view(raw)
    reader = ViewReader(_OneDocument(raw), Keys())  # type: ignore[arg-type]
    with pytest.raises(ApiError) as caught:
        asyncio.run(reader.user("u"))
    assert caught.value.status == 503
    assert (Keys().epoch, Keys().board_epoch) == ("podium:epoch:3", "podium:board-epoch:2")


# --- the board zsets' members order exactly (issue 18: doubles above 2^53) -------------------

TWO_53 = 2**53


def _redis_order(entries: list[tuple[str, Decimal, int]]) -> list[str]:
    """The order Redis gives a zset: by the double score (-value), then by member bytes."""
    members = {
        user: (-float(value), board_member(value, reached, user).encode())
        for user, value, reached in entries
    }
    return sorted(members, key=members.__getitem__)


def _ranker_order(entries: list[tuple[str, Decimal, int]]) -> list[str]:
    return [e.user_id for e in Ranking.build(entries).entries()]


def test_values_a_double_cannot_tell_apart_order_by_value_not_by_time() -> None:
    """2^53 + 1 and 2^53 are one double: by the score alone Redis orders them by the member,
    and a member led by the time would put "late" (2^53 + 1, reached later) second."""
    entries = [("early", Decimal(TWO_53), 1_000), ("late", Decimal(TWO_53 + 1), 2_000)]
    assert float(TWO_53) == float(TWO_53 + 1)
    assert _redis_order(entries) == ["late", "early"] == _ranker_order(entries)


def test_fractions_beyond_a_doubles_digits_order_exactly() -> None:
    entries = [
        ("a", Decimal("0.1"), 1),
        ("b", Decimal("0.10000000000000000001"), 2),
        ("c", Decimal("-0.10000000000000000001"), 0),
        ("d", Decimal("-0.1"), 3),
        ("e", Decimal("0"), 4),
        ("f", Decimal("1E+40"), 5),
        ("g", Decimal("10000000000000000000000000000000000000001"), 6),
    ]
    assert _redis_order(entries) == ["g", "f", "b", "a", "e", "d", "c"]


def test_values_of_more_digits_than_the_decimal_context_order_exactly() -> None:
    """31 significant digits: negating in the default context (28 digits) made these equal,
    so the ranker tied them by time and put the smaller value first (found by Hypothesis)."""
    entries = [
        ("small", Decimal("-999999.9999999999999999999999501"), 0),
        ("large", Decimal("-999999.9999999999999999999999500"), 1),
    ]
    assert _redis_order(entries) == ["large", "small"] == _ranker_order(entries)


def test_equal_values_written_differently_tie_by_time_then_user() -> None:
    entries = [("b", Decimal("5.0"), 1), ("a", Decimal("5"), 1), ("c", Decimal("5.00"), 0)]
    assert _redis_order(entries) == ["c", "a", "b"] == _ranker_order(entries)


board_values = st.one_of(
    st.integers(-(2**70), 2**70).map(Decimal),
    st.integers(TWO_53 - 5, TWO_53 + 5).map(Decimal),
    st.decimals(allow_nan=False, allow_infinity=False, places=25, min_value=-1e6, max_value=1e6),
    st.builds(
        lambda digits, exp: Decimal(digits).scaleb(exp),
        st.integers(-(10**30) + 1, 10**30 - 1),
        st.integers(-30, 30),
    ),
)


@given(
    st.lists(
        st.tuples(board_values, st.integers(0, 5)),
        min_size=1,
        max_size=30,
    )
)
def test_the_zset_order_is_the_rankers_order(values: list[tuple[Decimal, int]]) -> None:
    entries = [(f"u{i}", value, reached) for i, (value, reached) in enumerate(values)]
    assert _redis_order(entries) == _ranker_order(entries)
