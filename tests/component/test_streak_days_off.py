"""Streak days off on the HTTP surface, read through Trophy's own SDK client (its models parse
every answer): the fold's state, made into the view document as the projector makes it, is
answered with `usedPause` on the paused periods and `pauses` empty.

The rules are `tests/rules/writing.toml` (100 words a day; 1 freeze, +1 every 7 days) with
Saturday and Sunday off. Late November 2025: Wednesday the 26th ... Saturday the 29th,
Sunday the 30th, Monday 1 December. Expected figures are worked out by hand from a calendar."""

from __future__ import annotations

from decimal import Decimal

import pytest
from starlette.testclient import TestClient
from trophy import TrophyApi
from trophy.environment import TrophyApiEnvironment

from processors.core.fold import evolve
from processors.core.views import user_view
from schemas.commands import MetricTracked, User
from schemas.rules import Rules
from schemas.rules_parse import parse_rules
from schemas.state import UserState
from tests.component.fakes import API_KEY, BASE_URL, Stack
from tests.rules import WRITING_PATH
from tests.unit.fold_helpers import at

WEEKEND_OFF = WRITING_PATH.read_text().replace(
    "history_periods = 30", "history_periods = 30\ndays_off = [0, 6]"
)


@pytest.fixture
def rules() -> Rules:
    parsed = parse_rules(WEEKEND_OFF, source="writing-weekend-off.toml")
    assert parsed.streak is not None and parsed.streak.days_off == {0, 6}
    return parsed


def _write(rules: Rules, user: str, tz: str | None, times: list[str]) -> UserState:
    """100 words at each time (UTC), folded from an empty state."""
    state = None
    for i, when in enumerate(times):
        cmd = MetricTracked(
            event_id=f"{user}-{i}",
            time_ms=at(when),
            user=User(id=user, tz=tz),
            metric="words-written",
            value=Decimal(100),
        )
        state, _ = evolve(state, cmd, rules)
    assert state is not None
    return state


def _sdk(http: TestClient) -> TrophyApi:
    root = BASE_URL.removesuffix("/v1")
    return TrophyApi(
        api_key=API_KEY,
        environment=TrophyApiEnvironment(api=BASE_URL, admin=root + "/admin/v1"),
        httpx_client=http,
    )


TIMES = ["2025-11-26T12:00", "2025-11-27T12:00", "2025-11-30T12:00"]  # UTC


def test_a_weekend_off_is_answered_as_paused_periods(rules: Rules) -> None:
    """In Kiritimati (UTC+14) the three times are Thursday, Friday and Monday: the weekend
    between pauses the streak. In UTC they are Wednesday, Thursday and Sunday: Friday is
    missed (the freeze keeps it), Saturday pauses, and writing on Sunday extends."""
    stack = Stack(rules)
    stack.views.put(user_view(_write(rules, "kai", "Pacific/Kiritimati", TIMES), rules))
    stack.views.put(user_view(_write(rules, "uta", None, TIMES), rules))
    with stack.client() as http:
        client = _sdk(http)
        kai = client.users.streak(id="kai", history_periods=5)
        uta = client.users.streak(id="uta", history_periods=5)
        raw = http.get("/users/kai/streak").json()
    assert (kai.length, kai.started, kai.expires, kai.freezes) == (3, "2025-11-27", "2025-12-02", 1)
    assert [
        (h.period_start, h.length, h.used_freeze, h.used_pause) for h in kai.streak_history
    ] == [
        ("2025-11-27", 1, False, False),
        ("2025-11-28", 2, False, False),
        ("2025-11-29", 2, False, True),
        ("2025-11-30", 2, False, True),
        ("2025-12-01", 3, False, False),
    ]
    assert (uta.length, uta.started, uta.expires, uta.freezes) == (3, "2025-11-26", "2025-12-01", 0)
    assert [
        (h.period_start, h.length, h.used_freeze, h.used_pause) for h in uta.streak_history
    ] == [
        ("2025-11-26", 1, False, False),
        ("2025-11-27", 2, False, False),
        ("2025-11-28", 2, True, False),
        ("2025-11-29", 2, False, True),
        ("2025-11-30", 3, False, False),
    ]
    assert kai.pauses == [] and uta.pauses == []  # pauses come from Trophy's admin API
    assert "resetAt" not in raw and raw["pauses"] == [] and raw["length"] == 3
