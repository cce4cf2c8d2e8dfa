"""The streak rankings' sorted sets of one state (processors.core.streak_views): a user is scored
by minus each length that is at least 1 and leaves each ranking whose length is 0; a
tenant's user is scored in the tenant's sets; no streak rule, no sets."""

from __future__ import annotations

import dataclasses

from processors.core.streak_views import streak_scores
from schemas.rules import Rules
from schemas.state import StreakState, UserState
from schemas.views import Keys
from tests.rules import writing_rules

RULES = writing_rules()  # a daily streak
KEYS = Keys("p:")


def _state(length: int, longest: int) -> UserState:
    return UserState(user_id="u", streak=StreakState(length=length, longest=longest))


def test_a_running_streak_is_scored_in_both_rankings() -> None:
    assert streak_scores(_state(4, 7), RULES, KEYS) == (
        {"p:streak:active": -4, "p:streak:longest": -7},
        [],
    )


def test_a_lost_streak_leaves_the_active_ranking_only() -> None:
    assert streak_scores(_state(0, 7), RULES, KEYS) == (
        {"p:streak:longest": -7},
        ["p:streak:active"],
    )


def test_no_streak_ever_is_in_no_ranking() -> None:
    assert streak_scores(_state(0, 0), RULES, KEYS) == ({}, ["p:streak:active", "p:streak:longest"])


def test_a_tenants_user_is_ranked_among_the_tenants_users() -> None:
    scored, _ = streak_scores(_state(2, 2), RULES, KEYS.scoped("acme co"))
    assert scored == {
        "p:tenant:acme%20co:streak:active": -2,
        "p:tenant:acme%20co:streak:longest": -2,
    }


def test_rules_without_a_streak_rank_nobody() -> None:
    no_streak: Rules = dataclasses.replace(RULES, streak=None)
    assert streak_scores(_state(3, 3), no_streak, KEYS) == ({}, [])
