"""Streak days off on the real stack (broker, worker, projector, gateway), read through
Trophy's own SDK: `usedPause` on the paused periods, the length kept over a weekend off.

The rules are `tests/rules/writing.toml` (100 words a day; 1 freeze, +1 every 7 days from
the first day) with Saturday and Sunday off. Events go straight to `podium.events` with their
own times (`ingest.client.EventClient`). March 2026: Wednesday the 4th, Thursday the 5th,
Friday the 6th, Saturday the 7th, Sunday the 8th, Monday the 9th. The expected figures are
worked out by hand from a calendar."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.client import EventClient
from schemas.rules_parse import load_rules
from tests.integration.gateway.conftest import Podium, eventually, start_podium
from tests.rules import WRITING_PATH

pytestmark = pytest.mark.integration

KAI = {"id": "kai", "tz": "Pacific/Kiritimati"}  # UTC+14: noon UTC is 02:00 the next day
UTA = {"id": "uta", "tz": "UTC"}
TIMES = ["2026-03-04T12:00:00", "2026-03-05T12:00:00", "2026-03-08T12:00:00"]  # UTC


@pytest.fixture(scope="module")
def rules_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rules") / "weekend-off.toml"
    text = WRITING_PATH.read_text()
    path.write_text(text.replace("history_periods = 30", "history_periods = 30\ndays_off = [0, 6]"))
    return path


@pytest.fixture(scope="module")
def podium(
    kafka_bootstrap: str,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    rules_path: Path,
) -> Iterator[Podium]:
    with ExitStack() as stack:
        home = tmp_path_factory.mktemp("podium-days-off")
        pod = start_podium(kafka_bootstrap, redis_url, home, rules=rules_path)
        stack.callback(pod.stop)
        yield pod
        pod.check_alive()


def _ms(utc: str) -> int:
    return int(datetime.fromisoformat(utc).replace(tzinfo=UTC).timestamp() * 1000)


def test_a_weekend_off_pauses_the_streak_in_each_users_own_week(
    podium: Podium, rules_path: Path
) -> None:
    """Kiritimati: Thursday, Friday, Monday (the weekend pauses). UTC: Wednesday, Thursday,
    Sunday (Friday is missed and frozen, Saturday pauses, Sunday extends)."""
    rules = load_rules(rules_path)
    assert rules.streak is not None and rules.streak.days_off == {0, 6}

    async def send() -> None:
        async with EventClient(podium.bootstrap, rules, podium.prefix) as client:
            for when in TIMES:
                for user in (KAI, UTA):
                    await client.send("words-written", user, 100, time_ms=_ms(when))

    asyncio.run(send())
    trophy = podium.trophy()

    def projected() -> None:
        for uid in ("kai", "uta"):
            assert trophy.users.single_metric(id=uid, key="words-written").current == 300

    eventually(projected, within=20)
    kai = trophy.users.streak(id="kai", history_periods=5)
    assert (kai.length, kai.started, kai.freezes) == (3, "2026-03-05", 1)
    assert [
        (h.period_start, h.length, h.used_freeze, h.used_pause) for h in kai.streak_history
    ] == [
        ("2026-03-05", 1, False, False),
        ("2026-03-06", 2, False, False),
        ("2026-03-07", 2, False, True),
        ("2026-03-08", 2, False, True),
        ("2026-03-09", 3, False, False),
    ]
    uta = trophy.users.streak(id="uta", history_periods=5)
    assert (uta.length, uta.started, uta.freezes) == (3, "2026-03-04", 0)
    assert [
        (h.period_start, h.length, h.used_freeze, h.used_pause) for h in uta.streak_history
    ] == [
        ("2026-03-04", 1, False, False),
        ("2026-03-05", 2, False, False),
        ("2026-03-06", 2, True, False),
        ("2026-03-07", 2, False, True),
        ("2026-03-08", 3, False, False),
    ]
    assert kai.pauses == [] and uta.pauses == []
    lengths = {s.user_id: s.streak_length for s in trophy.streaks.list(user_ids=["kai", "uta"])}
    assert lengths == {"kai": 3, "uta": 3}
