"""The streak rankings' sorted sets (`schemas.views.Keys.streak_ranking`) of one user's
state. Pure: the projector (`processors.projector.Projector.scores`) writes what this
returns with the user's document, under the same compare-and-set, so `podium views rebuild`
rebuilds them with the rest."""

from __future__ import annotations

from schemas.rules import Rules
from schemas.state import UserState
from schemas.views import Keys


def streak_scores(state: UserState, rules: Rules, keys: Keys) -> tuple[dict[str, int], list[str]]:
    """The streak rankings the user is scored in (minus the length: ascending order is
    longest first, ties by user id) and those the user leaves (a length of 0: a user with
    no streak is not ranked). None of either when the rules have no streak."""
    if rules.streak is None:
        return {}, []
    scored: dict[str, int] = {}
    left: list[str] = []
    for kind, length in (("active", state.streak.length), ("longest", state.streak.longest)):
        if length > 0:
            scored[keys.streak_ranking(kind)] = -length
        else:
            left.append(keys.streak_ranking(kind))
    return scored, left
