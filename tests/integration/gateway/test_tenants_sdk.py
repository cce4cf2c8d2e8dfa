"""Tenants end to end through Trophy's own Python SDK (`TrophyApi(tenant_id=...)` sends the
`Tenant-ID` header), against the real stack with the ranking stage: three tenants — none,
"acme" and "beta" — each have a user "18" (acme also a "19"), who write different amounts.
Every read, through each tenant's client, shows that tenant's users only: the user, metric
totals, achievements, the completions behind rarity, the streak (and `/streaks`), points and
the points summary, a leaderboard, and the event answer's totals. Expected values come from
the words sent and the rules file read with tomllib (not `schemas.rules`)."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from trophy.core.api_error import ApiError
from trophy.errors import UnprocessableEntityError

from tests.integration.gateway.conftest import Podium, eventually, start_podium
from tests.rules import WRITING_PATH

pytestmark = pytest.mark.integration
BOARD = '\n[[leaderboards]]\nkey = "top-writers"\nname = "Top writers"\nrank_by = "metric"\nmetric = "words-written"\n'  # noqa: E501
RULES = tomllib.loads(WRITING_PATH.read_text())
WORDS: dict[str | None, dict[str, int]] = {  # tenant -> user -> words written
    None: {"18": 100},
    "acme": {"18": 20_000, "19": 150},
    "beta": {"18": 5},
}


def word_achievements(words: int) -> set[str]:
    """The words-written achievements (no attribute filter) a total completes."""
    return {
        a["key"]
        for a in RULES["achievements"]
        if a["trigger"] == "metric"
        and a["metric"] == "words-written"
        and "user_attributes" not in a
        and a["value"] <= words
    }


def xp(words: int) -> int:
    """The xp of a user who wrote `words` in one event: the welcome, every whole 500 words,
    and the novella achievement's bonus (no boost is active today: the rules' is in 2026-01)."""
    system = next(s for s in RULES["points"] if s["key"] == "xp")
    triggers = {t["key"]: t for t in system["triggers"]}
    total = triggers["welcome"]["points"]
    total += words // triggers["per-500-words"]["threshold"] * triggers["per-500-words"]["points"]
    if "novella" in word_achievements(words):
        total += triggers["novella"]["points"]
    return total


def streak_length(words: int) -> int:
    need = next(t["value"] for t in RULES["streak"]["thresholds"] if t["metric"] == "words-written")
    return 1 if words >= need else 0


def read_user(trophy: Any, uid: str, words: int) -> None:
    """The user as the tenant's client reads it: its own totals and everything from them."""
    assert trophy.users.get(uid).id == uid
    assert trophy.users.single_metric(uid, "words-written").current == words
    done = {a.id for a in trophy.users.achievements(id=uid)}
    assert done & word_achievements(10**9) == word_achievements(words)
    assert trophy.users.streak(uid).length == streak_length(words)
    assert trophy.users.points(uid, "xp").total == xp(words)


@pytest.fixture(scope="module")
def podium(
    kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Podium]:
    with ExitStack() as stack:
        home = tmp_path_factory.mktemp("podium-tenants")
        rules = Path(home / "rules.toml")
        rules.write_text(WRITING_PATH.read_text() + BOARD)
        pod = start_podium(kafka_bootstrap, redis_url, home, rules=rules)
        stack.callback(pod.stop)
        pod.start_ranker()
        yield pod
        pod.check_alive()


@pytest.fixture(scope="module")
def played(podium: Podium) -> dict[tuple[str | None, str], Any]:
    answers = {}
    for tenant, users in WORDS.items():
        trophy = podium.trophy(tenant=tenant)
        for uid, words in users.items():
            out = trophy.metrics.event(key="words-written", user={"id": uid}, value=words)
            answers[(tenant, uid)] = out
    return answers


def test_each_event_answer_counts_its_tenants_user_only(
    played: dict[tuple[str | None, str], Any],
) -> None:
    for (tenant, uid), out in played.items():
        words = WORDS[tenant][uid]
        assert out.total == words, (tenant, uid)
        assert {a.id for a in out.achievements} >= word_achievements(words)


def test_users_totals_achievements_streaks_and_points_stay_apart(
    podium: Podium, played: dict[tuple[str | None, str], Any]
) -> None:
    for tenant, users in WORDS.items():
        trophy = podium.trophy(tenant=tenant)
        for uid, words in users.items():
            eventually(partial(read_user, trophy, uid, words), within=20)
        streaks = {s.user_id: s.streak_length for s in trophy.streaks.list(user_ids=["18", "19"])}
        # an id the tenant does not know answers 0 (as Trophy's bulk read does)
        assert streaks == {u: streak_length(users.get(u, 0)) for u in ("18", "19")}, tenant
    for tenant, uid in (("beta", "19"), (None, "19"), ("gamma", "18")):  # others' users only
        with pytest.raises(ApiError) as err:
            podium.trophy(tenant=tenant).users.get(uid)
        assert err.value.status_code == 404, (tenant, uid)


def test_completions_and_the_points_summary_count_the_tenants_users(
    podium: Podium, played: dict[tuple[str | None, str], Any]
) -> None:
    for tenant, users in WORDS.items():
        trophy = podium.trophy(tenant=tenant)
        stats = {a.id: a for a in trophy.achievements.all_()}
        for key in ("first-words", "novella"):
            done = sum(1 for w in users.values() if key in word_achievements(w))
            assert stats[key].completions == done, (tenant, key)
            assert stats[key].rarity == pytest.approx(100 * done / len(users)), (tenant, key)
        ranges = trophy.points.summary(key="xp")
        assert sum(r.users for r in ranges) == len(users), tenant


def test_a_leaderboard_ranks_each_tenants_users_among_themselves(
    podium: Podium, played: dict[tuple[str | None, str], Any]
) -> None:
    for tenant, users in WORDS.items():
        trophy = podium.trophy(tenant=tenant)
        want = sorted(users, key=lambda u: -users[u])

        def ranked(trophy: Any = trophy, want: list[str] = want) -> None:
            board = trophy.leaderboards.get("top-writers")
            assert [(r.user_id, r.rank) for r in board.rankings] == [
                (u, i + 1) for i, u in enumerate(want)
            ]

        eventually(ranked, within=30)
        mine = trophy.users.leaderboard("18", "top-writers")
        assert mine.rank == want.index("18") + 1, tenant


def test_a_user_id_holding_u0000_is_refused(podium: Podium) -> None:
    with pytest.raises(UnprocessableEntityError) as err:
        podium.trophy().metrics.event(key="words-written", user={"id": "acme\x0018"}, value=1)
    assert "U+0000" in str(err.value.body)
